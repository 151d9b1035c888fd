"""The main journeys, end to end in real headless Chromium against the app on PostgreSQL.

An applicant drafts and submits; a reviewer with a conflict is refused; a reviewer scores; the panel
decides; the award becomes a project; a mobility plan outside the bounds is refused; the co-financing
split flags drift; a person's data is exported and erased.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core import mail

from cordiale.web.programmes import services
from cordiale.web.programmes.models import (
    Application,
    Decision,
    PhdStudent,
    Project,
    ProjectMember,
    ProjectPartner,
)
from tests.web.browser import Page, start_chromium
from tests.web.factories import PASSWORD, PDF_BYTES, World, draft, make_world

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    d = start_chromium()
    yield d
    d.quit()


@pytest.fixture()
def page(driver: Any, live_server: Any) -> Page:
    return Page(driver, live_server.url)


@pytest.fixture()
def tw(transactional_db: None) -> World:
    return make_world()


def test_call_journey_from_draft_to_project(page: Page, tw: World, store: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "proposal.pdf"
    pdf.write_bytes(PDF_BYTES)
    mail.outbox.clear()

    # An applicant drafts an application, then submits it.
    page.sign_in("applicant", PASSWORD)
    page.click(f'a[href="/calls/{tw.call.pk}/"]')
    page.click("#apply")
    page.fill("title", "Carbonate reservoirs under CO2")
    page.fill("summary", "A joint study.")
    page.fill("requested_amount", "40000")
    page.el('[name="pdf"]').send_keys(str(pdf))
    page.fill(f"pi_{tw.cnrs.pk}", "Mohamed Mahmoud")
    page.fill(f"pi_{tw.icl.pk}", "Fadhil Sadooni")
    page.click("#save-draft")
    assert "Draft saved." in page.text() and page.el("#state").text == "draft"
    page.click("#do-submit")
    assert page.el("#state").text == "submitted"
    app = Application.objects.get(title="Carbonate reservoirs under CO2")
    assert app.state == "submitted" and app.pdf.read() == PDF_BYTES
    assert any("Application submitted" in m.subject for m in mail.outbox)

    # A reviewer with a conflict of interest is refused; a clear one is assigned.
    page.sign_in("officer_cnrs", PASSWORD)
    page.go(f"/applications/{app.pk}/")
    page.click("#assign")
    page.fill("reviewer", "Muhammad Kamal")
    page.click("#assign-submit")
    assert "Refused: Muhammad Kamal has a conflict of interest." in page.text()
    assert "co-authored W" in page.el("#coi-reasons").text
    page.fill("reviewer", "Mohamed El-Ghali")
    page.click("#assign-submit")
    assert "Mohamed El-Ghali is assigned." in page.text()
    assert page.el("#state").text == "under review"

    # The reviewer scores.
    page.sign_in("reviewer_ok", PASSWORD)
    page.click(f'a[href="/reviews/{app.assignments.get().pk}/"]')
    excellence, feasibility = (c.pk for c in tw.call.criteria.order_by("id"))
    page.fill(f"score_{excellence}", "4")
    page.fill(f"score_{feasibility}", "5")
    page.fill("comment", "Convincing plan.")
    page.click("#review-submit")
    assert "Review saved." in page.text()
    assert app.assignments.get().weighted_score() == Decimal("4.33")

    # The panel decides: each member records a recommendation, then the chair (the director) decides.
    page.sign_in("director", PASSWORD)
    page.go(f"/applications/{app.pk}/")
    page.click("#decide")
    page.fill("outcome", "award")
    page.fill("amount", "35000")
    page.click("#decide-submit")  # refused: the panel has not recommended yet
    assert "waiting for: Dana Director, Olivia Officer" in page.text()
    page.go(f"/applications/{app.pk}/")
    page.click("#recommend")
    assert "4.33" in page.text()
    page.fill("recommendation", "award")
    page.fill("comment", "Strong pair of PIs.")
    page.click("#recommend-submit")
    assert "Recommendation recorded." in page.text()
    services.recommend(app, tw.officer_icl.user, "award", "Agreed.")  # the other member, off-screen
    page.click("#decide")
    assert "4.33" in page.text()
    assert "Strong pair of PIs." in page.el("#panel").text and "Agreed." in page.el("#panel").text
    page.fill("outcome", "award")
    page.fill("amount", "35000")
    page.fill("feedback", "Funded.")
    page.click("#decide-submit")
    assert "Decision recorded." in page.text() and page.el("#decision").text.startswith("award")
    assert Decision.objects.get(application=app).panel == "Dana Director, Olivia Officer"

    # The award becomes a project.
    page.sign_in("officer_icl", PASSWORD)
    page.go(f"/applications/{app.pk}/")
    page.click("#start-project")
    page.fill("start", "2026-01-01")
    page.click("#start-submit")
    assert page.el("#project-title").text == "Carbonate reservoirs under CO2"
    project = Project.objects.get(application=app)
    assert project.start == date(2026, 1, 1) and project.partner_shares.count() == 2
    subjects = [m.subject for m in mail.outbox]
    assert any("Review assignment" in s for s in subjects) and any(
        "Decision on your application" in s for s in subjects
    )

    # The applicant never sees the confidential review.
    page.sign_in("applicant", PASSWORD)
    page.go(f"/applications/{app.pk}/")
    assert "Convincing plan." not in page.text()


def _phd_project(tw: World) -> PhdStudent:
    project = Project.objects.create(
        title="Joint PhD on faults", kind="phd", start=date(2025, 9, 1), end=date(2028, 8, 31)
    )
    ProjectPartner.objects.create(project=project, partner=tw.cnrs)
    ProjectPartner.objects.create(project=project, partner=tw.icl)
    ProjectMember.objects.create(project=project, person=tw.applicant, partner=tw.cnrs, kind="co_supervisor")
    ProjectMember.objects.create(project=project, person=tw.pi_icl, partner=tw.icl, kind="co_supervisor")
    ProjectMember.objects.create(project=project, person=tw.outsider, partner=tw.cnrs, kind="student")
    return PhdStudent.objects.create(
        project=project,
        person=tw.outsider,
        home_partner=tw.cnrs,
        host_partner=tw.icl,
        funding_start=date(2025, 9, 1),
        funding_end=date(2028, 8, 31),
    )


def test_mobility_plan_outside_the_bounds_is_refused(page: Page, tw: World) -> None:
    student = _phd_project(tw)
    page.sign_in("outsider", PASSWORD)
    page.go(f"/projects/{student.project_id}/")
    page.click("a.mobility")
    page.fill("stay-0-start", "2026-01-05")
    page.fill("stay-0-end", "2026-02-04")
    page.fill("stay-1-start", "2026-06-01")
    page.fill("stay-1-end", "2026-06-30")
    page.click("#plan-submit")
    assert "The plan totals 2.0 months (61 days); the total must be between 3 and 6 months." in page.text()
    assert not student.stays.exists()
    page.fill("stay-1-end", "2026-07-31")
    page.click("#plan-submit")
    assert "Mobility plan saved." in page.text()
    assert student.stays.count() == 2


def test_cofinancing_split_flags_drift(page: Page, tw: World) -> None:
    student = _phd_project(tw)
    project_id = student.project_id
    page.sign_in("officer_cnrs", PASSWORD)
    page.go("/rates/")
    page.fill("one-day", "2025-01-01")
    page.fill("one-currency", "GBP")
    page.fill("one-eur_per_unit", "1.20")
    page.click("#rate-submit")
    assert "Rate saved." in page.text()
    page.go(f"/projects/{project_id}/finance/")
    for partner, amount, currency in (("CNRS", "10000", "EUR"), ("CNRS", "2000", "EUR")):
        page.fill("partner", partner)
        page.fill("kind", "payment")
        page.fill("amount", amount)
        page.fill("currency", currency)
        page.fill("day", "2025-10-01")
        page.click("#ledger-submit")
        assert "Budget line added." in page.text()
    # The CNRS officer cannot add Imperial's budget lines.
    page.fill("partner", "Imperial")
    page.fill("kind", "payment")
    page.fill("amount", "1")
    page.fill("currency", "GBP")
    page.fill("day", "2025-10-01")
    page.click("#ledger-submit")
    assert "403" in page.text() or "Forbidden" in page.text()
    page.sign_in("officer_icl", PASSWORD)
    page.go(f"/projects/{project_id}/finance/")
    page.fill("partner", "Imperial")
    page.fill("kind", "payment")
    page.fill("amount", "8000")
    page.fill("currency", "GBP")
    page.fill("day", "2025-11-01")
    page.click("#ledger-submit")
    # 12,000 EUR against 8,000 GBP × 1.20 = 9,600 EUR: 55.56 % / 44.44 %, 5.56 points off 50/50.
    assert "55.56 %" in page.el("#split").text and "44.44 %" in page.el("#split").text
    assert "more than 5 percentage points" in page.el("#drift-flag").text


def test_a_persons_data_is_exported_and_erased(page: Page, tw: World) -> None:
    app = draft(tw)
    page.sign_in("officer_cnrs", PASSWORD)
    page.go("/people/")
    page.click(f'a[href="/people/{tw.applicant.pk}/"]')
    exported = json.loads(page.fetch(f"/people/{tw.applicant.pk}/export.json"))
    assert exported["person"]["name"] == "Mohamed Mahmoud"
    assert exported["applications"][0]["title"] == app.title
    page.fill("confirm", "erase")
    page.click("#erase")
    assert page.el("#person-name").text == f"Erased person {tw.applicant.pk}"
    assert page.el("#erased").is_displayed()
    assert "Mohamed Mahmoud" not in page.fetch(f"/people/{tw.applicant.pk}/export.json")
    assert Application.objects.filter(pk=app.pk).exists()


def test_the_interface_speaks_french(page: Page, tw: World) -> None:
    page.go("/")
    assert "/accounts/login/" in page.driver.current_url
    page.fill("language", "Français")
    page.wait_for_text("h1", "Se connecter")
    assert page.el("#sign-in").text == "Se connecter"
