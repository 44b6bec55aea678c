"""Console ids: the canonical fast path of ``validate_console_id`` answers exactly what parsing
with :mod:`uuid` answers, for canonical ids, other spellings and garbage alike."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from consola_wire import WireError, validate_console_id

HEX = "0123456789abcdefABCDEF"


def by_parsing(value: str) -> str | None:
    """The canonical id of ``value`` as :mod:`uuid` reads it; None when it reads none."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def spellings() -> st.SearchStrategy[str]:
    """Canonical ids, and the other ways (and near misses) of writing one."""
    canonical = st.uuids().map(str)
    return st.one_of(
        canonical,
        canonical.map(str.upper),
        canonical.map(lambda s: s.replace("-", "")),
        canonical.map(lambda s: "{" + s + "}"),
        canonical.map(lambda s: "urn:uuid:" + s),
        st.tuples(canonical, st.integers(0, 35), st.sampled_from([*HEX, "-", "g", " ", "\n"])).map(
            lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1 :]
        ),
        canonical.map(lambda s: s + "\n"),
        st.text(alphabet=HEX + "-{}", min_size=30, max_size=40),
        st.text(max_size=40),
    )


@given(spellings())
def test_every_spelling_is_answered_as_uuid_parses_it(value: str) -> None:
    expected = by_parsing(value)
    try:
        got = validate_console_id(value, "id")
    except WireError as exc:
        assert expected is None, f"{value!r} refused ({exc}) but uuid reads {expected}"
        assert exc.field == "id"
    else:
        assert got == expected


def test_the_canonical_form_is_returned_as_given() -> None:
    value = "0000002a-0000-4000-8000-00000000002a"
    assert validate_console_id(value) is value
    assert validate_console_id(value.upper()) == value
