"""Hand-rendered exposition text for the per-console fleet families (the bulk of ``/metrics``).

``prometheus_client`` builds a Python object per sample and formats it generically; at 100,000
consoles (about 1.2 million samples) that costs seconds. This module writes the same families
directly, one pre-built template per line, and keeps each console's lines per family between
scrapes, so a scrape renders only the consoles that changed (:mod:`exporter.fleet.snapshot`
finds them) and re-joins only the families whose text changed. It produces exactly the families
:class:`exporter.fleet.reference_collector.ConsoleFamiliesCollector` describes: the tests parse
both with ``prometheus_client.parser`` and compare them, and run ``promtool check metrics`` on the
output.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from operator import itemgetter

from consola_wire import ALL_STATES
from exporter.fleet.names import PREFIX
from exporter.storage.records import FleetRow

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
        "console_maintenance_until_timestamp_seconds",
        "gauge",
        "End of the console's maintenance window, Unix seconds; present only while it lasts.",
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


#: The ``# HELP`` and ``# TYPE`` lines of each family, in FAMILIES order.
HEADERS = tuple(_header(name, kind, help_text) for name, kind, help_text in FAMILIES)

#: A piece of the exposition and a key that identifies its content (see exporter.fleet.gzip_pieces).
Piece = tuple[int, bytes]
_versions = itertools.count(1)


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


def _last_seen(row: FleetRow, video_info: bool) -> str:
    return f'{PREFIX}last_seen_timestamp_seconds{{console_id="{row[0]}"}} {float(row[3])!r}\n'


def _inactive_after(row: FleetRow, video_info: bool) -> str:
    return f'{PREFIX}inactive_after_seconds{{console_id="{row[0]}"}} {float(row[4])!r}\n'


def _state(row: FleetRow, video_info: bool) -> str:
    return _STATE_LINES[row[2]].format(row[0])


def _info(row: FleetRow, video_info: bool) -> str:
    esc = escape_label_value
    return (
        f'{PREFIX}console_info{{console_id="{row[0]}",name="{esc(row[1])}",'
        f'hostname="{esc(row[9])}",platform="{esc(row[10])}",arch="{esc(row[11])}",'
        f'version="{esc(row[12])}"}} 1.0\n'
    )


def _state_since(row: FleetRow, video_info: bool) -> str:
    return f'{PREFIX}state_since_timestamp_seconds{{console_id="{row[0]}"}} {float(row[5])!r}\n'


def _client(row: FleetRow, video_info: bool) -> str:
    if row[6] is None:
        return ""
    return f'{PREFIX}client_timestamp_seconds{{console_id="{row[0]}"}} {float(row[6])!r}\n'


def _stopped(row: FleetRow, video_info: bool) -> str:
    value = "1.0" if row[7] else "0.0"
    return f'{PREFIX}console_stopped_cleanly{{console_id="{row[0]}"}} {value}\n'


def _maintenance(row: FleetRow, video_info: bool) -> str:
    if row[13] is None:
        return ""
    return (
        f'{PREFIX}console_maintenance_until_timestamp_seconds{{console_id="{row[0]}"}} '
        f"{float(row[13])!r}\n"
    )


def _video(row: FleetRow, video_info: bool) -> str:
    if not (video_info and row[8] and row[2] == "ocupada"):
        return ""
    video = escape_label_value(row[8])
    return f'{PREFIX}console_video_info{{console_id="{row[0]}",video="{video}"}} 1.0\n'


#: Per family (FAMILIES order): the function writing a console's lines ('' for none) and the
#: row columns (:data:`exporter.storage.base.FLEET_COLUMNS`) besides the id those lines show.
LINES = (
    (_last_seen, itemgetter(3)),
    (_inactive_after, itemgetter(4)),
    (_state, itemgetter(2)),
    (_info, itemgetter(1, 9, 10, 11, 12)),
    (_state_since, itemgetter(5)),
    (_client, itemgetter(6)),
    (_stopped, itemgetter(7)),
    (_maintenance, itemgetter(13)),
    (_video, itemgetter(2, 8)),
)


def render_console(row: FleetRow, video_info: bool) -> tuple[bytes, ...]:
    """The lines one console contributes to each per-console family, in FAMILIES order."""
    v = video_info
    return (
        _last_seen(row, v).encode(),
        _inactive_after(row, v).encode(),
        _state(row, v).encode(),
        _info(row, v).encode(),
        _state_since(row, v).encode(),
        _client(row, v).encode(),
        _stopped(row, v).encode(),
        _maintenance(row, v).encode(),
        _video(row, v).encode(),
    )


class ConsoleFamiliesRenderer:
    """The per-console families, kept per family and per console between scrapes.

    Each family is a dict ``console id -> that console's lines`` plus its joined text. An update
    re-renders only the consoles it is given and re-joins only the families whose lines changed
    (a heartbeat changes ``last_seen`` but rarely ``console_info``). Not thread-safe: its owner
    (:class:`exporter.fleet.renderer.FleetRenderer`) serialises updates; the texts it hands out
    are immutable ``bytes``, so a scrape holding them never sees a half-updated fleet.
    """

    def __init__(self, video_info: bool = True) -> None:
        self.video_info = video_info
        self._shown = tuple(
            index
            for index, (name, _, _) in enumerate(FAMILIES)
            if video_info or name != "console_video_info"
        )
        self._lines: list[dict[str, bytes]] = [{} for _ in FAMILIES]
        self._texts: list[Piece] = [(next(_versions), header) for header in HEADERS]
        self._dirty: set[int] = set()

    def update(
        self, changed: Iterable[tuple[FleetRow | None, FleetRow]], removed: Iterable[str] = ()
    ) -> None:
        """Apply ``(old row or None, new row)`` pairs and drop the consoles in ``removed``.

        Only the families showing a column that differs from ``old`` are re-rendered (a
        heartbeat usually changes ``last_seen`` and the client's timestamp alone).
        """
        families, dirty, video_info = self._lines, self._dirty, self.video_info
        for cid in removed:
            for index, lines in enumerate(families):
                if lines.pop(cid, None) is not None:
                    dirty.add(index)
        for old, row in changed:
            cid = row[0]
            if old is None:  # a console not shown yet: every family
                for lines, line in zip(families, render_console(row, video_info), strict=True):
                    if line:
                        lines[cid] = line
                dirty.update(range(len(families)))
                continue
            for index, (render, shown) in enumerate(LINES):
                if shown(old) == shown(row):
                    continue
                line = render(row, video_info).encode()
                if line:
                    families[index][cid] = line
                else:
                    families[index].pop(cid, None)
                dirty.add(index)

    def pieces(self) -> list[Piece]:
        """Each family's text (header included) with a key that changes when the text does."""
        for index in self._dirty:
            text = b"".join([HEADERS[index], *self._lines[index].values()])
            self._texts[index] = (next(_versions), text)
        self._dirty.clear()
        return [self._texts[index] for index in self._shown]

    def render(self, rows: Iterable[FleetRow]) -> bytes:
        """The per-console families for exactly ``rows`` as exposition text."""
        return b"".join(text for _, text in self.render_pieces(rows))

    def render_pieces(self, rows: Iterable[FleetRow]) -> list[Piece]:
        """Like :meth:`render`, as keyed pieces: the consoles not in ``rows`` are dropped."""
        rows = list(rows)
        present = {row[0] for row in rows}
        removed = [cid for cid in self._lines[0] if cid not in present]
        self.update([(None, row) for row in rows], removed)
        return self.pieces()
