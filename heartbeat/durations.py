"""Durations as an operator types them: ``90m``, ``2h``, ``1h30m``, ``45s``, ``1d``.

Strict: days, hours, minutes and seconds in that order, each at most once, lower-case units,
ASCII digits, no spaces, no bare numbers (``90`` could mean anything), and longer than zero.
"""

from __future__ import annotations

import re

#: Unit letters and their seconds, in the order they must appear.
UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
EXAMPLES = "90m, 2h, 1h30m, 45s, 1d"
_PATTERN = re.compile("".join(rf"(?:([0-9]{{1,9}}){unit})?" for unit, _ in UNITS))


class DurationError(ValueError):
    """Text that is not a duration; the message quotes it and shows the accepted forms."""


def parse_duration(text: str) -> int:
    """Seconds in ``text`` (e.g. ``1h30m`` → 5400); :class:`DurationError` otherwise."""
    match = _PATTERN.fullmatch(text)
    if not text or match is None:
        raise DurationError(f"{text!r} is not a duration (use e.g. {EXAMPLES})")
    seconds = sum(
        int(amount) * size
        for amount, (_, size) in zip(match.groups(), UNITS, strict=True)
        if amount is not None
    )
    if seconds <= 0:
        raise DurationError(f"{text!r} is no time at all: a duration must be longer than 0")
    return seconds
