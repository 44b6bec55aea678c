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
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function localTime(t) {
    var d = new Date(t), today = new Date(now());
    var time = pad(d.getHours()) + ":" + pad(d.getMinutes());
    if (d.toDateString() === today.toDateString()) { return time; }
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + time;
  }
  function maintenanceUntil(c) {
    var t = parseTime(c.mantenimientoHasta);
    return t !== null && t > now() ? t : null;
  }
  function maintenanceText(c) {
    var t = maintenanceUntil(c);
    return t === null ? "" : "mantenimiento hasta " + localTime(t);
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
    var serviced = rows.filter(function (r) { return r.maintenance; }).length;
    var items = [el("li", "chip", rows.length + " consolas")];
    if (silent) { items.push(el("li", "chip silent-count", silent + " sin señal")); }
    if (serviced) {
      items.push(el("li", "chip maintenance-count", serviced + " en mantenimiento"));
    }
    ["activa", "ocupada", "esperando", "error", "inactiva"].forEach(function (estado) {
      if (counts[estado]) { items.push(el("li", "chip", counts[estado] + " " + estado)); }
    });
    $("summary").replaceChildren.apply($("summary"), items);
    document.title = (silent ? "(" + silent + ") " : "") + "Consolas — estado";
  }

  function renderFleet(consoles) {
    var rows = consoles.map(function (c) {
      var maintenance = maintenanceUntil(c) !== null;
      return { c: c, maintenance: maintenance, silent: !maintenance && isSilent(c) };
    });
    rows.sort(function (a, b) {
      if (a.silent !== b.silent) { return a.silent ? -1 : 1; }
      if (a.maintenance !== b.maintenance) { return a.maintenance ? -1 : 1; }
      var ai = a.c.estado === "inactiva", bi = b.c.estado === "inactiva";
      if (ai !== bi) { return ai ? -1 : 1; }
      return String(a.c.nombre).localeCompare(String(b.c.nombre)) ||
        String(a.c.id).localeCompare(String(b.c.id));
    });
    var body = document.createDocumentFragment();
    rows.forEach(function (r) {
      var c = r.c;
      var tr = el("tr", "estado-" + c.estado + (r.silent ? " silent" : "") +
        (r.maintenance ? " maintenance" : ""));
      tr.dataset.consoleId = c.id;
      tr.dataset.estado = c.estado;
      var state = el("span");
      state.append(stateBadge(c.estado));
      if (r.silent) { state.append(el("span", "badge", "SIN SEÑAL")); }
      if (r.maintenance) { state.append(el("span", "badge maint", "MANTENIMIENTO")); }
      var link = el("a", "name", c.nombre);
      link.href = "#consola/" + encodeURIComponent(c.id);
      link.title = c.id;
      var work = el("span");
      if (r.maintenance) {
        var until = el("div", "maint-until", maintenanceText(c));
        if (c.mantenimientoMotivo) { until.title = c.mantenimientoMotivo; }
        work.append(until);
        if (c.mantenimientoMotivo) {
          work.append(el("div", "maint-reason", c.mantenimientoMotivo));
        }
      }
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
      ["Mantenimiento", maintenanceUntil(c) === null ? "—" : maintenanceText(c) +
        (c.mantenimientoMotivo ? " — " + c.mantenimientoMotivo : "")],
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
