"""The programmes at a glance: calls (by status, applications, success rate), joint PhDs, exchanges and
the money each partner committed and paid, in EUR and GBP, from the programmes app's own models.

Money goes through the app's co-financing code (``services.project_entries``, ``services.rate_book``,
``cofinance.totals``): each ledger line is converted at the reference rate of its own date. Which rows
belong to the partnership: the programme partners whose OpenAlex id is one of the page's two partners;
calls open to one of them, projects in which one of them takes a share, exchanges from or to one of
them, ledger lines of one of them. Years (``Filters.years``) select a call by its closing date, a project
by its start, an exchange by its start and a ledger line by its date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from cordiale.web.dashboard.overview import Filters
from cordiale.web.programmes import services
from cordiale.web.programmes.cofinance import RateMissingError, totals
from cordiale.web.programmes.models import (
    Application,
    Call,
    Decision,
    Exchange,
    LedgerEntry,
    Partner,
    Project,
)

CALL_STATUSES = ("upcoming", "open", "closed")
CURRENCIES = ("EUR", "GBP")
MONEY_KINDS = (LedgerEntry.Kind.COMMITMENT.value, LedgerEntry.Kind.PAYMENT.value)


def call_status(call: Call, today: date) -> str:
    """upcoming (before it opens), open (between its dates, both included) or closed."""
    if today < call.opens:
        return "upcoming"
    return "open" if today <= call.closes else "closed"


@dataclass
class Programmes:
    """The figures of one partnership's programmes; ``partners`` are the programme partners matched."""

    filters: Filters
    today: date
    partners: list[Partner] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)  # status, calls, applications
    phd_projects: int = 0
    phd_students: int = 0
    exchanges: list[dict[str, Any]] = field(default_factory=list)  # year, kind, direction, exchanges
    money: list[dict[str, Any]] = field(default_factory=list)  # partner, kind, currency, amount (Decimal)
    money_problem: str = ""

    @property
    def empty(self) -> bool:
        return not (self.calls or self.phd_projects or self.exchanges or self.money)

    def money_of(self, partner: str, kind: str, currency: str) -> Decimal:
        return next(
            (
                m["amount"]
                for m in self.money
                if (m["partner"], m["kind"], m["currency"]) == (partner, kind, currency)
            ),
            Decimal(0),
        )

    @property
    def money_rows(self) -> list[dict[str, Any]]:
        """One row per programme partner: committed and paid in EUR and GBP."""
        return [
            {
                "partner": p,
                **{f"{k}_{c}": self.money_of(str(p), k, c) for k in MONEY_KINDS for c in CURRENCIES},
            }
            for p in self.partners
        ]


def _in_years(day: date | None, years: tuple[int, int] | None) -> bool:
    return years is None or (day is not None and years[0] <= day.year <= years[1])


def partnership_partners(filters: Filters) -> list[Partner]:
    return list(Partner.objects.filter(openalex_id__in=filters.partners).order_by("name"))


def partnership_calls(filters: Filters, partners: list[Partner]) -> list[Call]:
    calls = Call.objects.filter(partners__in=partners).distinct().order_by("-closes", "title")
    return [c for c in calls if _in_years(c.closes, filters.years)]


def partnership_projects(filters: Filters, partners: list[Partner]) -> list[Project]:
    projects = Project.objects.filter(partner_shares__partner__in=partners).distinct().order_by("-start")
    return [p for p in projects if _in_years(p.start, filters.years)]


def partnership_exchanges(filters: Filters, partners: list[Partner]) -> list[Exchange]:
    rows = Exchange.objects.filter(Q(from_partner__in=partners) | Q(to_partner__in=partners)).select_related(
        "from_partner", "to_partner", "person"
    )
    return [e for e in rows.order_by("-start") if _in_years(e.start, filters.years)]


def load_programmes(filters: Filters, today: date | None = None) -> Programmes:
    today = today or timezone.localdate()
    partners = partnership_partners(filters)
    out = Programmes(filters=filters, today=today, partners=partners)
    if not partners:
        return out
    by_status = {s: {"status": s, "calls": 0, "applications": 0} for s in CALL_STATUSES}
    for call in partnership_calls(filters, partners):
        apps = Application.objects.filter(call=call).exclude(state="draft")
        decisions = Decision.objects.filter(application__call=call)
        awarded = decisions.filter(outcome=Decision.Outcome.AWARD).count()
        decided = decisions.count()
        status = call_status(call, today)
        row = {
            "id": call.pk,
            "title": call.title,
            "kind": call.get_kind_display(),
            "status": status,
            "opens": call.opens,
            "closes": call.closes,
            "applications": apps.count(),
            "decided": decided,
            "awarded": awarded,
            "success_rate": awarded / decided if decided else None,
        }
        out.calls.append(row)
        by_status[status]["calls"] += 1
        by_status[status]["applications"] += row["applications"]
    out.statuses = list(by_status.values())
    projects = partnership_projects(filters, partners)
    phd = [p for p in projects if p.kind == "phd"]
    out.phd_projects = len(phd)
    out.phd_students = sum(p.students.count() for p in phd)
    counts: dict[tuple[int, str, str], int] = {}
    for e in partnership_exchanges(filters, partners):
        key = (e.start.year, e.get_kind_display(), f"{e.from_partner} → {e.to_partner}")
        counts[key] = counts.get(key, 0) + 1
    out.exchanges = [
        {"year": y, "kind": k, "direction": d, "exchanges": n} for (y, k, d), n in sorted(counts.items())
    ]
    names = {str(p) for p in partners}
    entries = [
        e
        for project in Project.objects.filter(partner_shares__partner__in=partners).distinct()
        for e in services.project_entries(project)
        if e.partner in names and _in_years(e.day, filters.years)
    ]
    try:
        book = services.rate_book()
        for currency in CURRENCIES:
            for (partner, kind), amount in sorted(totals(entries, book, currency).items()):
                out.money.append({"partner": partner, "kind": kind, "currency": currency, "amount": amount})
    except RateMissingError as err:
        out.money = []
        out.money_problem = str(err)
    return out


def ledger_lines(filters: Filters, partner_id: int, kind: str | None) -> list[LedgerEntry]:
    """The ledger lines behind one partner's money figure (drill-down)."""
    partners = [p for p in partnership_partners(filters) if p.pk == partner_id]
    rows = LedgerEntry.objects.filter(partner__in=partners).select_related("project", "partner")
    if kind is not None:
        rows = rows.filter(kind=kind)
    return [e for e in rows.order_by("day", "id") if _in_years(e.day, filters.years)]
