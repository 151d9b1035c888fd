"""Co-financing arithmetic and PhD mobility bounds: pure functions, then through the service on PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from cordiale.web.programmes import services
from cordiale.web.programmes.cofinance import (
    Entry,
    Rate,
    RateBook,
    RateCsvError,
    RateMissingError,
    parse_rates_csv,
    real_split,
    totals,
)
from cordiale.web.programmes.mobility import Stay, plan_problems
from cordiale.web.programmes.models import (
    MobilityStay,
    PhdStudent,
    Project,
    ProjectMember,
    ProjectPartner,
    ReferenceRate,
)
from tests.web.factories import PASSWORD, World

BOOK = RateBook(
    [
        Rate(date(2025, 1, 1), "GBP", Decimal("1.200000")),
        Rate(date(2025, 6, 1), "GBP", Decimal("1.150000")),
    ]
)


def test_each_amount_converts_at_its_own_dates_rate() -> None:
    assert BOOK.eur_per_unit("GBP", date(2025, 5, 31)) == Decimal("1.2")
    assert BOOK.eur_per_unit("GBP", date(2025, 6, 1)) == Decimal("1.15")
    assert BOOK.convert(Decimal(100), "GBP", "EUR", date(2025, 7, 1)) == Decimal("115.00")
    assert BOOK.convert(Decimal(120), "EUR", "GBP", date(2025, 2, 1)) == Decimal(100)
    with pytest.raises(RateMissingError, match=r"no GBP→EUR reference rate on or before 2024-12-31"):
        BOOK.convert(Decimal(1), "GBP", "EUR", date(2024, 12, 31))


def test_totals_per_partner_in_either_currency() -> None:
    entries = [
        Entry("CNRS", "payment", Decimal("1000.00"), "EUR", date(2025, 2, 1)),
        Entry("Imperial", "payment", Decimal("1000.00"), "GBP", date(2025, 2, 1)),
        Entry("Imperial", "payment", Decimal("1000.00"), "GBP", date(2025, 7, 1)),
    ]
    eur = totals(entries, BOOK, "EUR")
    assert eur[("Imperial", "payment")] == Decimal("2350.00")  # 1200 + 1150
    gbp = totals(entries, BOOK, "GBP")
    assert gbp[("CNRS", "payment")] == Decimal("833.33")  # 1000 / 1.2
    assert gbp[("Imperial", "payment")] == Decimal("2000.00")


def test_split_flags_drift_beyond_the_margin() -> None:
    agreed = {"CNRS": Decimal(50), "Imperial": Decimal(50)}
    entries = [
        Entry("CNRS", "payment", Decimal("1100.00"), "EUR", date(2025, 2, 1)),
        Entry("Imperial", "payment", Decimal("1000.00"), "GBP", date(2025, 2, 1)),  # 1200 EUR
        Entry("Imperial", "commitment", Decimal("99999.00"), "GBP", date(2025, 2, 1)),  # not a payment
        Entry("CNRS", "payment", Decimal("5000.00"), "EUR", date(2026, 1, 1)),  # after as_of
    ]
    split = real_split(entries, agreed, BOOK, Decimal(5), as_of=date(2025, 12, 31))
    lines = {line.partner: line for line in split.lines}
    assert split.total_eur == Decimal("2300.00")
    assert lines["CNRS"].share == Decimal("47.83") and lines["Imperial"].share == Decimal("52.17")
    assert not split.drift  # 2.17 pp within 5
    split = real_split(entries, agreed, BOOK, Decimal(2), as_of=date(2025, 12, 31))
    assert split.drift and lines["CNRS"].difference == Decimal("-2.17")
    later = real_split(entries, agreed, BOOK, Decimal(5), as_of=date(2026, 1, 1))
    assert later.drift  # 6100 vs 1200 EUR


def test_rates_csv_errors_name_the_line_and_field() -> None:
    good = parse_rates_csv("date,currency,eur_per_unit\n2025-01-01,GBP,1.2\n2025-01-02,gbp,1.19\n", "r.csv")
    assert [r.eur_per_unit for r in good] == [Decimal("1.2"), Decimal("1.19")]
    with pytest.raises(RateCsvError, match=r"r.csv: line 3: field eur_per_unit: 'abc'"):
        parse_rates_csv("date,currency,eur_per_unit\n2025-01-01,GBP,1.2\n2025-01-02,GBP,abc\n", "r.csv")
    with pytest.raises(RateCsvError, match=r"r.csv: line 2: field date"):
        parse_rates_csv("date,currency,eur_per_unit\n01/02/2025,GBP,1.2\n", "r.csv")
    with pytest.raises(RateCsvError, match=r"r.csv: line 2: field currency: 'USD'"):
        parse_rates_csv("date,currency,eur_per_unit\n2025-01-01,USD,1.2\n", "r.csv")
    with pytest.raises(RateCsvError, match="line 1: the header"):
        parse_rates_csv("day,rate\n", "r.csv")


BOUNDS = (Decimal(3), Decimal(6))
START, END = date(2025, 9, 1), date(2028, 8, 31)


def test_mobility_plan_bounds_message_gives_total_and_bounds() -> None:
    short = [Stay(date(2026, 1, 1), date(2026, 1, 31)), Stay(date(2026, 6, 1), date(2026, 6, 30))]
    assert plan_problems(short, START, END, BOUNDS) == [
        "The plan totals 2.0 months (61 days); the total must be between 3 and 6 months."
    ]
    long = [Stay(date(2026, 1, 1), date(2026, 7, 31))]
    assert plan_problems(long, START, END, BOUNDS) == [
        "The plan totals 7.0 months (212 days); the total must be between 3 and 6 months."
    ]
    ok = [Stay(date(2026, 1, 1), date(2026, 2, 28)), Stay(date(2027, 3, 1), date(2027, 4, 30))]
    assert plan_problems(ok, START, END, BOUNDS) == []
    outside = [Stay(date(2028, 7, 1), date(2028, 11, 30))]
    assert any("outside the project's dates" in p for p in plan_problems(outside, START, END, BOUNDS))
    overlap = [Stay(date(2026, 1, 1), date(2026, 3, 31)), Stay(date(2026, 3, 15), date(2026, 4, 30))]
    assert any("overlap" in p for p in plan_problems(overlap, START, END, BOUNDS))


def _phd(world: World) -> Project:
    project = Project.objects.create(title="Joint PhD", kind="phd", start=START, end=END)
    for partner in (world.cnrs, world.icl):
        ProjectPartner.objects.create(project=project, partner=partner)
    return project


def test_phd_setup_rules(world: World) -> None:
    project = _phd(world)
    assert len(services.phd_setup_problems(project)) == 2
    PhdStudent.objects.create(
        project=project,
        person=world.outsider,
        home_partner=world.cnrs,
        host_partner=world.icl,
        funding_start=START,
        funding_end=date(2028, 8, 31),
    )
    PhdStudent.objects.create(
        project=project,
        person=world.pi_icl,
        home_partner=world.icl,
        host_partner=world.cnrs,
        funding_start=START,
        funding_end=date(2027, 8, 31),
    )
    ProjectMember.objects.create(
        project=project, person=world.applicant, partner=world.cnrs, kind="co_supervisor"
    )
    ProjectMember.objects.create(
        project=project, person=world.reviewer_ok, partner=world.icl, kind="co_supervisor"
    )
    assert services.phd_setup_problems(project) == ["Each student is funded 3 years."]


def test_mobility_plan_service_refuses_and_keeps_the_old_plan(world: World) -> None:
    project = _phd(world)
    student = PhdStudent.objects.create(
        project=project,
        person=world.outsider,
        home_partner=world.cnrs,
        host_partner=world.icl,
        funding_start=START,
        funding_end=END,
    )
    ok = [Stay(date(2026, 1, 1), date(2026, 4, 30))]
    services.set_mobility_plan(student, ok, world.officer_cnrs.user)
    with pytest.raises(ValidationError) as exc:
        services.set_mobility_plan(student, [Stay(date(2026, 1, 1), date(2026, 1, 31))], world.outsider.user)
    assert exc.value.messages == [
        "The plan totals 1.0 months (31 days); the total must be between 3 and 6 months."
    ]
    assert [(s.start, s.end) for s in MobilityStay.objects.filter(student=student)] == [
        (ok[0].start, ok[0].end)
    ]
    with pytest.raises(Exception, match="Only the student"):
        services.set_mobility_plan(student, ok, world.pi_icl.user)


def test_finance_page_flags_drift_and_rate_import(world: World) -> None:
    project = _phd(world)
    c = Client()
    assert c.login(username="officer_cnrs", password=PASSWORD)
    csv_body = b"date,currency,eur_per_unit\n2025-01-01,GBP,1.20\n"
    from django.core.files.uploadedfile import SimpleUploadedFile

    c.post(reverse("rates"), {"csv-csv_file": SimpleUploadedFile("rates.csv", csv_body, "text/csv")})
    assert ReferenceRate.objects.get().eur_per_unit == Decimal("1.2")
    services.add_ledger_entry(
        world.officer_cnrs.user,
        project=project,
        partner=world.cnrs,
        kind="payment",
        amount=Decimal(3000),
        currency="EUR",
        day=date(2025, 10, 1),
    )
    services.add_ledger_entry(
        world.officer_icl.user,
        project=project,
        partner=world.icl,
        kind="payment",
        amount=Decimal(1000),
        currency="GBP",
        day=date(2025, 10, 1),
    )
    page = c.get(reverse("finance", args=[project.pk])).content.decode()
    assert 'id="drift-flag"' in page and "71.43 %" in page  # 3000 / 4200 EUR
    bad = c.post(
        reverse("rates"),
        {"csv-csv_file": SimpleUploadedFile("bad.csv", b"date,currency,eur_per_unit\nx,GBP,1\n")},
        follow=True,
    )
    assert "bad.csv: line 2: field date" in bad.content.decode()
