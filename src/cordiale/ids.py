"""Identifier normalisation: OpenAlex and ROR ids in any of the forms users type."""

from __future__ import annotations

import re

from cordiale.errors import UsageError

# Scheme optional (``openalex.org/I…`` as pasted from an address bar), trailing slashes ignored.
_OPENALEX = re.compile(
    r"^(?:(?:https?://)?(?:www\.|api\.)?openalex\.org/(?:\w+/)?)?([WAISPFTCK]\d+)/*$", re.IGNORECASE
)
_ROR = re.compile(r"^(?:https?://)?(?:www\.)?(?:ror\.org/)?(0[a-hj-km-np-tv-z0-9]{6}\d{2})/*$", re.IGNORECASE)


def short_openalex_id(value: str | None) -> str | None:
    """``https://openalex.org/I1294671590`` → ``I1294671590``; None or unrecognised → None."""
    if not value:
        return None
    m = _OPENALEX.match(value.strip())
    return m.group(1).upper() if m else None


def strip_openalex_prefix(value: str | None) -> str | None:
    """Drop the ``https://openalex.org/`` prefix of any OpenAlex URL (topics, fields, ...)."""
    if value is None:
        return None
    for prefix in ("https://openalex.org/", "http://openalex.org/"):
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def short_ror_id(value: str | None) -> str | None:
    """``https://ror.org/02feahw73`` or ``02feahw73`` → ``02feahw73``; unrecognised → None."""
    if not value:
        return None
    m = _ROR.match(value.strip())
    return m.group(1).lower() if m else None


def ror_id_sql(expr: str) -> str:
    """SQL giving the 9-character ROR id of ``expr``: ``https://ror.org/02feahw73`` → ``02feahw73``.

    ``institutions.ror`` holds OpenAlex's full URL while the ROR tables hold the bare id: every join
    between them goes through this. Written with functions SQLGlot carries to Spark unchanged.
    """
    return f"lower(right(trim({expr}), 9))"


def is_openalex_institution(value: str) -> bool:
    sid = short_openalex_id(value)
    return sid is not None and sid.startswith("I")


def field_id(text: str | None) -> str | None:
    """An OpenAlex field as the store spells it: ``22``, ``fields/22`` or its URL → ``fields/22``."""
    if text is None or not text.strip():
        return None
    tail = text.strip().rstrip("/").rsplit("/", 1)[-1]
    if not tail.isdigit():
        raise UsageError(f"--field must be an OpenAlex field id such as 22 or fields/22, not {text!r}")
    return f"fields/{int(tail)}"
