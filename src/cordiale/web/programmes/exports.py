"""CSV and JSON exports of the office's lists (applications, projects, ledger, exchanges, grants, people)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet

from cordiale.web.programmes.models import Application, Exchange, Grant, LedgerEntry, Person, Project


def _applications() -> tuple[list[str], list[list[Any]]]:
    cols = [
        "id",
        "call",
        "kind",
        "title",
        "state",
        "requested_amount",
        "currency",
        "submitted_at",
        "decision",
        "amount",
    ]
    rows = []
    qs: QuerySet[Application] = Application.objects.select_related("call", "decision").order_by("id")
    for a in qs:
        d = getattr(a, "decision", None)
        rows.append(
            [
                a.pk,
                a.call.title,
                a.call.kind,
                a.title,
                a.state,
                a.requested_amount,
                a.call.currency,
                a.submitted_at,
                d.outcome if d else "",
                d.amount if d else "",
            ]
        )
    return cols, rows


def _projects() -> tuple[list[str], list[list[Any]]]:
    cols = ["id", "title", "kind", "start", "end", "partners", "outputs"]
    rows = [
        [
            p.pk,
            p.title,
            p.kind,
            p.start,
            p.end,
            "; ".join(f"{s.partner}:{s.agreed_share}%" for s in p.partner_shares.all()),
            p.outputs.count(),
        ]
        for p in Project.objects.order_by("id").prefetch_related("partner_shares__partner")
    ]
    return cols, rows


def _ledger() -> tuple[list[str], list[list[Any]]]:
    cols = ["id", "project", "partner", "kind", "amount", "currency", "date", "note"]
    rows = [
        [e.pk, e.project.title, str(e.partner), e.kind, e.amount, e.currency, e.day, e.note]
        for e in LedgerEntry.objects.select_related("project", "partner").order_by("id")
    ]
    return cols, rows


def _exchanges() -> tuple[list[str], list[list[Any]]]:
    cols = ["id", "kind", "person", "from", "to", "start", "end", "purpose", "funding", "currency"]
    rows = [
        [
            e.pk,
            e.kind,
            e.person.name,
            str(e.from_partner),
            str(e.to_partner),
            e.start,
            e.end,
            e.purpose,
            e.funding_amount,
            e.currency,
        ]
        for e in Exchange.objects.select_related("person", "from_partner", "to_partner").order_by("id")
    ]
    return cols, rows


def _grants() -> tuple[list[str], list[list[Any]]]:
    cols = ["id", "funder", "scheme", "reference", "title", "amount", "currency", "partners", "projects"]
    rows = [
        [
            g.pk,
            g.funder,
            g.scheme,
            g.reference,
            g.title,
            g.amount,
            g.currency,
            "; ".join(str(p) for p in g.partners.all()),
            "; ".join(p.title for p in g.projects.all()),
        ]
        for g in Grant.objects.order_by("id").prefetch_related("partners", "projects")
    ]
    return cols, rows


def _people() -> tuple[list[str], list[list[Any]]]:
    """People not erased, with their ids in ORCID and OpenAlex and their roles."""
    cols = ["id", "name", "email", "orcid", "openalex_author_id", "roles"]
    rows = [
        [
            p.pk,
            p.name,
            p.email,
            p.orcid,
            p.openalex_author_id,
            "; ".join(str(r) for r in p.roles.all()),
        ]
        for p in Person.objects.filter(erased_at__isnull=True)
        .order_by("id")
        .prefetch_related("roles__partner")
    ]
    return cols, rows


TABLES: dict[str, Callable[[], tuple[list[str], list[list[Any]]]]] = {
    "applications": _applications,
    "projects": _projects,
    "ledger": _ledger,
    "exchanges": _exchanges,
    "grants": _grants,
    "people": _people,
}


def as_csv(name: str) -> str:
    cols, rows = TABLES[name]()
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(cols)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def as_json(name: str) -> str:
    cols, rows = TABLES[name]()
    return json.dumps([dict(zip(cols, row, strict=True)) for row in rows], cls=DjangoJSONEncoder, indent=1)
