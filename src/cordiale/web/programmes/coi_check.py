"""The conflict-of-interest check for review assignment, through ``cordiale.coi`` (the matchmaking module)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from cordiale import coi
from cordiale.config import store_path
from cordiale.web.programmes.models import Application, Partner, Person


def coi_person(person: Person) -> coi.Person:
    """Our Person as the module's Person (key ``person:<pk>``)."""
    declared = frozenset(
        item
        for other in person.declared_conflicts.all()
        for item in (f"person:{other.pk}", other.openalex_author_id)
        if item
    )
    return coi.Person(
        key=f"person:{person.pk}",
        author_id=person.openalex_author_id or None,
        institution_ids=person.unit_ids,
        name=person.name,
        declared_conflicts=declared,
    )


@dataclass(frozen=True)
class CoiResult:
    status: str  # conflict | unknown | none
    reasons: tuple[str, ...]


def check_reviewer(application: Application, reviewer: Person, store: Path | None = None) -> CoiResult:
    """The reviewer against the applicant and every PI: the worst finding wins (conflict > unknown > none)."""
    others = [application.applicant, *(pi.person for pi in application.pis.select_related("person"))]
    unique = list({p.pk: p for p in others}.values())
    path = store if store is not None else store_path(settings.CORDIALE_STORE)
    # Every reviewer shares a partner institution with one side: the partners themselves are not units.
    partners = frozenset(Partner.objects.exclude(openalex_id="").values_list("openalex_id", flat=True))
    policy = coi.CoiPolicy(
        coauthor_years=settings.CORDIALE_COI_COAUTHOR_YEARS,
        as_of_year=settings.CORDIALE_COI_AS_OF_YEAR,
        not_units=partners,
    )
    findings = coi.check_conflicts(
        path if path.is_file() else None, coi_person(reviewer), [coi_person(p) for p in unique], policy
    )
    reasons: list[str] = []
    status = "none"
    for person, finding in zip(unique, findings, strict=True):
        if finding.status == coi.CoiStatus.CONFLICT:
            status = "conflict"
        elif finding.status == coi.CoiStatus.UNKNOWN and status != "conflict":
            status = "unknown"
        reasons.extend(f"{person.name}: {r}" for r in finding.reasons)
        if finding.status == coi.CoiStatus.UNKNOWN and not finding.reasons:
            reasons.append(f"{person.name}: not enough data to rule out a conflict")
    return CoiResult(status, tuple(reasons))
