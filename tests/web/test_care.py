"""Trust and care on PostgreSQL: personal data (export, erasure, retention), exports, e-mail, French, uploads,
sign-up consent, exchanges, grants and output suggestions from the real store."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cordiale.web.programmes import gdpr, services
from cordiale.web.programmes.models import (
    Application,
    Decision,
    Exchange,
    Grant,
    LedgerEntry,
    Output,
    PanelRecommendation,
    Person,
    Project,
    ProjectMember,
    ProjectPartner,
)
from cordiale.web.programmes.suggestions import suggest_outputs
from tests.web.factories import PASSWORD, PDF_BYTES, World, client_for, draft, panel_recommends


def _decided_with_money(world: World) -> Application:
    app = draft(world)
    services.transition(app, "submit", world.applicant.user)
    services.assign_reviewer(app, world.reviewer_unknown, world.officer_cnrs.user, confirm_unknown=True)
    panel_recommends(world, app)
    services.recommend(
        app, world.director.user, "award", f"{world.applicant.name} leads the CNRS side well"
    )  # a comment naming the applicant, scrubbed on erasure
    services.decide(app, world.director.user, "award", Decimal(20000), "panel", "ok")
    project = services.start_project(app, world.director.user, date(2025, 1, 1))
    services.add_ledger_entry(
        world.officer_cnrs.user,
        project=project,
        partner=world.cnrs,
        kind="payment",
        amount=Decimal(500),
        currency="EUR",
        day=date(2025, 2, 1),
    )
    return app


def test_export_of_a_persons_data(world: World) -> None:
    app = _decided_with_money(world)
    response = client_for("applicant").get(reverse("person_export", args=[world.applicant.pk]))
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["person"]["name"] == "Mohamed Mahmoud"
    assert data["account"]["email"] == "applicant@example.org"
    assert [a["title"] for a in data["applications"]] == [app.title]
    assert data["decisions_on_own_applications"][0]["outcome"] == "award"
    assert {"partner": "CNRS", "role": "researcher"} in data["roles"]
    assert data["activity"], "the person's own actions are part of the export"
    # Someone else cannot export it.
    assert client_for("outsider").get(reverse("person_export", args=[world.applicant.pk])).status_code == 403


def test_erasure_keeps_decisions_and_money_anonymised(world: World) -> None:
    app = _decided_with_money(world)
    assert (
        client_for("applicant")
        .post(reverse("person_erase", args=[world.applicant.pk]), {"confirm": "erase"})
        .status_code
        == 403
    )
    client_for("officer_cnrs").post(reverse("person_erase", args=[world.applicant.pk]), {"confirm": "erase"})
    person = Person.objects.get(pk=world.applicant.pk)
    assert person.erased_at is not None and person.name == f"Erased person {person.pk}"
    assert person.email == "" and person.openalex_author_id == "" and not person.roles.exists()
    user = get_user_model().objects.get(pk=world.applicant.user.pk)
    assert not user.is_active and user.email == "" and user.username == f"erased-{user.pk}"
    assert not user.has_usable_password()
    assert Decision.objects.get(application=app).amount == Decimal(20000)
    assert LedgerEntry.objects.filter(project__application=app).count() == 1
    assert not Application.objects.get(pk=app.pk).pdf
    comments = [r.comment for r in PanelRecommendation.objects.filter(application=app)]
    assert any("leads the CNRS side well" in c for c in comments)
    assert not any("Mohamed Mahmoud" in c for c in comments)
    for entry in LogEntry.objects.all():
        text = json.dumps(
            [entry.object_repr, entry.changes, entry.changes_text, entry.serialized_data, entry.actor_email]
        )
        assert (
            "Mohamed Mahmoud" not in text
            and "applicant@example.org" not in text
            and "A5049649985" not in text
        )
    assert not Client().login(username="applicant", password=PASSWORD)


def test_retention_purges_what_is_past_its_period(world: World) -> None:
    old = timezone.now() - timedelta(days=400)
    stale = draft(world)
    Application.objects.filter(pk=stale.pk).update(updated_at=old)
    fresh = draft(world)
    out = gdpr.purge_expired()
    assert out["draft_application"] == 1
    assert (
        not Application.objects.filter(pk=stale.pk).exists()
        and Application.objects.filter(pk=fresh.pk).exists()
    )
    nobody = get_user_model().objects.create_user("ghost", "g@example.org", PASSWORD)
    get_user_model().objects.filter(pk=nobody.pk).update(date_joined=timezone.now() - timedelta(days=4 * 365))
    call_command("purge_expired")
    assert not get_user_model().objects.filter(username="ghost").exists()


def test_exports_csv_and_json(world: World) -> None:
    app = _decided_with_money(world)
    c = client_for("officer_icl")
    rows = list(
        csv.DictReader(
            io.StringIO(c.get(reverse("export_table", args=["applications", "csv"])).content.decode())
        )
    )
    assert (
        rows[0]["title"] == app.title and rows[0]["decision"] == "award" and rows[0]["amount"] == "20000.00"
    )
    ledger = json.loads(c.get(reverse("export_table", args=["ledger", "json"])).content)
    assert ledger == [
        {
            "id": ledger[0]["id"],
            "project": app.title,
            "partner": "CNRS",
            "kind": "payment",
            "amount": "500.00",
            "currency": "EUR",
            "date": "2025-02-01",
            "note": "",
        }
    ]
    assert c.get("/exports/nothing.csv").status_code == 404


def test_deadline_reminders(world: World) -> None:
    draft(world)
    world.call.closes = timezone.localdate() + timedelta(days=3)
    world.call.save()
    mail.outbox.clear()
    call_command("send_deadline_reminders", days=7)
    assert [m.to for m in mail.outbox] == [["applicant@example.org"]]
    assert "Deadline in 3 days" in mail.outbox[0].subject


def test_french_interface(db: None) -> None:
    c = Client(headers={"accept-language": "fr"})
    page = c.get("/accounts/login/").content.decode()
    assert "Se connecter" in page and 'lang="fr"' in page
    page = Client(headers={"accept-language": "en"}).get("/accounts/login/").content.decode()
    assert "Sign in" in page


def test_sign_up_requires_consent(world: World) -> None:
    form = {
        "username": "newbie",
        "password1": "a-long-passw0rd-x",
        "password2": "a-long-passw0rd-x",
        "email": "new@example.org",
        "full_name": "New Bie",
        "partner": world.icl.pk,
        "orcid": "",
    }
    page = Client().post(reverse("signup"), form)
    assert page.status_code == 200 and not Person.objects.filter(name="New Bie").exists()
    assert Client().post(reverse("signup"), {**form, "consent": "on"}).status_code == 302
    person = Person.objects.get(name="New Bie")
    assert person.consent_at is not None and person.consent_version == "2026-1"
    assert person.roles.get().kind == "researcher"


def test_uploads_must_be_small_pdfs(world: World, settings: object) -> None:
    settings.CORDIALE_PDF_MAX_MB = 1  # type: ignore[attr-defined]
    c = client_for("applicant")
    base = {"title": "T", "summary": "", "requested_amount": "100"}
    url = reverse("application_new", args=[world.call.pk])
    big = SimpleUploadedFile("big.pdf", PDF_BYTES + b"0" * (1024 * 1024 + 1), "application/pdf")
    page = c.post(url, {**base, "pdf": big}).content.decode()
    assert "big.pdf: 1.0 MB is over the 1 MB limit." in page
    fake = SimpleUploadedFile("fake.pdf", b"hello", "application/pdf")
    assert "fake.pdf is not a PDF file." in c.post(url, {**base, "pdf": fake}).content.decode()
    ok = SimpleUploadedFile("ok.pdf", PDF_BYTES, "application/pdf")
    assert c.post(url, {**base, "pdf": ok}).status_code == 302
    app = Application.objects.get(title="T")
    assert c.get(reverse("application_pdf", args=[app.pk])).getvalue() == PDF_BYTES


def test_exchanges_and_grants(world: World) -> None:
    c = client_for("officer_cnrs")
    project = Project.objects.create(title="P", kind="seed", start=date(2025, 1, 1), end=date(2026, 12, 31))
    visit = {
        "person": world.outsider.pk,
        "kind": "staff",
        "from_partner": world.cnrs.pk,
        "to_partner": world.icl.pk,
        "start": "2025-05-01",
        "end": "2025-05-20",
        "purpose": "Seminar",
        "funding_amount": "1500",
        "currency": "EUR",
        "project": project.pk,
    }
    assert c.post(reverse("exchange_list"), visit).status_code == 302
    assert Exchange.objects.get().purpose == "Seminar"
    bad = c.post(reverse("exchange_list"), {**visit, "to_partner": world.cnrs.pk}).content.decode()
    assert "A visit goes from one partner to the other." in bad
    grant = {
        "funder": "European Commission",
        "scheme": "horizon_europe",
        "reference": "101000001",
        "title": "CO2 storage",
        "amount": "2000000",
        "currency": "EUR",
        "partners": [world.cnrs.pk, world.icl.pk],
        "projects": [project.pk],
    }
    assert c.post(reverse("grant_list"), grant).status_code == 302
    assert list(Grant.objects.get().projects.all()) == [project]


def test_output_suggestions_from_the_store(world: World, store: Path) -> None:
    project = Project.objects.create(title="P", kind="seed", start=date(2025, 6, 1), end=date(2027, 5, 31))
    ProjectPartner.objects.create(project=project, partner=world.cnrs)
    ProjectMember.objects.create(project=project, person=world.applicant, partner=world.cnrs, kind="pi")
    ProjectMember.objects.create(
        project=project, person=world.reviewer_conflict, partner=world.cnrs, kind="member"
    )
    found = suggest_outputs(project)
    assert found and all(s.publication_date >= "2025-06-01" for s in found)
    assert found[0].project_people == 2  # works with both people come first
    assert [s.project_people for s in found] == sorted((s.project_people for s in found), reverse=True)
    c = client_for("officer_cnrs")
    first = found[0]
    c.post(reverse("output_add", args=[project.pk]), {"identifier": first.work_id, "title": first.title})
    assert Output.objects.get(project=project).work_id == first.work_id
    assert first.work_id not in {s.work_id for s in suggest_outputs(project)}
    page = c.get(reverse("project_detail", args=[project.pk])).content.decode()
    assert found[1].work_id in page
    c.post(reverse("output_add", args=[project.pk]), {"identifier": "https://doi.org/10.1234/ABC"})
    assert Output.objects.filter(doi="10.1234/abc").exists()


def test_suggestions_say_when_there_is_no_store(world: World, settings: object, tmp_path: Path) -> None:
    settings.CORDIALE_STORE = str(tmp_path / "none.duckdb")  # type: ignore[attr-defined]
    project = Project.objects.create(title="P", kind="seed", start=date(2025, 6, 1), end=date(2027, 5, 31))
    ProjectPartner.objects.create(project=project, partner=world.cnrs)
    ProjectMember.objects.create(project=project, person=world.applicant, partner=world.cnrs, kind="pi")
    page = client_for("officer_cnrs").get(reverse("project_detail", args=[project.pk])).content.decode()
    assert "no store at" in page


def test_partner_ids_must_name_an_institution_in_the_store(db: None, store: Path) -> None:
    from django.core.exceptions import ValidationError

    from cordiale.web.programmes.models import Partner

    Partner(name="CNRS", openalex_id="I1294671590", ror_id="02feahw73").full_clean()
    Partner(name="Imperial", openalex_id="I47508984").full_clean()
    with pytest.raises(ValidationError, match="I999 is not an institution in the store"):
        Partner(name="Nowhere", openalex_id="I999").full_clean()
    with pytest.raises(ValidationError, match=r"ROR id https://ror\.org/041kmwe10, not 02feahw73"):
        Partner(name="Mixed", openalex_id="I47508984", ror_id="02feahw73").full_clean()


def test_project_page_shows_milestones_grants_and_phd_problems(world: World) -> None:
    from cordiale.web.programmes.models import Milestone

    project = Project.objects.create(
        title="Joint PhD", kind="phd", start=date(2025, 9, 1), end=date(2028, 8, 31)
    )
    ProjectPartner.objects.create(project=project, partner=world.cnrs)
    ProjectPartner.objects.create(project=project, partner=world.icl)
    Milestone.objects.create(project=project, title="First joint paper", due=date(2026, 9, 1))
    grant = Grant.objects.create(funder="ERC", scheme="erc", title="Faults", amount=Decimal(1500000))
    grant.projects.add(project)
    page = client_for("officer_icl").get(reverse("project_detail", args=[project.pk])).content.decode()
    assert "First joint paper" in page and "2026-09-01" in page and "ERC: Faults" in page
    assert "A joint PhD has one doctoral student at each partner." in page
    assert "A joint PhD has two co-supervisors, one at each partner." in page
