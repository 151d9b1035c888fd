"""The programmes page on PostgreSQL: calls by status with applications and success rates, joint PhDs,
exchanges and money per partner (EUR and GBP), from rows made through the app's own services, each
number checked against an independent SQL query; drill-downs list the rows behind a figure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from cordiale.web.programmes import services
from cordiale.web.programmes.mobility import Stay
from cordiale.web.programmes.models import (
    Application,
    Call,
    Exchange,
    PhdStudent,
    Project,
    ProjectPartner,
    ReferenceRate,
)
from tests.web.dash_common import DataAttrs
from tests.web.factories import PASSWORD, World, draft, panel_recommends

CNRS, ICL = "I1294671590", "I47508984"
BASE = f"/dashboard/{CNRS}/{ICL}/programmes"
pytestmark = pytest.mark.django_db


def _rows(html: str, cls: str) -> list[dict[str, str]]:
    p = DataAttrs()
    p.feed(html)
    return [d for d in p.items if cls in d.get("class", "").split()]


def _submitted(world: World, title: str) -> Application:
    app = draft(world)
    app.title = title
    app.save()
    services.transition(app, "submit", world.applicant.user)
    return app


@dataclass
class Programme:
    awarded: Application
    rejected: Application
    pending: Application
    closed_call: Call


def make_programme(world: World) -> Programme:
    """One seed call (open) with an award, a rejection, a pending application and a draft; a closed PhD
    call; a joint PhD project with its two students; exchanges; rates; budget lines in EUR and GBP."""
    awarded = _submitted(world, "Carbon storage")
    services.assign_reviewer(awarded, world.reviewer_unknown, world.officer_cnrs.user, confirm_unknown=True)
    panel_recommends(world, awarded)
    services.decide(awarded, world.director.user, "award", Decimal(20000), "", "Funded.")
    project = services.start_project(awarded, world.director.user, date(2025, 1, 1))
    rejected = _submitted(world, "Dune migration")
    panel_recommends(world, rejected, "reject")
    services.decide(rejected, world.director.user, "reject", None, "", "Not this time.")
    pending = _submitted(world, "Reef acoustics")
    draft(world)  # a draft is not an application yet
    today = timezone.localdate()
    closed = Call.objects.create(
        title="Joint PhD 2024",
        kind="phd",
        opens=today - timedelta(days=400),
        closes=today - timedelta(days=300),
        budget_ceiling=Decimal("200000.00"),
    )
    closed.partners.set([world.cnrs, world.icl])
    phd = Project.objects.create(
        title="Joint PhD on reefs", kind="phd", start=date(2025, 9, 1), end=date(2028, 8, 31)
    )
    for partner in (world.cnrs, world.icl):
        ProjectPartner.objects.create(project=phd, partner=partner)
    for person, home, host in (
        (world.outsider, world.cnrs, world.icl),
        (world.pi_icl, world.icl, world.cnrs),
    ):
        PhdStudent.objects.create(
            project=phd,
            person=person,
            home_partner=home,
            host_partner=host,
            funding_start=date(2025, 9, 1),
            funding_end=date(2028, 8, 31),
        )
    services.set_mobility_plan(  # through the service, by the student
        PhdStudent.objects.get(project=phd, person=world.outsider),
        [Stay(date(2026, 1, 1), date(2026, 2, 28)), Stay(date(2027, 3, 1), date(2027, 4, 30))],
        world.outsider.user,
    )
    for start, kind, src, dst in (
        (date(2025, 3, 1), "staff", world.cnrs, world.icl),
        (date(2025, 6, 1), "student", world.icl, world.cnrs),
        (date(2026, 2, 1), "staff", world.cnrs, world.icl),
    ):
        Exchange.objects.create(
            person=world.applicant,
            kind=kind,
            from_partner=src,
            to_partner=dst,
            start=start,
            end=start + timedelta(days=20),
            purpose="Seminar",
        )
    ReferenceRate.objects.create(day=date(2025, 1, 1), currency="GBP", eur_per_unit=Decimal("1.180000"))
    ReferenceRate.objects.create(day=date(2025, 6, 1), currency="GBP", eur_per_unit=Decimal("1.160000"))
    lines = (
        (world.officer_cnrs, world.cnrs, project, "commitment", "10000.00", "EUR", date(2025, 1, 15)),
        (world.officer_cnrs, world.cnrs, project, "payment", "4000.00", "EUR", date(2025, 3, 1)),
        (world.officer_cnrs, world.cnrs, phd, "payment", "1234.56", "EUR", date(2026, 1, 10)),
        (world.officer_icl, world.icl, project, "commitment", "8000.00", "GBP", date(2025, 1, 15)),
        (world.officer_icl, world.icl, project, "payment", "3000.00", "GBP", date(2025, 7, 1)),
        (world.officer_icl, world.icl, phd, "payment", "500.00", "GBP", date(2025, 5, 31)),
    )
    for officer, partner, proj, kind, amount, currency, day in lines:
        services.add_ledger_entry(
            officer.user,
            project=proj,
            partner=partner,
            kind=kind,
            amount=Decimal(amount),
            currency=currency,
            day=day,
        )
    return Programme(awarded, rejected, pending, closed)


def _sql(query: str, args: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cur:
        cur.execute(query, args or [])
        return list(cur.fetchall())


MONEY_SQL = """
WITH lines AS (
    SELECT p.id AS partner, l.kind, l.amount, l.day,
           CASE WHEN l.currency = 'EUR' THEN 1 ELSE (
               SELECT r.eur_per_unit FROM programmes_referencerate r
               WHERE r.currency = l.currency AND r.day <= l.day ORDER BY r.day DESC LIMIT 1) END AS to_eur,
           (SELECT r.eur_per_unit FROM programmes_referencerate r
            WHERE r.currency = 'GBP' AND r.day <= l.day ORDER BY r.day DESC LIMIT 1) AS gbp_in_eur
    FROM programmes_ledgerentry l JOIN programmes_partner p ON p.id = l.partner_id
    WHERE p.openalex_id IN (%s, %s) AND EXTRACT(YEAR FROM l.day) BETWEEN %s AND %s
)
SELECT partner, kind, SUM(amount * to_eur), SUM(amount * to_eur / gbp_in_eur)
FROM lines GROUP BY partner, kind
"""


def _cent(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), ROUND_HALF_UP)


def test_programme_figures_equal_an_independent_query(world: World) -> None:
    prog = make_programme(world)
    c = Client()
    assert c.login(username="director", password=PASSWORD)
    html = c.get(f"{BASE}/").content.decode()
    # calls: applications (submitted, drafts left out), decisions, awards, success rate
    calls = {int(d["data-call"]): d for d in _rows(html, "call-row")}
    expected = _sql(
        """SELECT c.id, COUNT(DISTINCT a.id) FILTER (WHERE a.state <> 'draft'),
                  COUNT(DISTINCT d.id), COUNT(DISTINCT d.id) FILTER (WHERE d.outcome = 'award')
           FROM programmes_call c LEFT JOIN programmes_application a ON a.call_id = c.id
           LEFT JOIN programmes_decision d ON d.application_id = a.id GROUP BY c.id"""
    )
    assert {
        k: (int(v["data-applications"]), int(v["data-decided"]), int(v["data-awarded"]))
        for k, v in calls.items()
    } == {i: (n, dec, aw) for i, n, dec, aw in expected}
    seed = calls[world.call.pk]
    assert (seed["data-applications"], seed["data-status"], float(seed["data-rate"])) == ("3", "open", 0.5)
    assert (
        calls[prog.closed_call.pk]["data-status"] == "closed"
        and calls[prog.closed_call.pk]["data-rate"] == "None"
    )
    statuses = {
        d["data-status"]: (int(d["data-calls"]), int(d["data-applications"]))
        for d in _rows(html, "status-card")
    }
    assert statuses == {"upcoming": (0, 0), "open": (1, 3), "closed": (1, 0)}
    # joint PhDs
    phd = _rows(html, "card")
    (card,) = [d for d in phd if d.get("id") == "phd-card"]
    n_projects, n_students = _sql(
        "SELECT COUNT(DISTINCT p.id), COUNT(s.id) FROM programmes_project p "
        "LEFT JOIN programmes_phdstudent s ON s.project_id = p.id WHERE p.kind = 'phd'"
    )[0]
    assert (int(card["data-projects"]), int(card["data-students"])) == (n_projects, n_students) == (1, 2)
    (mob,) = [d for d in _rows(html, "ci") if d.get("id") == "mobility"]
    stays, days = _sql('SELECT COUNT(*), SUM("end" - start + 1) FROM programmes_mobilitystay')[0]
    assert int(mob["data-stays"]) == stays == 2
    assert Decimal(mob["data-months"]) == (Decimal(days) * 12 / Decimal("365.25")).quantize(Decimal("0.1"))
    # exchanges per year
    shown = {}
    for d in _rows(html, "exchange-row"):
        shown[int(d["data-year"])] = shown.get(int(d["data-year"]), 0) + int(d["data-n"])
    assert shown == {
        int(y): n
        for y, n in _sql("SELECT EXTRACT(YEAR FROM start)::int, COUNT(*) FROM programmes_exchange GROUP BY 1")
    }
    # money per partner, committed and paid, in EUR and GBP at each line's own date's rate
    money = {int(d["data-partner"]): d for d in _rows(html, "money-row")}
    for partner, kind, eur, gbp in _sql(MONEY_SQL, [CNRS, ICL, 0, 9999]):
        key = "committed" if kind == "commitment" else "paid"
        assert Decimal(money[partner][f"data-{key}-eur"]) == _cent(eur), (partner, kind)
        assert Decimal(money[partner][f"data-{key}-gbp"]) == _cent(gbp), (partner, kind)
    icl = money[world.icl.pk]
    assert Decimal(icl["data-paid-eur"]) == Decimal("4070.00")  # 3000 × 1.16 + 500 × 1.18
    assert Decimal(money[world.cnrs.pk]["data-paid-gbp"]) == _cent(
        Decimal("4000") / Decimal("1.18") + Decimal("1234.56") / Decimal("1.16")
    )


def test_years_select_and_drill_downs_list_the_rows(world: World) -> None:
    prog = make_programme(world)
    c = Client()
    assert c.login(username="director", password=PASSWORD)
    html = c.get(f"{BASE}/?from=2026&to=2026").content.decode()
    money = {int(d["data-partner"]): d for d in _rows(html, "money-row")}
    for partner, kind, eur, _gbp in _sql(MONEY_SQL, [CNRS, ICL, 2026, 2026]):
        key = "committed" if kind == "commitment" else "paid"
        assert Decimal(money[partner][f"data-{key}-eur"]) == _cent(eur)
    assert Decimal(money[world.cnrs.pk]["data-paid-eur"]) == Decimal("1234.56")
    assert Decimal(money[world.icl.pk]["data-paid-eur"]) == 0
    assert {int(d["data-year"]) for d in _rows(html, "exchange-row")} == {2026}
    # drill-downs: a call's applications, a status's calls, a partner's payments, the PhDs, a year's exchanges
    body = c.get(f"{BASE}/rows/?call={world.call.pk}").content.decode()
    keys = {int(d["data-key"]) for d in _rows(body, "programme-row")}
    assert keys == {prog.awarded.pk, prog.rejected.pk, prog.pending.pk}
    assert f'href="/applications/{prog.awarded.pk}/"' in body or f"/applications/{prog.awarded.pk}/" in body
    body = c.get(f"{BASE}/rows/?status=closed").content.decode()
    assert {int(d["data-key"]) for d in _rows(body, "programme-row")} == {prog.closed_call.pk}
    body = c.get(f"{BASE}/rows/?partner={world.icl.pk}&kind=payment").content.decode()
    assert len(_rows(body, "programme-row")) == 2 and "3000.00 GBP" in body
    body = c.get(f"{BASE}/rows/?partner={world.icl.pk}&kind=payment&from=2025&to=2025").content.decode()
    assert len(_rows(body, "programme-row")) == 2
    body = c.get(f"{BASE}/rows/?phd=1").content.decode()
    assert len(_rows(body, "programme-row")) == 1 and "Joint PhD on reefs" in body
    body = c.get(f"{BASE}/rows/?exchanges=2025").content.decode()
    assert len(_rows(body, "programme-row")) == 2
    assert c.get(f"{BASE}/rows/?status=someday").status_code == 400
    assert c.get(f"{BASE}/rows/?partner=99999").status_code == 400
    assert c.get(f"{BASE}/rows/").status_code == 400


def test_missing_rate_empty_state_and_french(world: World, settings: Any) -> None:
    c = Client()
    assert c.login(username="director", password=PASSWORD)
    html = c.get(f"/dashboard/{CNRS}/I999999999/programmes/").content.decode()
    assert 'id="empty-state"' not in html  # CNRS alone has the world's open call
    html = c.get("/dashboard/I134085113/I4210143841/programmes/").content.decode()
    assert 'id="empty-state"' in html and "No programme data yet" in html and "OpenAlex id" in html
    project = Project.objects.create(title="P", kind="seed", start=date(2025, 1, 1), end=date(2026, 12, 31))
    ProjectPartner.objects.create(project=project, partner=world.icl)
    services.add_ledger_entry(
        world.officer_icl.user,
        project=project,
        partner=world.icl,
        kind="payment",
        amount=Decimal(10),
        currency="GBP",
        day=date(2025, 2, 1),
    )
    html = c.get(f"{BASE}/").content.decode()
    assert 'id="money-problem"' in html and "no GBP→EUR reference rate on or before 2025-02-01" in html
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    html = c.get(f"{BASE}/").content.decode()
    assert "Taux de réussite" in html and "Success rate" not in html
    assert Client().get(f"{BASE}/").status_code == 302  # sign-in required
