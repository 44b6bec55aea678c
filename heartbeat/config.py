"""Configuration: environment variables (and ``.env``), validated into a frozen dataclass.

Every variable is checked when the configuration is built; a bad value raises
:class:`ConfigError` naming the variable and the value, so a worker fails at ``iniciar()`` with
a message that says what to fix instead of misbehaving later.
"""

from __future__ import annotations

import ipaddress
import math
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from consola_wire import protocol
from consola_wire.metrics_endpoint import host_problem

#: Defaults (documented in docs/library.md).
DEFAULT_INTERVAL_MINUTES = 5.0
DEFAULT_CONSOLE_ID_FILE = ".console-id"
DEFAULT_TIMEOUT_SECONDS = 10.0
#: Outside the 9100-9999 range Prometheus has allocated to exporters (now full) and below the
#: Linux ephemeral range (32768+): it clashes with neither a known exporter nor an outgoing socket.
DEFAULT_METRICS_PORT = 29100
DEFAULT_METRICS_ADDR = "127.0.0.1"
DEFAULT_RETRY_INITIAL_SECONDS = 1.0
DEFAULT_RETRY_MAX_SECONDS = 60.0
DEFAULT_STOP_TIMEOUT_SECONDS = 3.0
DEFAULT_SETTLE_SECONDS = 0.15
DEFAULT_JITTER_RATIO = 0.1
DEFAULT_COMPRESSION = "auto"
DEFAULT_HANDLE_SIGNALS = True
#: Name of the secret file kept beside the default ``.console-id``.
DEFAULT_CONSOLE_SECRET_NAME = ".console-secret"
COMPRESSION_MODES = ("auto", "on", "off")
MAX_TOKEN_CHARS = 4096

_MIN_INTERVAL_MINUTES = protocol.MIN_INTERVAL_SECONDS / 60
_MAX_INTERVAL_MINUTES = protocol.MAX_INTERVAL_SECONDS / 60
_OFF_VALUES = {"0", "off", "false", "no", "disabled", "none"}
#: Boolean variables: on/off, like the exporter's flags (true/false, yes/no, 1/0 also accepted).
_BOOL_ON = {"1", "on", "true", "yes"}
_BOOL_OFF = {"0", "off", "false", "no"}

#: Every variable :meth:`HeartbeatConfig.from_env` reads.
ENV_VARIABLES: tuple[str, ...] = (
    "API_BASE_URL",
    "CONSOLE_ID",
    "HEARTBEAT_INTERVAL_MINUTES",
    "CONSOLE_NAME",
    "CONSOLE_ID_FILE",
    "HEARTBEAT_TIMEOUT_SECONDS",
    "HEARTBEAT_METRICS_PORT",
    "HEARTBEAT_METRICS_ADDR",
    "HEARTBEAT_METRICS_ADVERTISE",
    "HEARTBEAT_RETRY_INITIAL_SECONDS",
    "HEARTBEAT_RETRY_MAX_SECONDS",
    "HEARTBEAT_STOP_TIMEOUT_SECONDS",
    "HEARTBEAT_API_TOKEN",
    "CONSOLE_SECRET_FILE",
    "HEARTBEAT_CA_BUNDLE",
    "HEARTBEAT_COMPRESSION",
    "HEARTBEAT_HANDLE_SIGNALS",
)

#: CA certificates (a PEM file or a hashed directory) that verify the API's TLS certificate.
CA_BUNDLE_VARIABLE = "HEARTBEAT_CA_BUNDLE"

#: Shown instead of a secret's value in error messages (a secret is never printed).
REDACTED = "<redacted>"


class ConfigError(ValueError):
    """A configuration value that cannot be used: ``variable`` names it, ``value`` is the value."""

    def __init__(self, variable: str, value: object, reason: str) -> None:
        super().__init__(f"{variable}={value!r}: {reason}")
        self.variable = variable
        self.value = value
        self.reason = reason


def default_console_name() -> str:
    """The seed's default name: ``Consola <hostname>``."""
    return f"Consola {socket.gethostname()}"


@dataclass(frozen=True, slots=True)
class HeartbeatConfig:
    """All one console's heartbeat service needs; use :meth:`from_env` or build it directly."""

    api_base_url: str | None = None
    console_id: str | None = None
    interval_minutes: float = DEFAULT_INTERVAL_MINUTES
    console_name: str = field(default_factory=default_console_name)
    console_id_file: Path = Path(DEFAULT_CONSOLE_ID_FILE)
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    metrics_port: int | None = DEFAULT_METRICS_PORT
    metrics_addr: str = DEFAULT_METRICS_ADDR
    #: ``HEARTBEAT_METRICS_ADVERTISE``: the host or IP Prometheus should scrape (the ``metricas``
    #: sent to the API); None: the bind address, or the exporter's view of us when it binds all.
    metrics_advertise: str | None = None
    retry_initial_seconds: float = DEFAULT_RETRY_INITIAL_SECONDS
    retry_max_seconds: float = DEFAULT_RETRY_MAX_SECONDS
    stop_timeout_seconds: float = DEFAULT_STOP_TIMEOUT_SECONDS
    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    jitter_ratio: float = DEFAULT_JITTER_RATIO
    #: ``HEARTBEAT_API_TOKEN``: the exporter's enrollment token (never shown in ``repr``).
    api_token: str | None = field(default=None, repr=False)
    #: ``CONSOLE_SECRET_FILE``; ``None`` = beside the id file (see :attr:`secret_file`).
    console_secret_file: Path | None = None
    #: ``HEARTBEAT_CA_BUNDLE``: CA certificates (file or c_rehash'ed directory) to verify TLS.
    ca_bundle: Path | None = None
    #: ``HEARTBEAT_COMPRESSION``: ``auto`` (gzip once the server accepts it), ``on`` or ``off``.
    compression: str = DEFAULT_COMPRESSION
    #: ``HEARTBEAT_HANDLE_SIGNALS``: on SIGTERM (when the worker has no handler of its own),
    #: send the ``inactiva`` goodbye, then end the process as SIGTERM would have.
    handle_signals: bool = DEFAULT_HANDLE_SIGNALS

    def __post_init__(self) -> None:
        if self.api_base_url is not None:
            object.__setattr__(self, "api_base_url", _url("API_BASE_URL", self.api_base_url))
        if self.console_id is not None:
            object.__setattr__(self, "console_id", _uuid("CONSOLE_ID", self.console_id))
        _in_range(
            "HEARTBEAT_INTERVAL_MINUTES",
            self.interval_minutes,
            _MIN_INTERVAL_MINUTES,
            _MAX_INTERVAL_MINUTES,
        )
        _name("CONSOLE_NAME", self.console_name)
        if not str(self.console_id_file).strip():
            raise ConfigError("CONSOLE_ID_FILE", str(self.console_id_file), "must not be empty")
        object.__setattr__(self, "console_id_file", Path(self.console_id_file))
        _in_range("HEARTBEAT_TIMEOUT_SECONDS", self.timeout_seconds, 0.01, 300.0)
        if self.metrics_port is not None:
            _port("HEARTBEAT_METRICS_PORT", self.metrics_port)
        _address("HEARTBEAT_METRICS_ADDR", self.metrics_addr)
        if self.metrics_advertise is not None:
            _host("HEARTBEAT_METRICS_ADVERTISE", self.metrics_advertise)
        _in_range("HEARTBEAT_RETRY_INITIAL_SECONDS", self.retry_initial_seconds, 0.01, 3600.0)
        _in_range("HEARTBEAT_RETRY_MAX_SECONDS", self.retry_max_seconds, 0.01, 86400.0)
        if self.retry_max_seconds < self.retry_initial_seconds:
            raise ConfigError(
                "HEARTBEAT_RETRY_MAX_SECONDS",
                self.retry_max_seconds,
                "must not be smaller than HEARTBEAT_RETRY_INITIAL_SECONDS",
            )
        _in_range("HEARTBEAT_STOP_TIMEOUT_SECONDS", self.stop_timeout_seconds, 0.01, 300.0)
        _in_range("settle_seconds", self.settle_seconds, 0.0, 60.0)
        _in_range("jitter_ratio", self.jitter_ratio, 0.0, 0.5)
        if self.api_token is not None:
            _token("HEARTBEAT_API_TOKEN", self.api_token)
        if self.console_secret_file is not None:
            if not str(self.console_secret_file).strip():
                raise ConfigError("CONSOLE_SECRET_FILE", "", "must not be empty")
            object.__setattr__(self, "console_secret_file", Path(self.console_secret_file))
        if self.ca_bundle is not None:
            object.__setattr__(self, "ca_bundle", _ca_bundle("HEARTBEAT_CA_BUNDLE", self.ca_bundle))
        if self.compression not in COMPRESSION_MODES:
            raise ConfigError(
                "HEARTBEAT_COMPRESSION",
                self.compression,
                f"must be one of {', '.join(COMPRESSION_MODES)}",
            )
        if not isinstance(self.handle_signals, bool):
            raise ConfigError("HEARTBEAT_HANDLE_SIGNALS", self.handle_signals, "must be on or off")

    @property
    def interval_seconds(self) -> float:
        """The heartbeat interval in seconds."""
        return self.interval_minutes * 60.0

    @property
    def secret_file(self) -> Path:
        """Where the per-console secret is kept: ``CONSOLE_SECRET_FILE``, else beside the id file
        (``.console-secret`` next to ``.console-id``; ``<name>.secret`` next to another name)."""
        if self.console_secret_file is not None:
            return self.console_secret_file
        id_file = self.console_id_file
        if id_file.name == DEFAULT_CONSOLE_ID_FILE:
            return id_file.with_name(DEFAULT_CONSOLE_SECRET_NAME)
        return id_file.with_name(id_file.name + ".secret")

    @property
    def advertised_address(self) -> str | None:
        """The ``metricas.direccion`` to send: ``HEARTBEAT_METRICS_ADVERTISE``, else the bind
        address, else (binding 0.0.0.0 or ::) None, and the exporter takes the request's."""
        if self.metrics_advertise is not None:
            return self.metrics_advertise
        if (
            self.metrics_addr != "localhost"
            and ipaddress.ip_address(self.metrics_addr).is_unspecified
        ):
            return None
        return self.metrics_addr

    @property
    def enabled(self) -> bool:
        """False when ``API_BASE_URL`` is not configured (heartbeats disabled)."""
        return self.api_base_url is not None

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        dotenv_path: str | os.PathLike[str] | None = None,
        use_dotenv: bool = True,
    ) -> HeartbeatConfig:
        """Read the variables from ``environ`` (default ``os.environ``) over a ``.env`` file.

        The real environment wins over ``.env``; an empty value counts as unset. ``dotenv_path``
        defaults to the nearest ``.env`` found from the current directory upwards.
        """
        values = _merged(os.environ if environ is None else environ, dotenv_path, use_dotenv)
        kwargs: dict[str, object] = {}
        texts = {
            "API_BASE_URL": "api_base_url",
            "CONSOLE_ID": "console_id",
            "CONSOLE_NAME": "console_name",
            "HEARTBEAT_METRICS_ADDR": "metrics_addr",
            "HEARTBEAT_METRICS_ADVERTISE": "metrics_advertise",
            "HEARTBEAT_API_TOKEN": "api_token",
        }
        for variable, attribute in texts.items():
            if (raw := values.get(variable)) is not None:
                kwargs[attribute] = raw
        paths = {
            "CONSOLE_ID_FILE": "console_id_file",
            "CONSOLE_SECRET_FILE": "console_secret_file",
            "HEARTBEAT_CA_BUNDLE": "ca_bundle",
        }
        for variable, attribute in paths.items():
            if (raw := values.get(variable)) is not None:
                kwargs[attribute] = Path(raw)
        floats = {
            "HEARTBEAT_INTERVAL_MINUTES": "interval_minutes",
            "HEARTBEAT_TIMEOUT_SECONDS": "timeout_seconds",
            "HEARTBEAT_RETRY_INITIAL_SECONDS": "retry_initial_seconds",
            "HEARTBEAT_RETRY_MAX_SECONDS": "retry_max_seconds",
            "HEARTBEAT_STOP_TIMEOUT_SECONDS": "stop_timeout_seconds",
        }
        for variable, attribute in floats.items():
            if (raw := values.get(variable)) is not None:
                kwargs[attribute] = _float(variable, raw)
        if (port := values.get("HEARTBEAT_METRICS_PORT")) is not None:
            kwargs["metrics_port"] = _port_value("HEARTBEAT_METRICS_PORT", port)
        if (compression := values.get("HEARTBEAT_COMPRESSION")) is not None:
            kwargs["compression"] = compression.lower()
        if (handle_signals := values.get("HEARTBEAT_HANDLE_SIGNALS")) is not None:
            kwargs["handle_signals"] = _bool("HEARTBEAT_HANDLE_SIGNALS", handle_signals)
        return cls(**kwargs)  # type: ignore[arg-type]


def ca_bundle_from_env(environ: Mapping[str, str] | None = None) -> Path | None:
    """``HEARTBEAT_CA_BUNDLE`` read and checked as :meth:`HeartbeatConfig.from_env` does (the
    environment over the nearest ``.env``); None when unset. :class:`ConfigError` names it."""
    raw = _merged(os.environ if environ is None else environ, None, True).get(CA_BUNDLE_VARIABLE)
    return None if raw is None else _ca_bundle(CA_BUNDLE_VARIABLE, Path(raw))


def _merged(
    environ: Mapping[str, str], dotenv_path: str | os.PathLike[str] | None, use_dotenv: bool
) -> dict[str, str]:
    values: dict[str, str] = {}
    if use_dotenv:
        from dotenv import dotenv_values, find_dotenv

        path = str(dotenv_path) if dotenv_path is not None else find_dotenv(usecwd=True)
        if path and Path(path).is_file():
            try:
                entries = dotenv_values(path)
            except UnicodeDecodeError as exc:
                raise ConfigError(".env", path, f"is not valid UTF-8 ({exc.reason})") from None
            for key, value in entries.items():
                if key in ENV_VARIABLES and value is not None and value.strip():
                    values[key] = value.strip()
    for key in ENV_VARIABLES:
        value = environ.get(key)
        if value is not None and value.strip():
            values[key] = value.strip()
    return values


def _float(variable: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(variable, raw, "must be a number") from None
    if not math.isfinite(value):
        raise ConfigError(variable, raw, "must be a finite number")
    return value


def _bool(variable: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _BOOL_ON:
        return True
    if lowered in _BOOL_OFF:
        return False
    raise ConfigError(variable, raw, "must be on or off (also true/false, yes/no, 1/0)")


def _in_range(variable: str, value: float, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(variable, value, "must be a finite number")
    if not low <= value <= high:
        raise ConfigError(variable, value, f"must be between {low:g} and {high:g}")


def _url(variable: str, raw: str) -> str:
    value = raw.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(variable, raw, "must be an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        raise ConfigError(variable, raw, "must not have a query or a fragment")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(variable, raw, "has an invalid port") from None
    return value


def _uuid(variable: str, raw: str) -> str:
    try:
        return str(uuid.UUID(raw.strip()))
    except (ValueError, AttributeError):
        raise ConfigError(
            variable, raw, "is not a UUID (leave it empty to auto-generate)"
        ) from None


def _name(variable: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(variable, value, "must not be empty")
    if len(value) > protocol.MAX_NOMBRE_CHARS:
        raise ConfigError(variable, value, f"is longer than {protocol.MAX_NOMBRE_CHARS} characters")
    if "\x00" in value:
        raise ConfigError(variable, value, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in the environment arrive as lone surrogates
        raise ConfigError(variable, value, "is not valid UTF-8 text") from None


def _token(variable: str, value: str) -> None:
    """A bearer token: visible ASCII without spaces. The value never appears in the error."""
    if not isinstance(value, str) or not value:
        raise ConfigError(variable, REDACTED, "must not be empty")
    if len(value) > MAX_TOKEN_CHARS:
        raise ConfigError(variable, REDACTED, f"is longer than {MAX_TOKEN_CHARS} characters")
    if not all("!" <= ch <= "~" for ch in value):
        raise ConfigError(
            variable, REDACTED, "must be printable ASCII without spaces (an HTTP header value)"
        )


def _ca_bundle(variable: str, value: Path) -> Path:
    path = Path(value).expanduser()
    if not str(value).strip():
        raise ConfigError(variable, str(value), "must not be empty")
    if not path.exists():
        raise ConfigError(variable, str(value), "does not exist (a PEM file of CA certificates)")
    if not (path.is_file() or path.is_dir()):
        raise ConfigError(variable, str(value), "must be a PEM file or a directory of them")
    if path.is_file() and not os.access(path, os.R_OK):
        raise ConfigError(variable, str(value), "is not readable")
    return path


def _host(variable: str, value: str) -> None:
    problem = host_problem(value) if isinstance(value, str) else "must be a string"
    if problem is not None:
        raise ConfigError(variable, value, problem)


def _port_value(variable: str, raw: str) -> int | None:
    if raw.strip().lower() in _OFF_VALUES:
        return None
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(variable, raw, "must be a port number (1-65535), 0 or 'off'") from None
    _port(variable, port)
    return port


def _port(variable: str, port: int) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(variable, port, "must be a port number (1-65535), 0 or 'off'")


def _address(variable: str, raw: str) -> None:
    if raw == "localhost":
        return
    try:
        ipaddress.ip_address(raw)
    except ValueError:
        raise ConfigError(
            variable, raw, "must be an IP address (e.g. 127.0.0.1 or 0.0.0.0)"
        ) from None
