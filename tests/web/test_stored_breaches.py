"""Rows stored before today's rules (or written around the forms) are listed, kept, and never break a page."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from cordiale.web.programmes.audit import CHECK_ID, stored_breaches
from cordiale.web.programmes.cofinance import Rate, RateBook
from cordiale.web.programmes.models import Grant, LedgerEntry, Project, ProjectPartner, ReferenceRate
from cordiale.web.server import warn_stored_breaches
from tests.web.factories import World, client_for


def _project(world: World) -> Project:
    project = Project.objects.create(title="P", kind="seed", start=date(2025, 1, 1), end=date(2026, 12, 31))
    ProjectPartner.objects.create(project=project, partner=world.cnrs, agreed_share=Decimal(50))
    ProjectPartner.objects.create(project=project, partner=world.icl, agreed_share=Decimal(50))
    return project


def _old_rows(world: World) -> dict[str, int]:
    """Rows as an older cordiale (or a raw SQL import) could have stored them: no validation runs."""
    good = ReferenceRate.objects.create(day=date(2025, 1, 1), currency="GBP", eur_per_unit=Decimal("1.15"))
    zero = ReferenceRate.objects.create(day=date(2025, 6, 1), currency="GBP", eur_per_unit=Decimal(0))
    eur = ReferenceRate.objects.create(day=date(2025, 6, 1), currency="EUR", eur_per_unit=Decimal("0.5"))
    project = _project(world)
    line = LedgerEntry.objects.create(
        project=project,
        partner=world.icl,
        kind="commitment",
        currency="GBP",
        day=date(2025, 7, 1),
        amount=Decimal(1000),
    )
    negative = LedgerEntry.objects.create(
        project=project,
        partner=world.cnrs,
        kind="payment",
        currency="EUR",
        day=date(2025, 7, 1),
        amount=Decimal(-50),
    )
    reversed_grant = Grant.objects.create(
        funder="ERC",
        scheme="erc",
        title="G",
        amount=Decimal(100),
        currency="EUR",
        start=date(2026, 1, 1),
        end=date(2025, 1, 1),
    )
    return {
        "good": good.pk,
        "zero": zero.pk,
        "eur": eur.pk,
        "line": line.pk,
        "negative": negative.pk,
        "grant": reversed_grant.pk,
        "project": project.pk,
    }


def test_rows_breaking_the_rules_are_listed_by_the_check_and_kept(world: World) -> None:
    rows = _old_rows(world)
    found = {(b.model, b.pk): b for b in stored_breaches()}
    assert set(found) == {
        ("reference rate", rows["zero"]),
        ("reference rate", rows["eur"]),
        ("ledger entry", rows["negative"]),
        ("grant", rows["grant"]),
    }
    assert "eur_per_unit" in found[("reference rate", rows["zero"])].problems
    assert "currency" in found[("reference rate", rows["eur"])].problems
    assert "amount" in found[("ledger entry", rows["negative"])].problems
    assert "The grant ends before it starts." in found[("grant", rows["grant"])].text()
    err = StringIO()
    call_command("check", databases=["default"], stderr=err, stdout=StringIO())
    text = err.getvalue()
    assert text.count(CHECK_ID) == 4 and f"#{rows['negative']}" in text
    # nothing was changed or deleted
    assert (
        ReferenceRate.objects.count() == 3 and LedgerEntry.objects.count() == 2 and Grant.objects.count() == 1
    )


def test_serve_start_prints_the_breaking_rows(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    warn_stored_breaches()
    assert capsys.readouterr().err == ""  # a clean database: silent
    _old_rows(world)
    warn_stored_breaches(shown=2)
    err = capsys.readouterr().err
    assert "4 stored row(s) break today's rules" in err and err.count("\n  ") == 2


def test_pages_read_around_a_stored_zero_rate(world: World) -> None:
    rows = _old_rows(world)
    office = client_for("officer_cnrs")
    response = office.get(reverse("finance", args=[rows["project"]]))
    assert response.status_code == 200
    assert office.get("/dashboard/I1294671590/I47508984/programmes/").status_code == 200
    # the GBP commitment of 2025-07-01 is converted at the last usable rate (1.15), not the stored 0
    assert "1150.00" in response.content.decode()


def test_the_rate_book_ignores_rates_that_break_the_rules() -> None:
    book = RateBook(
        [
            Rate(date(2025, 1, 1), "GBP", Decimal("1.15")),
            Rate(date(2025, 6, 1), "GBP", Decimal(0)),
            Rate(date(2025, 6, 2), "GBP", Decimal(-1)),
            Rate(date(2025, 6, 1), "EUR", Decimal(2)),
        ]
    )
    assert book.eur_per_unit("GBP", date(2025, 7, 1)) == Decimal("1.15")
    assert book.convert(Decimal(10), "EUR", "GBP", date(2025, 7, 1)) == Decimal(10) / Decimal("1.15")
    assert book.eur_per_unit("EUR", date(2025, 7, 1)) == 1
