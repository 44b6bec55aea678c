"""``WireError``: a payload refused, naming its field; and the object check every parser uses."""

from __future__ import annotations

from typing import Any

JSONObject = dict[str, Any]


class WireError(ValueError):
    """A payload that breaks the wire contract. ``field`` names where, ``message`` says what."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def to_json(self) -> JSONObject:
        """The JSON error body the API returns."""
        return {"error": "invalid_request", "field": self.field, "message": self.message}


def require_object(value: object, field: str) -> JSONObject:
    """``value`` if it is a JSON object, else an error naming ``field``."""
    if not isinstance(value, dict):
        raise WireError(field, "must be a JSON object")
    return value
