"""Stored rows that break today's rules (entered before a rule existed, or written around the forms).

The forms and services refuse such values now; rows already stored are kept, never changed or deleted
(they are financial records), and listed instead: ``cordiale manage check --database default`` prints
one warning per row, and ``cordiale serve`` prints them at start. Where a broken row would break a page,
the page reads around it (``cofinance.RateBook`` ignores a rate that is not positive or is for EUR).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.core import checks
from django.core.exceptions import ValidationError
from django.db import DatabaseError

CHECK_ID = "programmes.W001"


@dataclass(frozen=True)
class Breach:
    """One stored row and what it breaks: ``{field: [messages]}`` as Django's validation gives it."""

    model: str  # verbose name, e.g. "reference rate"
    pk: Any
    row: str
    problems: dict[str, list[str]]

    def text(self) -> str:
        said = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in sorted(self.problems.items()))
        return f"{self.model} #{self.pk} ({self.row}): {said}"


def _audited() -> Sequence[type[Any]]:
    from cordiale.web.programmes.models import Application, Exchange, Grant, LedgerEntry, ReferenceRate

    return (ReferenceRate, LedgerEntry, Grant, Application, Exchange)


def stored_breaches() -> Iterator[Breach]:
    """Every stored row of the money and date models whose field validators or ``clean()`` refuse it."""
    for model in _audited():
        for obj in model.objects.all().order_by("pk").iterator():
            problems: dict[str, list[str]] = {}
            for step in (obj.clean_fields, obj.clean):
                try:
                    step()
                except ValidationError as e:
                    for field, msgs in e.message_dict.items():
                        problems.setdefault(field, []).extend(str(m) for m in msgs)
            if problems:
                yield Breach(str(model._meta.verbose_name), obj.pk, str(obj), problems)


@checks.register(checks.Tags.database)
def check_stored_rows(databases: Sequence[str] | None = None, **_: Any) -> list[checks.CheckMessage]:
    """The system check behind ``manage check --database default``: a warning per breaking row."""
    if not databases:
        return []
    try:
        found = list(stored_breaches())
    except DatabaseError:  # not migrated yet: nothing stored to audit
        return []
    return [
        checks.Warning(
            b.text(),
            hint="correct it in the web app (or the admin); the rule is in the README's methods",
            obj=b.model,
            id=CHECK_ID,
        )
        for b in found
    ]
