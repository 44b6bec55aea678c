"""PromQL building blocks shared by the dashboards: filtered selectors and the state code."""

from __future__ import annotations

from consola_wire import ALL_STATES

#: The job/instance filter every selector carries (the dashboards' ``job``/``instance`` variables).
JOB_INSTANCE = 'job=~"$job", instance=~"$instance"'

#: Numeric code of each state in panels that draw one series per console (0 = no state known).
STATE_CODES: dict[str, int] = {state: index + 1 for index, state in enumerate(ALL_STATES)}

#: Colour of each state, everywhere a state is drawn.
STATE_COLORS: dict[str, str] = {
    "activa": "green",
    "ocupada": "blue",
    "esperando": "yellow",
    "error": "red",
    "inactiva": "dark-red",
}

#: The rate window every counter is read through.
RATE_INTERVAL = "$__rate_interval"


def selector(metric: str, **matchers: str) -> str:
    """``metric{job=~"$job", instance=~"$instance", k="v", ...}`` (equality matchers)."""
    extra = "".join(f', {key}="{value}"' for key, value in matchers.items())
    return f"{metric}{{{JOB_INSTANCE}{extra}}}"


def rate(metric: str, **matchers: str) -> str:
    """``rate(<selector>[$__rate_interval])``: the only way a counter is read."""
    return f"rate({selector(metric, **matchers)}[{RATE_INTERVAL}])"


def state_code(metric: str, by: str, **matchers: str) -> str:
    """One series per ``by`` labels whose value is the ``STATE_CODES`` code of the current state.

    Each 0/1 state series is multiplied by its state's code; ``max`` keeps the code of the state
    valued 1 (0 when none is).
    """
    terms = " or ".join(
        f"{selector(metric, state=state, **matchers)} * {code}"
        for state, code in STATE_CODES.items()
    )
    return f"max by ({by}) ({terms})"
