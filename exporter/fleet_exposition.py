"""Hand-rendered exposition text for the per-console fleet families (the bulk of ``/metrics``).

``prometheus_client`` builds a Python object per sample and formats it generically; at 100,000
consoles (about 1.2 million samples) that costs seconds. This module writes the same families
directly: one pass over the rows, one pre-built template per line, and each console's lines
reused while its row is unchanged. It produces exactly the families
:class:`exporter.fleet_metrics.ConsoleFamiliesCollector` describes: the tests parse both with
``prometheus_client.parser`` and compare them, and run ``promtool check metrics`` on the output.
"""

from __future__ import annotations

from collections.abc import Iterable

from consola_wire import ALL_STATES
from exporter.storage.base import FleetRow

PREFIX = "heartbeat_fleet_"

#: (name, type, help) of each per-console family, in output order.
FAMILIES: tuple[tuple[str, str, str], ...] = (
    (
        "last_seen_timestamp_seconds",
        "gauge",
        "Server receive time of the console's last registration or heartbeat, Unix seconds.",
    ),
    (
        "inactive_after_seconds",
        "gauge",
        "Silence threshold that applies to the console, in seconds.",
    ),
    (
        "console_state",
        "gauge",
        "Current state of the console: 1 for its state, 0 for the other four.",
    ),
    (
        "console_info",
        "gauge",
        "Identity of the console (version is the runtime version it reports).",
    ),
    (
        "state_since_timestamp_seconds",
        "gauge",
        "Server time the console entered its current state or started its video, Unix seconds.",
    ),
    (
        "client_timestamp_seconds",
        "gauge",
        "The console's own ultimaActividad from its last report, Unix seconds.",
    ),
    (
        "console_stopped_cleanly",
        "gauge",
        "1 when the console's current inactiva state came from its own goodbye, else 0.",
    ),
    (
        "console_video_info",
        "gauge",
        "The video the console is processing, present only while it is ocupada.",
    ),
)


def escape_label_value(value: str) -> str:
    """Escape a label value for the text format (backslash, double quote, line feed)."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _header(name: str, kind: str, help_text: str) -> bytes:
    return f"# HELP {PREFIX}{name} {help_text}\n# TYPE {PREFIX}{name} {kind}\n".encode()


def _state_templates() -> dict[str, str]:
    """Per current state, the five ``console_state`` lines with ``{0}`` for the console id."""
    templates = {}
    for current in ALL_STATES:
        templates[current] = "".join(
            f'{PREFIX}console_state{{{{console_id="{{0}}",state="{state}"}}}} '
            f"{'1.0' if state == current else '0.0'}\n"
            for state in ALL_STATES
        )
    return templates


_STATE_LINES = _state_templates()


_Fragments = tuple[bytes, bytes, bytes, bytes, bytes, bytes, bytes, bytes]


def render_console(row: FleetRow, video_info: bool) -> _Fragments:
    """The lines one console contributes to each per-console family, in FAMILIES order."""
    (cid, nombre, estado, seen, threshold, state_since, actividad, clean, video_name,
     hostname, platform, arch, version) = row  # fmt: skip
    esc = escape_label_value
    label = f'{{console_id="{cid}"}} '
    video = ""
    if video_info and video_name and estado == "ocupada":
        video = f'{PREFIX}console_video_info{{console_id="{cid}",video="{esc(video_name)}"}} 1.0\n'
    lines = (
        f"{PREFIX}last_seen_timestamp_seconds{label}{float(seen)!r}\n",
        f"{PREFIX}inactive_after_seconds{label}{float(threshold)!r}\n",
        _STATE_LINES[estado].format(cid),
        f'{PREFIX}console_info{{console_id="{cid}",name="{esc(nombre)}",'
        f'hostname="{esc(hostname)}",platform="{esc(platform)}",arch="{esc(arch)}",'
        f'version="{esc(version)}"}} 1.0\n',
        f"{PREFIX}state_since_timestamp_seconds{label}{float(state_since)!r}\n",
        f"{PREFIX}client_timestamp_seconds{label}{float(actividad)!r}\n"
        if actividad is not None
        else "",
        f"{PREFIX}console_stopped_cleanly{label}{'1.0' if clean else '0.0'}\n",
        video,
    )
    return tuple(line.encode() for line in lines)  # type: ignore[return-value]


class ConsoleFamiliesRenderer:
    """Renders the per-console families, reusing each console's lines while its row is unchanged.

    Between two scrapes most consoles have not reported (they beat every few minutes), so their
    lines are taken from the previous scrape after one tuple comparison. Each call builds a new
    cache and swaps it in whole, so concurrent scrapes never see a half-built one.
    """

    def __init__(self, video_info: bool = True) -> None:
        self.video_info = video_info
        self._cache: dict[str, tuple[FleetRow, _Fragments]] = {}

    def render(self, rows: Iterable[FleetRow]) -> bytes:
        """The per-console families for ``rows`` as exposition text (headers always present)."""
        return b"".join(self.render_pieces(rows))

    def render_pieces(self, rows: Iterable[FleetRow]) -> list[bytes]:
        """Like :meth:`render`, as the pieces to join: at 100,000 consoles the text is over
        100 MiB, and joining once (with whatever follows it) saves copying it twice more."""
        previous = self._cache
        cache: dict[str, tuple[FleetRow, _Fragments]] = {}
        fragments: list[_Fragments] = []
        keep = fragments.append
        video_info = self.video_info
        for row in rows:
            cid = row[0]
            entry = previous.get(cid)
            if entry is None or entry[0] != row:
                entry = (row, render_console(row, video_info))
            cache[cid] = entry
            keep(entry[1])
        self._cache = cache
        out: list[bytes] = []
        for index, (name, kind, help_text) in enumerate(FAMILIES):
            if name == "console_video_info" and not video_info:
                continue
            out.append(_header(name, kind, help_text))
            out.extend([f[index] for f in fragments])
        return out


def render_console_families(rows: Iterable[FleetRow], video_info: bool = True) -> bytes:
    """One-off rendering without a cache (see :class:`ConsoleFamiliesRenderer`)."""
    return ConsoleFamiliesRenderer(video_info).render(rows)
