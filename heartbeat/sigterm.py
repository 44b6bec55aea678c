"""SIGTERM says goodbye (``systemctl stop``, ``docker stop`` and a pod deletion send SIGTERM).

When a service starts on the main thread and SIGTERM still has its default action, one handler
is installed for the process (every service started that way shares it). On SIGTERM it restores
the default action first, so a second SIGTERM ends the process at once; it hands every
registered console's ``inactiva`` goodbye to its sender thread (the stop path ``detener()``
uses), waits for all of them together, each bounded by its ``HEARTBEAT_STOP_TIMEOUT_SECONDS``;
then it sends SIGTERM to the process again, which ends it exactly as the default action would
have (exit status 143 in a shell, -15 for a Python parent).

A worker with a handler of its own (anything but ``SIG_DFL``, ``SIG_IGN`` included) is left
alone. The handler runs on the main thread between two bytecodes, possibly while that thread
holds a lock: nothing here takes a lock (the registry is a dict changed by atomic operations),
and the services' stop path takes only their re-entrant lock, never waits without a timeout and
does not stop the ``/metrics`` server (the process is about to end).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

from heartbeat import logs

#: Starts one console's stop (the goodbye is handed to its sender thread) and returns a callable
#: that waits for it, bounded; ``None`` when it is already stopped.
BeginStop = Callable[[], Callable[[], None] | None]

#: The consoles that say goodbye on SIGTERM, by their service.
_registered: dict[object, BeginStop] = {}
#: The process that installed the handler (a forked child inherits it, but not the consoles).
_installed_by: int | None = None


def install(owner: object, begin_stop: BeginStop) -> bool:
    """Say ``owner``'s goodbye on SIGTERM, installing the handler if SIGTERM is still ``SIG_DFL``.

    Only on the main thread (where Python runs signal handlers); returns whether ``owner`` is
    now covered. Costs two ``signal`` calls; never raises.
    """
    global _installed_by  # noqa: PLW0603
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        current = signal.getsignal(signal.SIGTERM)
        if current is _on_sigterm:
            _registered[owner] = begin_stop
            return True
        if current is not signal.SIG_DFL:
            return False  # the worker's own handler (or SIG_IGN): not ours to replace
        _registered[owner] = begin_stop  # registered first: a SIGTERM right after finds it
        _installed_by = os.getpid()
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # an embedded interpreter without signal support
        _registered.pop(owner, None)
        return False
    return True


def uninstall(owner: object) -> None:
    """Forget ``owner``; the last one out restores ``SIG_DFL`` if the handler is still ours.

    Off the main thread the handler stays; with nobody registered it acts as the default.
    """
    _registered.pop(owner, None)
    if _registered or threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except (ValueError, OSError):
        pass


def installed() -> bool:
    """Whether the library's handler is SIGTERM's handler now."""
    return signal.getsignal(signal.SIGTERM) is _on_sigterm


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Send every goodbye (bounded), then end the process as the default action would."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    try:
        if os.getpid() == _installed_by:
            _say_goodbyes()
    finally:
        os.kill(os.getpid(), signal.SIGTERM)


def _say_goodbyes() -> None:
    waits: list[Callable[[], None]] = []
    for begin_stop in list(_registered.values()):
        try:
            wait = begin_stop()
        except Exception:  # one console's failure must not cost the others their goodbye
            logs.logger.exception("❌ Error al detener el heartbeat por SIGTERM")
            continue
        if wait is not None:
            waits.append(wait)
    for wait in waits:  # all goodbyes are already on their way: the bounds overlap
        try:
            wait()
        except Exception:
            logs.logger.exception("❌ Error al detener el heartbeat por SIGTERM")
    if waits:
        logs.sigterm_goodbye()
