"""Tokens and console secrets: validation, generation, hashing, constant-time comparison.

No web framework here: the CLI loads tokens with these before anything else starts. A value is
never put in a message; only the flag, variable or file that held it is named.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from pathlib import Path

#: Random bytes in a console secret (encoded as 43 URL-safe characters).
SECRET_BYTES = 32
#: Stored hashes are ``sha256:<hex>`` so the scheme can change later without ambiguity.
HASH_PREFIX = "sha256:"
#: Shortest enrollment/read token accepted at start (``openssl rand -hex 32`` gives 64).
MIN_TOKEN_CHARS = 16
MAX_TOKEN_CHARS = 4096


class TokenError(ValueError):
    """A configured token that cannot be used (the message never contains the value)."""


def check_token(name: str, value: str) -> str:
    """``value`` stripped, or :class:`TokenError` naming ``name`` (never the value)."""
    token = value.strip()
    if len(token) < MIN_TOKEN_CHARS:
        raise TokenError(
            f"{name}: must be at least {MIN_TOKEN_CHARS} characters "
            "(generate one with: openssl rand -hex 32)"
        )
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError(f"{name}: is longer than {MAX_TOKEN_CHARS} characters")
    if not all("!" <= ch <= "~" for ch in token):
        raise TokenError(f"{name}: must be printable ASCII without spaces")
    return token


def new_secret() -> str:
    """A fresh console secret."""
    return secrets.token_urlsafe(SECRET_BYTES)


def hash_secret(secret: str) -> str:
    """What the database keeps instead of ``secret``."""
    return HASH_PREFIX + hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(secret: str, stored_hash: str | None) -> bool:
    """Whether ``secret`` is the one ``stored_hash`` was made from (constant time)."""
    if not stored_hash:
        return False
    return hmac.compare_digest(hash_secret(secret).encode(), stored_hash.encode())


def token_matches(given: str, expected: str) -> bool:
    """Constant-time equality that does not even leak the length (both sides hashed first)."""
    a = hashlib.sha256(given.encode("utf-8", "surrogateescape")).digest()
    b = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(a, b)


def load_token(
    flag: str, path: str | None, variable: str, environ: Mapping[str, str]
) -> str | None:
    """The token from the file ``flag`` names or from ``variable``; None when neither is set.

    :class:`TokenError` names the flag or variable (never the value) when both are set, the file
    cannot be read, or the token is unusable. A variable set to an empty value is an error, not
    open mode: an operator who meant to set a token must not silently run without one.
    """
    value = environ.get(variable)
    if path is not None and value is not None:
        raise TokenError(f"{flag} and {variable} are both set; use one of them")
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise TokenError(f"{flag} {path!r}: cannot be read ({reason})") from None
        return check_token(f"{flag} {path!r}", text)
    if value is not None:
        if not value.strip():
            raise TokenError(f"{variable}: is set but empty (unset it to run without a token)")
        return check_token(variable, value)
    return None


def check_distinct_roles(tokens: Mapping[str, str | None]) -> None:
    """:class:`TokenError` when two roles hold the same token; keys name each role's setting
    (e.g. ``--admin-token-file/HEARTBEAT_ADMIN_TOKEN``), never the value.

    One token in two roles would silently give every holder of one the powers of the other
    (every console would be an operator)."""
    configured = [(name, token) for name, token in tokens.items() if token is not None]
    for i, (first, token) in enumerate(configured):
        for second, other in configured[i + 1 :]:
            if token_matches(token, other):
                raise TokenError(
                    f"{first} and {second} hold the same token; each role needs its own "
                    "(generate one with: openssl rand -hex 32)"
                )
