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


def exporter_now() -> str:
    """The exporter's clock at its latest scrape, per target (``instance:heartbeat_fleet_time_
    seconds:max`` of alerts/heartbeat-rules.yml, without needing the rules loaded).

    An exporter too old to export ``heartbeat_fleet_time_seconds`` falls back to its scrape's
    time, as the rules do.
    """
    return (
        f"(max by (job, instance) ({selector('heartbeat_fleet_time_seconds')}) or "
        f"max by (job, instance) (timestamp({selector('heartbeat_fleet_database_up')})))"
    )


def seconds_since(metric: str, by: str | None = "console_id", **matchers: str) -> str:
    """Seconds from the timestamp gauge ``metric`` to the exporter's now, on the exporter's clock
    (never Prometheus's ``time()``), per ``by`` (one series if None); the freshest replica wins."""
    grouping = f" by ({by})" if by else ""
    return (
        f"min{grouping} ({exporter_now()} - on (job, instance) group_right () "
        f"{selector(metric, **matchers)})"
    )


def maintenance_seconds_left(**matchers: str) -> str:
    """Seconds left of each console's maintenance window on the exporter's clock, present only
    while it lasts (``console_id:heartbeat_fleet_console_maintenance_seconds_left:max``)."""
    until = selector("heartbeat_fleet_console_maintenance_until_timestamp_seconds", **matchers)
    return f"max by (console_id) ({until} - on (job, instance) group_left () {exporter_now()}) > 0"
