"""The demo's live view: the fleet table, firing alerts and a log of transitions.

On a terminal the screen is redrawn in place (ANSI); otherwise (a pipe, a CI log) each new log
line is printed as it happens, plus a one-line summary every few seconds.
"""

from __future__ import annotations

import shutil
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from consola_wire import STATE_INACTIVA
from heartbeat.status import ConsoleRow, render_table, rows_for, summary_line

LOG_LINES = 14
PLAIN_SUMMARY_EVERY_SECONDS = 5.0
_HOME = "\x1b[H"
_CLEAR_EOL = "\x1b[K"
_CLEAR_BELOW = "\x1b[J"
_RED = "\x1b[1;31m"
_DIM = "\x1b[2m"
_RESET = "\x1b[0m"


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns (a wrapped line would break the in-place redraw)."""
    return text if len(text) <= width else text[: width - 1] + "…"


def alert_key(alert: Mapping[str, Any]) -> tuple[str, str]:
    """(alert name, what it is about) of a Prometheus alert."""
    labels = alert.get("labels", {})
    subject = labels.get("name") or labels.get("console_id") or labels.get("instance") or ""
    return str(labels.get("alertname", "?")), str(subject)


class FleetView:
    """Keeps the last fleet and alerts, notices transitions, and draws."""

    def __init__(
        self,
        out: TextIO,
        header: Sequence[str],
        *,
        tty: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.out = out
        self.header = list(header)
        self.tty = tty
        self.clock = clock
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self.rows: list[ConsoleRow] = []
        self.states: dict[str, str] = {}
        self.firing: set[tuple[str, str]] = set()
        self.api_error: str | None = None
        self._last_summary = 0.0
        self._drawn = False

    def note(self, text: str) -> None:
        """Add a line to the log (printed at once in plain mode)."""
        line = f"{time.strftime('%H:%M:%S', time.localtime(self.clock()))}  {text}"
        self.log.append(line)
        if not self.tty:
            self.out.write(line + "\n")
            self.out.flush()

    def update_fleet(self, consoles: Sequence[Mapping[str, Any]]) -> None:
        """A fresh read of ``GET /api/consolas``: log registrations and state changes."""
        self.api_error = None
        self.rows = rows_for(consoles, self.clock())
        for row in self.rows:
            key = str(row.data.get("id"))
            name = str(row.data.get("nombre", key))
            before = self.states.get(key)
            if before is None:
                self.note(f"➕ {name} registrada ({row.estado})")
            elif before != row.estado:
                extra = ""
                if row.estado == STATE_INACTIVA:
                    extra = "  ← SILENT: no goodbye" if row.silent else "  (goodbye)"
                elif row.estado == "error" and isinstance(row.data.get("ultimoError"), Mapping):
                    extra = f"  ({row.data['ultimoError'].get('message', '')})"
                self.note(f"🔄 {name}: {before} → {row.estado}{extra}")
            self.states[key] = row.estado

    def fleet_unavailable(self, message: str) -> None:
        """The API did not answer this time."""
        self.api_error = message

    def update_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """Prometheus's alerts: log each one that starts or stops firing."""
        firing = {alert_key(a) for a in alerts if a.get("state") == "firing"}
        for name, subject in sorted(firing - self.firing):
            self.note(f"🚨 alert firing: {name}" + (f" ({subject})" if subject else ""))
        for name, subject in sorted(self.firing - firing):
            self.note(f"✅ alert resolved: {name}" + (f" ({subject})" if subject else ""))
        self.firing = firing

    def draw(self) -> None:
        """Redraw the screen (terminal) or print a periodic summary (plain)."""
        if not self.tty:
            now = self.clock()
            if now - self._last_summary >= PLAIN_SUMMARY_EVERY_SECONDS and self.rows:
                self._last_summary = now
                silent = [str(r.data.get("nombre")) for r in self.rows if r.silent]
                tail = f" — silent: {', '.join(silent)}" if silent else ""
                self.out.write(f"   {summary_line(self.rows)}{tail}\n")
                self.out.flush()
            return
        size = shutil.get_terminal_size()
        lines = self.frame(size.columns, size.lines).split("\n")
        # Home, overwrite each line and clear its rest, then clear below: no flicker.
        first = "" if self._drawn else "\x1b[2J"
        self._drawn = True
        body = "".join(line + _CLEAR_EOL + "\n" for line in lines)
        self.out.write(first + _HOME + body + _CLEAR_BELOW)
        self.out.flush()

    def frame(self, width: int = 200, height: int = 60) -> str:
        """The whole screen as text, fitted to ``width`` x ``height`` (silent consoles in red)."""
        width = max(width, 20)
        top = [*self.header, ""]
        if self.api_error:
            top.append(_RED + _fit(f"API: {self.api_error}", width) + _RESET)
        table: list[str] = []
        if self.rows:
            for line in render_table(self.rows).splitlines():
                fitted = _fit(line, width)
                table.append(_RED + fitted + _RESET if line.startswith("SILENT") else fitted)
            table.append(summary_line(self.rows))
        else:
            table.append("waiting for consoles to register…")
        alerts: list[str] = []
        if self.firing:
            alerts = ["", "Alerts firing (Prometheus):"]
            alerts += [f"  🚨 {n}" + (f" ({s})" if s else "") for n, s in sorted(self.firing)]
        footer = ["", _DIM + "Ctrl-C stops everything cleanly." + _RESET]
        room = height - 1 - len(top) - len(alerts) - len(footer) - 2
        if len(table) > room - 5:  # keep 5 log lines: cut the table, silent ones stay on top
            keep = max(room - 7, 2)
            table = [*table[:keep], f"… {len(table) - keep - 1} more (heartbeat status)", table[-1]]
        log_room = max(room - len(table), 1)
        entries = [_fit(f"  {entry}", width) for entry in list(self.log)[-log_room:]]
        lines = [*(_fit(line, width) for line in top), *table, *alerts]
        return "\n".join([*lines, "", "Log:", *entries, *footer])

    def print_table(self) -> None:
        """The current table once (plain output, e.g. at the end)."""
        if self.rows:
            self.out.write(render_table(self.rows) + "\n" + summary_line(self.rows) + "\n")
            self.out.flush()
