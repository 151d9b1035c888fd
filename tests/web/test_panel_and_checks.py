"""On PostgreSQL: the decision panel, the call's dates, ORCID check digits, the activity log across models,
and the PhD mobility bounds read from the settings."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cordiale.web.programmes import gdpr, services
from cordiale.web.programmes.mobility import Stay
from cordiale.web.programmes.models import (
    Application,
    PanelRecommendation,
    Person,
    PhdStudent,
    Project,
    ProjectPartner,
    ReviewAssignment,
)
from cordiale.web.programmes.models.people import orcid_check_digit, validate_orcid
from cordiale.web.programmes.workflow import WORKFLOWS
from tests.web.factories import World, client_for, draft


def _reviewed(world: World) -> tuple[Application, ReviewAssignment]:
    app = draft(world)
    services.transition(app, "submit", world.applicant.user)
    out = services.assign_reviewer(app, world.reviewer_ok, world.officer_icl.user)
    assert out.assignment is not None
    return app, out.assignment


# 1. The decision panel ------------------------------------------------------------------------------


def test_the_panel_requirement_is_workflow_data() -> None:
    for kind in ("seed", "phd"):
        wf = WORKFLOWS[kind]
        assert wf.transition("award").needs_panel and wf.transition("reject").needs_panel
        assert wf.may("recommend", "under_review", {"panel"})
        assert not wf.may("recommend", "under_review", {"reviewer", "officer", "applicant"})
        assert not wf.may("recommend", "awarded", {"panel"})
    assert not WORKFLOWS["exchange"].transition("award").needs_panel


def test_the_chair_decides_only_after_every_panel_member_recommends(world: World, store: Path) -> None:
    app, _assignment = _reviewed(world)
    with pytest.raises(ValidationError, match="0 of the 2 recommendations needed") as exc:
        services.decide(app, world.director.user, "award", Decimal(30000), "", "")
    assert "waiting for: Dana Director, Olivia Officer" in exc.value.messages[0]
    # Only panel members recommend: not another officer, the reviewer or the applicant.
    for outsider in (world.officer_cnrs, world.reviewer_ok, world.applicant):
        with pytest.raises(services.WorkflowError):
            services.recommend(app, outsider.user, "award", "")
    services.recommend(app, world.officer_icl.user, "reject", "Too early.")
    services.recommend(app, world.officer_icl.user, "award", "Changed my mind.")  # revised, not added
    with pytest.raises(ValidationError, match=r"1 of the 2 .*waiting for: Dana Director\.'\]$"):
        services.decide(app, world.director.user, "award", Decimal(30000), "", "")
    services.recommend(app, world.director.user, "award", "Yes.")
    # A panel member who is not the chair still cannot decide.
    with pytest.raises(services.WorkflowError):
        services.decide(app, world.officer_icl.user, "award", Decimal(30000), "", "")
    decision = services.decide(app, world.director.user, "award", Decimal(30000), "", "Funded.")
    assert decision.panel == "Dana Director, Olivia Officer"
    assert sorted(PanelRecommendation.objects.values_list("member__name", "recommendation", "comment")) == [
        ("Dana Director", "award", "Yes."),
        ("Olivia Officer", "award", "Changed my mind."),
    ]
    with pytest.raises(services.WorkflowError):  # no recommendation after the decision
        services.recommend(app, world.officer_icl.user, "reject", "")
    exported = gdpr.export_person(world.officer_icl)  # a member's own recommendations are their data
    assert exported["panels"] == ["Seed fund 2026"]
    assert [r["comment"] for r in exported["panel_recommendations"]] == ["Changed my mind."]


def test_a_quorum_is_enough_and_a_call_needs_a_panel(world: World, store: Path) -> None:
    app, _assignment = _reviewed(world)
    world.call.panel_quorum = 1
    world.call.save()
    services.recommend(app, world.officer_icl.user, "reject", "Weak.")
    assert services.panel_status(app).complete
    services.decide(app, world.director.user, "reject", None, "", "")
    assert Application.objects.get(pk=app.pk).state == "rejected"

    other = draft(world)
    services.transition(other, "submit", world.applicant.user)
    world.call.panel.clear()
    with pytest.raises(ValidationError, match="no decision panel"):
        services.decide(other, world.director.user, "reject", None, "", "")


def test_panel_membership_gives_the_pages_and_the_decision_page_shows_recommendations(
    world: World, store: Path
) -> None:
    app, _assignment = _reviewed(world)
    outsider = client_for("outsider")
    assert outsider.get(reverse("application_detail", args=[app.pk])).status_code == 403
    assert outsider.get(reverse("recommend", args=[app.pk])).status_code == 403
    world.call.panel.add(world.outsider)  # an external expert joins the panel
    page = outsider.get(reverse("application_detail", args=[app.pk])).content.decode()
    assert 'id="recommend"' in page and 'id="decide"' not in page
    response = outsider.post(
        reverse("recommend", args=[app.pk]), {"recommendation": "award", "comment": "OUTSIDER-VIEW"}
    )
    assert response.status_code == 302
    decide_page = client_for("director").get(reverse("decide", args=[app.pk])).content.decode()
    assert "OUTSIDER-VIEW" in decide_page and "1 recorded, 3 needed, of 3 panel members." in decide_page
    assert client_for("officer_cnrs").get(reverse("recommend", args=[app.pk])).status_code == 403


# 2. Submission only while the call is open ----------------------------------------------------------


@pytest.mark.parametrize("when", ["before opening", "after closing"])
def test_no_submission_outside_the_calls_dates(world: World, when: str) -> None:
    today = timezone.localdate()
    if when == "before opening":
        world.call.opens, world.call.closes = today + timedelta(days=1), today + timedelta(days=30)
    else:
        world.call.opens, world.call.closes = today - timedelta(days=30), today - timedelta(days=1)
    world.call.save()
    app = draft(world)
    with pytest.raises(ValidationError) as exc:
        services.transition(app, "submit", world.applicant.user)
    assert exc.value.messages == [f"The call is open from {world.call.opens} to {world.call.closes}."]
    assert Application.objects.get(pk=app.pk).state == "draft"
    page = client_for("applicant").post(
        reverse("application_transition", args=[app.pk, "submit"]), follow=True
    )
    assert "The call is open from" in page.content.decode()
    assert Application.objects.get(pk=app.pk).state == "draft"


# 3. ORCID iDs ---------------------------------------------------------------------------------------


def test_orcid_check_digit() -> None:
    assert orcid_check_digit("000000021825009") == "7"  # ORCID's own example, 0000-0002-1825-0097
    assert orcid_check_digit("000000021694233") == "X"  # 0000-0002-1694-233X
    validate_orcid("0000-0002-1825-0097")
    validate_orcid("0000-0002-1694-233X")
    with pytest.raises(ValidationError, match="check character should be 7"):
        validate_orcid("0000-0002-1825-0098")
    with pytest.raises(ValidationError, match="looks like"):
        validate_orcid("0000-0002-1825-009")


def test_orcid_is_checked_on_people_and_at_sign_up_and_exported(world: World) -> None:
    world.applicant.orcid = "0000-0002-1825-0096"
    with pytest.raises(ValidationError) as exc:
        world.applicant.full_clean()
    assert "orcid" in exc.value.message_dict
    world.applicant.orcid = "0000-0002-1825-0097"
    world.applicant.full_clean()
    world.applicant.save()
    form = {
        "username": "newbie",
        "password1": "a-long-passw0rd-x",
        "password2": "a-long-passw0rd-x",
        "email": "new@example.org",
        "full_name": "New Bie",
        "partner": world.icl.pk,
        "orcid": "0000-0002-1694-2330",
        "consent": "on",
    }
    page = Client().post(reverse("signup"), form).content.decode()
    assert "0000-0002-1694-2330 is not a valid ORCID iD: its check character should be X." in page
    assert not Person.objects.filter(name="New Bie").exists()
    assert Client().post(reverse("signup"), {**form, "orcid": "0000-0002-1694-233X"}).status_code == 302
    rows = list(
        csv.DictReader(io.StringIO(client_for("officer_cnrs").get("/exports/people.csv").content.decode()))
    )
    orcids = {r["name"]: r["orcid"] for r in rows}
    assert orcids["Mohamed Mahmoud"] == "0000-0002-1825-0097"
    assert orcids["New Bie"] == "0000-0002-1694-233X"
    assert gdpr.export_person(world.applicant)["person"]["orcid"] == "0000-0002-1825-0097"


# 4. The activity log across model types -------------------------------------------------------------


def _last_log(model: str, pk: int) -> LogEntry:
    return LogEntry.objects.filter(content_type__model=model, object_pk=str(pk)).latest("timestamp")


def test_changes_to_budget_lines_stays_reviews_and_people_are_logged(world: World, store: Path) -> None:
    project = Project.objects.create(
        title="Joint PhD", kind="phd", start=date(2025, 9, 1), end=date(2028, 8, 31)
    )
    for partner in (world.cnrs, world.icl):
        ProjectPartner.objects.create(project=project, partner=partner)
    line = services.add_ledger_entry(
        world.officer_cnrs.user,
        project=project,
        partner=world.cnrs,
        kind="payment",
        amount=Decimal(500),
        currency="EUR",
        day=date(2025, 2, 1),
    )
    services.update_ledger_entry(world.officer_cnrs.user, line, amount=Decimal(750))
    entry = _last_log("ledgerentry", line.pk)
    assert entry.actor == world.officer_cnrs.user and entry.action == LogEntry.Action.UPDATE
    assert set(entry.changes_dict) == {"amount"}
    assert [Decimal(v) for v in entry.changes_dict["amount"]] == [Decimal(500), Decimal(750)]

    student = PhdStudent.objects.create(
        project=project,
        person=world.outsider,
        home_partner=world.cnrs,
        host_partner=world.icl,
        funding_start=project.start,
        funding_end=project.end,
    )
    (stay,) = services.set_mobility_plan(
        student, [Stay(date(2026, 1, 1), date(2026, 4, 30))], world.officer_icl.user
    )
    entry = _last_log("mobilitystay", stay.pk)
    assert entry.actor == world.officer_icl.user and entry.action == LogEntry.Action.CREATE
    assert {"start", "end"} <= set(entry.changes_dict)

    app, assignment = _reviewed(world)
    crit = {c.name: c.pk for c in world.call.criteria.all()}
    services.submit_review(
        assignment, world.reviewer_ok.user, {crit["Excellence"]: 4, crit["Feasibility"]: 3}, "Fine.", True
    )
    entry = _last_log("reviewassignment", assignment.pk)
    assert entry.actor == world.reviewer_ok.user
    assert {"comment", "submitted_at"} <= set(entry.changes_dict)
    assert entry.changes_dict["comment"] == ["", "Fine."]
    score_logs = LogEntry.objects.filter(content_type__model="score")
    assert score_logs.count() == 2 and {e.actor for e in score_logs} == {world.reviewer_ok.user}

    rec = services.recommend(app, world.director.user, "award", "Go.")
    entry = _last_log("panelrecommendation", rec.pk)
    assert entry.actor == world.director.user and entry.changes_dict["recommendation"][1] == "award"

    with set_actor(world.officer_cnrs.user):  # an office edit of a person's record
        world.pi_icl.orcid = "0000-0002-1825-0097"
        world.pi_icl.save()
    entry = _last_log("person", world.pi_icl.pk)
    assert entry.actor == world.officer_cnrs.user
    assert entry.changes_dict == {"orcid": ["", "0000-0002-1825-0097"]}
    page = client_for("officer_cnrs").get(reverse("activity")).content.decode()
    for model in ("ledger", "mobility", "review", "person"):
        assert model in page.lower()


# 6. The mobility bounds come from the settings ------------------------------------------------------


def test_mobility_bounds_are_read_from_the_environment(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CORDIALE_DATA_DIR": str(tmp_path),
        "CORDIALE_SECRET_KEY": "x" * 50,
        "CORDIALE_PHD_MOBILITY_MIN_MONTHS": "2",
        "CORDIALE_PHD_MOBILITY_MAX_MONTHS": "4.5",
    }
    code = "from cordiale.web import settings; print(settings.CORDIALE_PHD_MOBILITY_MONTHS)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(Decimal('2'), Decimal('4.5'))"


def test_mobility_bounds_from_the_settings_reach_the_service_and_the_form(
    world: World, settings: object
) -> None:
    settings.CORDIALE_PHD_MOBILITY_MONTHS = (Decimal(1), Decimal(2))  # type: ignore[attr-defined]
    project = Project.objects.create(
        title="Joint PhD", kind="phd", start=date(2025, 9, 1), end=date(2028, 8, 31)
    )
    for partner in (world.cnrs, world.icl):
        ProjectPartner.objects.create(project=project, partner=partner)
    student = PhdStudent.objects.create(
        project=project,
        person=world.outsider,
        home_partner=world.cnrs,
        host_partner=world.icl,
        funding_start=project.start,
        funding_end=project.end,
    )
    # Four months are fine under the default 3–6 but not under the configured 1–2.
    with pytest.raises(ValidationError) as exc:
        services.set_mobility_plan(
            student, [Stay(date(2026, 1, 1), date(2026, 4, 30))], world.officer_cnrs.user
        )
    assert exc.value.messages == [
        "The plan totals 4.0 months (120 days); the total must be between 1 and 2 months."
    ]
    c = client_for("officer_cnrs")
    url = reverse("mobility_plan", args=[student.pk])
    form = {
        "stay-TOTAL_FORMS": "1",
        "stay-INITIAL_FORMS": "0",
        "stay-MIN_NUM_FORMS": "0",
        "stay-MAX_NUM_FORMS": "1000",
        "stay-0-start": "2026-01-01",
        "stay-0-end": "2026-04-30",
    }
    page = c.post(url, form).content.decode()
    assert "between 1 and 2 months" in page and not student.stays.exists()
    assert c.post(url, {**form, "stay-0-end": "2026-01-31"}).status_code == 302  # 1.0 month: accepted
    assert [(s.start, s.end) for s in student.stays.all()] == [(date(2026, 1, 1), date(2026, 1, 31))]
