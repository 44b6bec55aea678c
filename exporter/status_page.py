"""``/``: the fleet's status page (the seed's "Dashboard web").

One self-contained HTML document (inline CSS and JavaScript, no build step, no external assets)
that reads the JSON API with ``fetch()`` and redraws the table in place every few seconds
(``/?refresh=SECONDS``, default 5). Silent consoles come first and are marked; each console links
to a small history view (``/#consola/<id>``, from ``/api/consolas/{id}/historial``). All text
from the API is inserted with ``textContent``, never as HTML, and a Content-Security-Policy that
allows only this page's own script and style (by hash) and same-origin requests backs that up.
"""

from __future__ import annotations

import base64
import hashlib

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

STYLE = """
:root { color-scheme: light dark; --bg: #fff; --fg: #1b1f24; --muted: #667085; --line: #e4e7ec;
  --silent-bg: #fde8e8; --silent-fg: #9b1c1c; --card: #f8f9fb; }
@media (prefers-color-scheme: dark) { :root { --bg: #111418; --fg: #e6e8eb; --muted: #98a2b3;
  --line: #2a2f36; --silent-bg: #3b1214; --silent-fg: #fca5a5; --card: #181c21; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  background: var(--bg); color: var(--fg); }
header, main, footer { max-width: 1100px; margin: 0 auto; padding: 12px 16px; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 8px 16px; }
h1 { font-size: 1.3rem; margin: 0; }
h2 { font-size: 1.1rem; margin: 0 0 8px; }
.muted { color: var(--muted); font-size: .9em; }
#summary { display: flex; flex-wrap: wrap; gap: 6px; margin: 0; padding: 0; list-style: none; }
.chip { border-radius: 999px; padding: 2px 10px; background: var(--card);
  border: 1px solid var(--line); font-size: .9em; white-space: nowrap; }
.chip.silent-count { background: var(--silent-bg); color: var(--silent-fg); font-weight: 600; }
#problem { background: var(--silent-bg); color: var(--silent-fg); padding: 8px 12px;
  border-radius: 6px; margin-bottom: 10px; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 7px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; overflow-wrap: anywhere; }
th { font-size: .8em; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.estado { display: inline-block; min-width: 6.5em; padding: 1px 8px; border-radius: 4px;
  font-weight: 600; font-size: .9em; text-align: center; color: #fff; background: #667085; }
.estado.activa { background: #15803d; } .estado.ocupada { background: #1d4ed8; }
.estado.esperando { background: #64748b; } .estado.error { background: #c2410c; }
.estado.inactiva { background: #374151; }
tr.silent { background: var(--silent-bg); color: var(--silent-fg); }
tr.silent td:first-child { border-left: 5px solid #dc2626; }
.badge { display: inline-block; margin-left: 6px; padding: 0 6px; border-radius: 4px;
  background: #dc2626; color: #fff; font-size: .75em; font-weight: 700; }
.err { color: #c2410c; }
a { color: inherit; }
#history dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px;
  margin: 0 0 12px; }
#history dt { color: var(--muted); }
#history dd { margin: 0; overflow-wrap: anywhere; }
footer { font-size: .85em; color: var(--muted); }
@media (max-width: 640px) {
  thead { display: none; }
  table, tbody, tr, td { display: block; width: 100%; }
  tr { border: 1px solid var(--line); border-radius: 8px; margin-bottom: 10px; padding: 4px 0;
    background: var(--card); }
  tr.silent { background: var(--silent-bg); border-left: 5px solid #dc2626; }
  tr.silent td:first-child { border-left: 0; }
  td { border: 0; padding: 3px 12px; }
  td[data-label]::before { content: attr(data-label) ": "; color: var(--muted); font-size: .85em; }
}
"""

SCRIPT = r"""
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var refreshSeconds = Math.max(1, Number(params.get("refresh")) || 5);
  var offsetMs = 0;
  var timer = null;
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function cell(label, child) {
    var td = el("td");
    if (label) { td.setAttribute("data-label", label); }
    if (child !== undefined) { td.append(child); }
    return td;
  }
  function now() { return Date.now() + offsetMs; }
  function parseTime(text) { var t = Date.parse(text); return isNaN(t) ? null : t; }
  function ago(text) {
    var t = parseTime(text);
    if (t === null) { return "nunca"; }
    var s = Math.max(0, Math.round((now() - t) / 1000));
    if (s < 60) { return "hace " + s + " s"; }
    if (s < 3600) { return "hace " + Math.floor(s / 60) + " min"; }
    if (s < 86400) { return "hace " + Math.floor(s / 3600) + " h"; }
    return "hace " + Math.floor(s / 86400) + " d";
  }
  function isSilent(c) {
    if (c.estado === "inactiva") { return !c.detenidaLimpiamente; }
    var seen = parseTime(c.ultimoContacto);
    return seen !== null && typeof c.umbralInactividadSegundos === "number" &&
      (now() - seen) / 1000 > c.umbralInactividadSegundos;
  }
  function stateBadge(estado) { return el("span", "estado " + estado, estado); }
  function errorText(e) {
    if (!e) { return ""; }
    if (typeof e === "string") { return e; }
    return String(e.message || e.type || JSON.stringify(e));
  }

  async function getJSON(url) {
    var response = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
    var date = parseTime(response.headers.get("Date"));
    if (date !== null && Math.abs(date - Date.now()) > 2000) { offsetMs = date - Date.now(); }
    if (!response.ok) { throw new Error(url + ": HTTP " + response.status); }
    return response.json();
  }
  function problem(message) {
    var box = $("problem");
    box.textContent = message || "";
    box.hidden = !message;
  }
  function updated() {
    $("updated").textContent = "actualizado " + new Date().toLocaleTimeString();
  }

  function renderSummary(rows) {
    var counts = {};
    rows.forEach(function (r) { counts[r.c.estado] = (counts[r.c.estado] || 0) + 1; });
    var silent = rows.filter(function (r) { return r.silent; }).length;
    var items = [el("li", "chip", rows.length + " consolas")];
    if (silent) { items.push(el("li", "chip silent-count", silent + " sin señal")); }
    ["activa", "ocupada", "esperando", "error", "inactiva"].forEach(function (estado) {
      if (counts[estado]) { items.push(el("li", "chip", counts[estado] + " " + estado)); }
    });
    $("summary").replaceChildren.apply($("summary"), items);
    document.title = (silent ? "(" + silent + ") " : "") + "Consolas — estado";
  }

  function renderFleet(consoles) {
    var rows = consoles.map(function (c) { return { c: c, silent: isSilent(c) }; });
    rows.sort(function (a, b) {
      if (a.silent !== b.silent) { return a.silent ? -1 : 1; }
      var ai = a.c.estado === "inactiva", bi = b.c.estado === "inactiva";
      if (ai !== bi) { return ai ? -1 : 1; }
      return String(a.c.nombre).localeCompare(String(b.c.nombre)) ||
        String(a.c.id).localeCompare(String(b.c.id));
    });
    var body = document.createDocumentFragment();
    rows.forEach(function (r) {
      var c = r.c;
      var tr = el("tr", "estado-" + c.estado + (r.silent ? " silent" : ""));
      tr.dataset.consoleId = c.id;
      tr.dataset.estado = c.estado;
      var state = el("span");
      state.append(stateBadge(c.estado));
      if (r.silent) { state.append(el("span", "badge", "SIN SEÑAL")); }
      var link = el("a", "name", c.nombre);
      link.href = "#consola/" + encodeURIComponent(c.id);
      link.title = c.id;
      var work = el("span");
      if (c.videoEnProceso) { work.append(el("span", "video", c.videoEnProceso)); }
      if (c.estado === "error" && c.ultimoError) {
        work.append(el("div", "err", errorText(c.ultimoError)));
      }
      if (!work.childNodes.length) { work.textContent = "—"; }
      tr.append(cell("", state), cell("Consola", link), cell("Video", work),
        cell("Último contacto", el("span", "seen", ago(c.ultimoContacto))));
      body.append(tr);
    });
    $("fleet-body").replaceChildren(body);
    $("empty").hidden = rows.length > 0;
    renderSummary(rows);
  }

  function renderHistory(consoleId, c, entries) {
    $("history-name").textContent = c.nombre;
    var facts = [["Estado", stateBadge(c.estado)], ["ID", c.id],
      ["Video", c.videoEnProceso || "—"], ["Último error", errorText(c.ultimoError) || "—"],
      ["Último contacto", ago(c.ultimoContacto) + " (" + (c.ultimoContacto || "—") + ")"],
      ["Umbral de inactividad", c.umbralInactividadSegundos + " s"],
      ["Host", (c.sistema && c.sistema.hostname) || "—"]];
    var dl = document.createDocumentFragment();
    facts.forEach(function (f) {
      var dd = el("dd");
      dd.append(f[1]);
      dl.append(el("dt", "", f[0]), dd);
    });
    $("history-facts").replaceChildren(dl);
    var body = document.createDocumentFragment();
    entries.forEach(function (h) {
      var tr = el("tr");
      var change = el("span");
      if (h.estadoAnterior) { change.append(stateBadge(h.estadoAnterior), " → "); }
      change.append(stateBadge(h.estado));
      tr.append(cell("Fecha", new Date(h.fecha).toLocaleString()), cell("Cambio", change),
        cell("Motivo", h.motivo));
      body.append(tr);
    });
    $("history-body").replaceChildren(body);
    $("history-json").href = "api/consolas/" + encodeURIComponent(consoleId) + "/historial";
  }

  function route() {
    var match = /^#consola\/(.+)$/.exec(location.hash);
    return match ? decodeURIComponent(match[1]) : null;
  }

  async function refresh() {
    clearTimeout(timer);
    var consoleId = route();
    $("fleet").hidden = consoleId !== null;
    $("history").hidden = consoleId === null;
    try {
      if (consoleId === null) {
        var page = await getJSON("api/consolas?limit=10000");
        renderFleet(page.consolas);
      } else {
        var base = "api/consolas/" + encodeURIComponent(consoleId);
        var both = await Promise.all([getJSON(base), getJSON(base + "/historial?limit=100")]);
        renderHistory(consoleId, both[0], both[1].historial);
      }
      problem("");
      updated();
    } catch (err) {
      problem("No se pudo leer el API: " + err.message + " (se reintenta)");
    }
    timer = setTimeout(refresh, refreshSeconds * 1000);
  }

  window.addEventListener("hashchange", refresh);
  $("every").textContent = "cada " + refreshSeconds + " s";
  refresh();
})();
"""

BODY = """<header>
  <h1>Consolas</h1>
  <ul id="summary"></ul>
  <span class="muted"><span id="updated">cargando…</span> · <span id="every"></span></span>
</header>
<main>
  <div id="problem" role="alert" hidden></div>
  <section id="fleet">
    <table>
      <thead>
        <tr><th>Estado</th><th>Consola</th><th>Video / error</th><th>Último contacto</th></tr>
      </thead>
      <tbody id="fleet-body"></tbody>
    </table>
    <p id="empty" class="muted" hidden>Ninguna consola registrada todavía.</p>
  </section>
  <section id="history" hidden>
    <p><a href="#">← todas las consolas</a></p>
    <h2 id="history-name"></h2>
    <dl id="history-facts"></dl>
    <table>
      <thead><tr><th>Fecha</th><th>Cambio</th><th>Motivo</th></tr></thead>
      <tbody id="history-body"></tbody>
    </table>
    <p class="muted"><a id="history-json" href="#">historial en JSON</a></p>
  </section>
</main>
<footer>
  <a href="/api/consolas">/api/consolas</a> · <a href="/metrics">/metrics</a> ·
  <a href="/openapi.json">/openapi.json</a> · gráficas en Grafana
</footer>"""

PAGE = f"""<!doctype html>
<html lang="es">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Consolas — estado</title>
<style>{STYLE}</style>
</head>
<body>
{BODY}
<script>{SCRIPT}</script>
</body>
</html>
"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


#: Only this page's own inline style and script run; requests go to this origin only.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; script-src {_sha256(SCRIPT)}; style-src {_sha256(STYLE)}; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def index(request: Request) -> Response:
    """The status page (static; the data comes from the API)."""
    return HTMLResponse(PAGE, headers=HEADERS)
