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
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cordiale.errors import UsageError
from cordiale.web.dashboard.overview import Filters
from cordiale.web.programmes import services
from cordiale.web.programmes.cofinance import RateMissingError, totals
from cordiale.web.programmes.mobility import Stay, months
from cordiale.web.programmes.models import (
    Application,
    Call,
    Decision,
    Exchange,
    LedgerEntry,
    MobilityStay,
    Partner,
    Project,
)

CALL_STATUSES = ("upcoming", "open", "closed")
STATUS_LABELS = {
    "upcoming": gettext_lazy("upcoming"),
    "open": gettext_lazy("open"),
    "closed": gettext_lazy("closed"),
}
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
    mobility_stays: int = 0  # the joint PhD students' stays in the partner's lab
    mobility_months: Decimal = Decimal(0)  # their total, in months (the app's mean Gregorian month)
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


def stays_of(projects: list[Project]) -> list[Stay]:
    """The mobility stays of the projects' doctoral students."""
    return [Stay(m.start, m.end) for m in MobilityStay.objects.filter(student__project__in=projects)]


def load_programmes(filters: Filters, today: date | None = None) -> Programmes:
    today = today or timezone.localdate()
    partners = partnership_partners(filters)
    out = Programmes(filters=filters, today=today, partners=partners)
    if not partners:
        return out
    by_status: dict[str, dict[str, Any]] = {
        s: {"status": s, "label": str(STATUS_LABELS[s]), "calls": 0, "applications": 0} for s in CALL_STATUSES
    }
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
            "status_label": str(STATUS_LABELS[status]),
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
    stays = stays_of(phd)
    out.mobility_stays = len(stays)
    out.mobility_months = months(sum(s.days for s in stays))
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
        for project in Project.objects.filter(ledger__partner__in=partners).distinct()
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


@dataclass
class DrillDown:
    """The rows behind one programme figure, as a table: a title, headers, cells (text and an optional
    link to the programmes app's page of the row)."""

    title: str
    headers: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)  # cells: list[str], url: str | None, key


def _int_param(get: Any, name: str) -> int:
    raw = str(get.get(name, "")).strip()
    if not raw.isdigit():
        raise UsageError(_("%(name)s must be a number, not %(value)s") % {"name": name, "value": repr(raw)})
    return int(raw)


def drill_down(filters: Filters, get: Any) -> DrillDown:
    """``call=ID``: the call's applications (drafts left out); ``status=``: the calls in that status;
    ``partner=ID&kind=``: one partner's ledger lines; ``phd=1``: the joint PhD projects;
    ``exchanges=YEAR``: that year's exchanges."""
    from django.urls import reverse

    partners = partnership_partners(filters)
    if "call" in get:
        call_id = _int_param(get, "call")
        calls = [c for c in partnership_calls(filters, partners) if c.pk == call_id]
        if not calls:
            raise UsageError(
                _("call %(call)s is not a call of this partnership for these years") % {"call": call_id}
            )
        dd = DrillDown(
            _("Applications to “%(call)s”") % {"call": calls[0].title},
            [_("Application"), _("State"), _("Decision"), _("Amount awarded")],
        )
        for app in Application.objects.filter(call=calls[0]).exclude(state="draft").order_by("title", "pk"):
            decision = Decision.objects.filter(application=app).first()
            dd.rows.append(
                {
                    "key": app.pk,
                    "cells": [
                        app.title,
                        app.state,
                        decision.get_outcome_display() if decision else "—",
                        f"{decision.amount} {calls[0].currency}" if decision and decision.amount else "—",
                    ],
                    "url": reverse("application_detail", args=[app.pk]),
                }
            )
        return dd
    if "status" in get:
        status = str(get.get("status"))
        if status not in CALL_STATUSES:
            raise UsageError(
                _("status must be one of %(choices)s, not %(value)s")
                % {"choices": ", ".join(CALL_STATUSES), "value": repr(status)}
            )
        dd = DrillDown(
            _("Calls: %(status)s") % {"status": STATUS_LABELS[status]}, [_("Call"), _("Opens"), _("Closes")]
        )
        today = timezone.localdate()
        for c in partnership_calls(filters, partners):
            if call_status(c, today) == status:
                dd.rows.append(
                    {
                        "key": c.pk,
                        "cells": [c.title, c.opens.isoformat(), c.closes.isoformat()],
                        "url": reverse("call_detail", args=[c.pk]),
                    }
                )
        return dd
    if "partner" in get:
        partner_id = _int_param(get, "partner")
        kind = get.get("kind") or None
        if kind is not None and kind not in MONEY_KINDS:
            raise UsageError(_("kind must be commitment or payment, not %(value)s") % {"value": repr(kind)})
        names = {p.pk: str(p) for p in partners}
        if partner_id not in names:
            raise UsageError(
                _("partner %(partner)s is not a partner of this partnership") % {"partner": partner_id}
            )
        dd = DrillDown(
            _("Budget lines of %(partner)s") % {"partner": names[partner_id]},
            [_("Project"), _("Kind"), _("Amount"), _("Date")],
        )
        for e in ledger_lines(filters, partner_id, kind):
            dd.rows.append(
                {
                    "key": e.pk,
                    "cells": [
                        e.project.title,
                        e.get_kind_display(),
                        f"{e.amount} {e.currency}",
                        e.day.isoformat(),
                    ],
                    "url": reverse("finance", args=[e.project_id]),
                }
            )
        return dd
    if "phd" in get:
        dd = DrillDown(
            _("Joint PhD projects"),
            [_("Project"), _("Start"), _("Doctoral students"), _("Mobility stays"), _("Months")],
        )
        for p in partnership_projects(filters, partners):
            if p.kind == "phd":
                dd.rows.append(
                    {
                        "key": p.pk,
                        "cells": [
                            p.title,
                            p.start.isoformat(),
                            str(p.students.count()),
                            str(len(stays_of([p]))),
                            str(months(sum(s.days for s in stays_of([p])))),
                        ],
                        "url": reverse("project_detail", args=[p.pk]),
                    }
                )
        return dd
    if "exchanges" in get:
        year = _int_param(get, "exchanges")
        dd = DrillDown(
            _("Exchanges starting in %(year)d") % {"year": year},
            [_("Kind"), _("From"), _("To"), _("Dates"), _("Purpose")],
        )
        for x in partnership_exchanges(filters, partners):
            if x.start.year == year:
                dd.rows.append(
                    {
                        "key": x.pk,
                        "cells": [
                            x.get_kind_display(),
                            str(x.from_partner),
                            str(x.to_partner),
                            f"{x.start.isoformat()} – {x.end.isoformat()}",
                            x.purpose,
                        ],
                        "url": None,
                    }
                )
        return dd
    raise UsageError(_("say which figure: call=, status=, partner=, phd=1 or exchanges="))
