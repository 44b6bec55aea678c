"""How the operator commands reach the consoles API: its URL, their flags, a failure in words.

Shared by ``heartbeat status`` and ``heartbeat maintenance`` / ``retire`` / ``reset-secret``:
``--api-base-url`` falling back to ``API_BASE_URL`` (the environment, then the nearest ``.env``,
then the seed's development value), ``--timeout``, the bearer token on a request, TLS trust by
the library's rule (``HEARTBEAT_CA_BUNDLE``), and a failed request said in a few words.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping
from pathlib import Path

import requests

from heartbeat.config import CA_BUNDLE_VARIABLE, ca_bundle_from_env
from heartbeat.transport import USER_AGENT, BearerToken, tls_verify

#: The seed's development value, used when neither the flag nor API_BASE_URL say otherwise.
DEFAULT_API_BASE_URL = "http://localhost:3000/api"
DEFAULT_TIMEOUT_SECONDS = 5.0
#: Environment variable holding the token for an exporter whose read endpoints require one.
READ_TOKEN_VARIABLE = "HEARTBEAT_READ_TOKEN"
#: Headers of every request an operator command sends.
HEADERS = {"Accept": "application/json", "User-Agent": USER_AGENT}
#: The hint after a request that got no answer.
CHECK_URL_HINT = (
    "Is the exporter running? Check --api-base-url / API_BASE_URL "
    "(it must end in /api, e.g. http://localhost:3000/api)."
)


def default_api_base_url(environ: Mapping[str, str] | None = None) -> str:
    """``API_BASE_URL`` from the environment, else from the nearest ``.env``, else the seed's."""
    env = os.environ if environ is None else environ
    value = env.get("API_BASE_URL", "").strip()
    if value:
        return value
    from dotenv import dotenv_values, find_dotenv

    path = find_dotenv(usecwd=True)
    if path and Path(path).is_file():
        value = (dotenv_values(path).get("API_BASE_URL") or "").strip()
        if value:
            return value
    return DEFAULT_API_BASE_URL


def add_api_arguments(parser: argparse.ArgumentParser) -> None:
    """``--api-base-url`` and ``--timeout``, with their fallbacks in the help."""
    parser.add_argument(
        "--api-base-url",
        metavar="URL",
        default=None,
        help="the consoles API, ending in /api (default: $API_BASE_URL from the environment or "
        f".env, else {DEFAULT_API_BASE_URL})",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_seconds,
        default=DEFAULT_TIMEOUT_SECONDS,
        help=f"seconds to wait for the API (default: {DEFAULT_TIMEOUT_SECONDS:g})",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def api_base_url(flag: str | None) -> str:
    """The API's base URL from the flag's value or its fallbacks, without a trailing slash."""
    return (flag or default_api_base_url()).rstrip("/")


def bearer(token: str | None) -> BearerToken:
    """``Authorization: Bearer <token>`` for a request (nothing for None; never ``~/.netrc``)."""
    return BearerToken(token or None)


def tls_verification(environ: Mapping[str, str] | None = None) -> str | bool:
    """``verify=`` for the commands' requests, by the library's rule: ``HEARTBEAT_CA_BUNDLE``
    (environment, then ``.env``) when set, else requests' own trust. A bundle that does not
    exist or cannot be read raises :class:`~heartbeat.config.ConfigError` naming the variable."""
    return tls_verify(ca_bundle_from_env(environ))


def unreachable(url: str, exc: requests.RequestException, verify: str | bool) -> str:
    """One line: why ``url`` got no answer, with what to check (the CA bundle for a TLS
    certificate that is not trusted, else the URL)."""
    if isinstance(exc, requests.exceptions.SSLError):
        return f"cannot reach {url}: {_tls_reason(exc, verify)}"
    return f"cannot reach {url}: {failure_reason(exc)}. {CHECK_URL_HINT}"


def _tls_reason(exc: requests.exceptions.SSLError, verify: str | bool) -> str:
    if "CERTIFICATE_VERIFY_FAILED" not in str(exc):
        return f"the TLS handshake failed (is it an HTTPS server? {CA_BUNDLE_VARIABLE}: its CA)"
    if isinstance(verify, str):
        return (
            f"its TLS certificate is not trusted: {CA_BUNDLE_VARIABLE}={verify} does not hold "
            "the CA that signed it"
        )
    return (
        f"its TLS certificate is not trusted: set {CA_BUNDLE_VARIABLE} to the PEM file of "
        "the CA that signed it"
    )


def failure_reason(exc: requests.RequestException) -> str:
    """Why a request got no answer, in a few words."""
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS failed (certificate not trusted?)"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "connection refused or host unreachable"
    return type(exc).__name__
