"""Defects a reviewer found in the programmes app, each reproduced through the pages on PostgreSQL."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cordiale.web.programmes import services
from cordiale.web.programmes.cofinance import RateCsvError, parse_rates_csv, read_rates_csv
from cordiale.web.programmes.mobility import Stay, plan_problems
from cordiale.web.programmes.models import (
    Application,
    Exchange,
    Grant,
    LedgerEntry,
    Project,
    ProjectPartner,
    ReferenceRate,
)
from tests.web.factories import World, client_for, draft, panel_recommends


def _reviewed(world: World) -> Application:
    """A submitted application with one confidential review (assigned by the ICL officer)."""
    app = draft(world)
    services.transition(app, "submit", world.applicant.user)
    services.assign_reviewer(app, world.reviewer_ok, world.officer_icl.user)
    crit = {c.name: c.pk for c in world.call.criteria.all()}
    services.submit_review(
        app.assignments.get(),
        world.reviewer_ok.user,
        {crit["Excellence"]: 3, crit["Feasibility"]: 4},
        "CONFIDENTIAL-REMARK",
        True,
    )
    return app


def test_only_those_who_decide_reach_the_decision_and_assignment_pages(world: World, store: Path) -> None:
    app = _reviewed(world)
    decide, assign = reverse("decide", args=[app.pk]), reverse("assign_reviewer", args=[app.pk])
    panel_recommends(world, app, "reject")
    for who in ("applicant", "pi_icl", "reviewer_ok", "officer_icl", "officer_cnrs"):
        response = client_for(who).get(decide)
        assert response.status_code == 403, who
        assert "CONFIDENTIAL-REMARK" not in response.content.decode(), who
    for who in ("applicant", "pi_icl", "reviewer_ok"):
        assert client_for(who).get(assign).status_code == 403, who
    assert client_for("applicant").post(decide, {"outcome": "award", "amount": "1"}).status_code == 403
    # The chair sees the reviews and the panel; the officers assign.
    page = client_for("director").get(decide).content.decode()
    assert "CONFIDENTIAL-REMARK" in page and "Olivia Officer" in page
    assert client_for("officer_cnrs").get(assign).status_code == 200
    services.decide(app, world.director.user, "reject", None, "", "")
    response = client_for("applicant").get(decide)  # after the decision too
    assert response.status_code == 403 and "CONFIDENTIAL-REMARK" not in response.content.decode()
    assert client_for("applicant").get(reverse("start_project", args=[app.pk])).status_code == 403


def test_the_programmes_dashboard_is_for_the_partnership_office(world: World, store: Path) -> None:
    base = "/dashboard/I1294671590/I47508984"
    drill = (
        f"?call={world.call.pk}",
        f"?partner={world.cnrs.pk}&kind=payment",
        "?exchanges=2026",
        "?phd=1",
        "?status=open",
    )
    researcher = client_for("outsider")
    assert researcher.get(f"{base}/programmes/").status_code == 403
    for query in drill:
        assert researcher.get(f"{base}/programmes/rows/{query}").status_code == 403, query
    overview = researcher.get(f"{base}/")  # the observatory pages stay open to every signed-in user
    assert overview.status_code == 200 and "to-programmes" not in overview.content.decode()
    office = client_for("officer_cnrs")
    assert office.get(f"{base}/programmes/").status_code == 200
    for query in drill:
        assert office.get(f"{base}/programmes/rows/{query}").status_code == 200, query
    assert "to-programmes" in office.get(f"{base}/").content.decode()


def _project(world: World) -> Project:
    project = Project.objects.create(title="P", kind="seed", start=date(2025, 1, 1), end=date(2026, 12, 31))
    ProjectPartner.objects.create(project=project, partner=world.cnrs, agreed_share=Decimal(50))
    ProjectPartner.objects.create(project=project, partner=world.icl, agreed_share=Decimal(50))
    return project


def _errors(response: object, field: str) -> list[str]:
    form = response.context["form"]  # type: ignore[attr-defined]
    return [str(e) for e in form.errors.get(field, [])]


@pytest.mark.parametrize("value", ["0", "-1.15", "0.0000001"])
def test_a_rate_must_be_positive(world: World, value: str) -> None:
    office = client_for("officer_cnrs")
    response = office.post(
        reverse("rates"), {"one-day": "2026-01-01", "one-currency": "GBP", "one-eur_per_unit": value}
    )
    assert response.status_code == 200 and _errors(response, "eur_per_unit"), value
    assert not ReferenceRate.objects.exists()


def test_a_rate_for_eur_is_refused_and_a_good_rate_is_kept(world: World) -> None:
    office = client_for("officer_cnrs")
    response = office.post(
        reverse("rates"), {"one-day": "2026-01-01", "one-currency": "EUR", "one-eur_per_unit": "1"}
    )
    assert response.status_code == 200 and "EUR needs no rate" in " ".join(_errors(response, "currency"))
    assert not ReferenceRate.objects.exists()
    response = office.post(
        reverse("rates"), {"one-day": "2026-01-01", "one-currency": "GBP", "one-eur_per_unit": "1.15"}
    )
    assert response.status_code == 302 and ReferenceRate.objects.get().eur_per_unit == Decimal("1.15")
    project = _project(world)  # the finance page and the dashboard work with the rates kept
    assert office.get(reverse("finance", args=[project.pk])).status_code == 200
    assert office.get("/dashboard/I1294671590/I47508984/programmes/").status_code == 200


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2026-01-01,GBP,123456789.1234567", "has more than 6 decimal places"),
        ("2026-01-01,GBP,1234567.5", "has more than 6 digits before the decimal point"),
        ("2026-01-01,GBP,1e400", "has more than 6 digits before the decimal point"),
        ("2026-01-01,GBP,0", "is not a positive number"),
        ("2026-01-01,EUR,1", "EUR needs no rate"),
    ],
)
def test_a_csv_rate_that_does_not_fit_is_refused_naming_file_line_and_field(
    world: World, row: str, message: str
) -> None:
    with pytest.raises(RateCsvError, match=rf"^rates\.csv: line 3: field \w+: .*{message}"):
        parse_rates_csv(f"date,currency,eur_per_unit\n2025-12-01,GBP,1.16\n{row}\n", "rates.csv")
    office = client_for("officer_cnrs")
    upload = SimpleUploadedFile(
        "rates.csv", f"date,currency,eur_per_unit\n2025-12-01,GBP,1.16\n{row}\n".encode()
    )
    page = office.post(reverse("rates"), {"csv-csv_file": upload}, follow=True).content.decode()
    assert "rates.csv: line 3: field" in page and message in page
    assert not ReferenceRate.objects.exists()  # nothing of the file is kept
    assert office.get(reverse("rates")).status_code == 200


def test_a_csv_that_is_not_utf8_names_the_file_and_line(world: World) -> None:
    data = "date,currency,eur_per_unit\n2025-12-01,GBP,1.16\n2026-01-01,GBP,1.2 \u00e9\n".encode("latin-1")
    with pytest.raises(RateCsvError, match=r"^taux\.csv: line 3: the file is not UTF-8"):
        read_rates_csv(data, "taux.csv")
    page = client_for("officer_cnrs").post(
        reverse("rates"), {"csv-csv_file": SimpleUploadedFile("taux.csv", data)}, follow=True
    )
    assert "taux.csv: line 3: the file is not UTF-8" in page.content.decode()
    assert read_rates_csv(b"\xef\xbb\xbfdate,currency,eur_per_unit\n2025-12-01,GBP,1.16\n", "r.csv")


def test_negative_amounts_and_reversed_dates_are_field_errors(world: World) -> None:
    office = client_for("officer_cnrs")
    # an application asking for a negative amount: a field error, and the service refuses to submit one
    applicant = client_for("applicant")
    response = applicant.post(
        reverse("application_new", args=[world.call.pk]),
        {"title": "T", "summary": "S", "requested_amount": "-500"},
    )
    assert response.status_code == 200 and _errors(response, "requested_amount")
    assert not Application.objects.filter(title="T").exists()
    app = draft(world)
    Application.objects.filter(pk=app.pk).update(requested_amount=Decimal(-500))  # e.g. an old row
    app.refresh_from_db()
    assert "The requested amount must be above 0." in services.eligibility_problems(app)
    # a budget line (a commitment or payment is an amount given: above 0)
    project = _project(world)
    line = {"partner": world.cnrs.pk, "kind": "payment", "currency": "EUR", "day": "2025-03-01"}
    for amount in ("-1000", "0"):
        response = office.post(reverse("finance", args=[project.pk]), {**line, "amount": amount})
        assert response.status_code == 200 and _errors(response, "amount"), amount
    assert not LedgerEntry.objects.exists()
    # an exchange's funding (0 is an unfunded visit)
    visit = {
        "person": world.applicant.pk,
        "kind": "staff",
        "from_partner": world.cnrs.pk,
        "to_partner": world.icl.pk,
        "start": "2026-03-01",
        "end": "2026-03-10",
        "purpose": "Lab visit",
        "currency": "EUR",
    }
    response = office.post(reverse("exchange_list"), {**visit, "funding_amount": "-2500"})
    assert response.status_code == 200 and _errors(response, "funding_amount")
    assert office.post(reverse("exchange_list"), {**visit, "funding_amount": "0"}).status_code == 302
    assert Exchange.objects.get().funding_amount == 0
    # a grant: a positive amount, an end on or after its start
    grant = {"funder": "ERC", "scheme": "erc", "title": "G", "currency": "EUR", "start": "2026-01-01"}
    response = office.post(reverse("grant_list"), {**grant, "amount": "-100", "end": "2026-12-31"})
    assert response.status_code == 200 and _errors(response, "amount")
    response = office.post(reverse("grant_list"), {**grant, "amount": "100", "end": "2025-12-31"})
    assert response.status_code == 200 and "The grant ends before it starts." in _errors(response, "end")
    assert not Grant.objects.exists()
    assert (
        office.post(reverse("grant_list"), {**grant, "amount": "100", "end": "2026-12-31"}).status_code == 302
    )
    assert Grant.objects.get().amount == Decimal(100)


def test_the_mobility_bounds_message_never_contradicts_the_rule() -> None:
    start, end, bounds = date(2025, 9, 1), date(2028, 8, 31), (Decimal(3), Decimal(6))
    assert plan_problems([Stay(date(2027, 1, 1), date(2027, 3, 31))], start, end, bounds) == [
        "The plan totals 2.9 months (90 days); the total must be between 3 and 6 months."
    ]
    assert plan_problems([Stay(date(2027, 1, 1), date(2027, 7, 2))], start, end, bounds) == [
        "The plan totals 6.1 months (183 days); the total must be between 3 and 6 months."
    ]
    # Every length of a single stay: refused exactly when outside the bounds, and the total shown is
    # then outside them too (92 days = 3.02 months is the shortest plan kept, 182 days the longest).
    kept = []
    for days in range(1, 400):
        stay = Stay(date(2027, 1, 1), date(2027, 1, 1) + timedelta(days=days - 1))
        problems = plan_problems([stay], start, end, bounds)
        if not problems:
            kept.append(days)
            continue
        (message,) = problems
        shown = Decimal(re.search(r"totals ([0-9.]+) months", message).group(1))  # type: ignore[union-attr]
        assert not bounds[0] <= shown <= bounds[1], message
    assert (kept[0], kept[-1], len(kept)) == (92, 182, 91)


def test_relation_fields_have_french_labels(world: World, settings: object) -> None:
    from django.apps import apps
    from django.utils import translation

    for model in apps.get_app_config("programmes").get_models():
        for f in [*model._meta.local_fields, *model._meta.local_many_to_many]:
            if not f.is_relation:
                continue
            with translation.override("en"):
                english = str(f.verbose_name)
            with translation.override("fr"):
                french = str(f.verbose_name)
            assert french != english, f"{model.__name__}.{f.name}: {english!r} has no French label"
    office = client_for("officer_cnrs")
    office.cookies["django_language"] = "fr"
    project = _project(world)
    pages = {
        reverse("exchange_list"): (
            "Personne :",
            "Partenaire de départ :",
            "Partenaire d'accueil :",
            "Projet :",
        ),
        reverse("grant_list"): ("Partenaires :", "Projets :"),
        reverse("finance", args=[project.pk]): ("Partenaire :",),
    }
    english = (
        "Partner :",
        "Person :",
        "From partner :",
        "To partner :",
        "Project :",
        "Partners :",
        "Projects :",
    )
    for url, labels in pages.items():
        page = office.get(url).content.decode().replace("\xa0", " ").replace("&#x27;", "'")
        assert 'lang="fr"' in page, url
        for label in labels:
            assert label in page, (url, label)
        for label in english:
            assert label not in page, (url, label)
