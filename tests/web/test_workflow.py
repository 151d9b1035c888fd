"""The call workflow via the service layer on PostgreSQL: drafts, submission, conflicts, reviews, decision."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from cordiale.web.programmes import services
from cordiale.web.programmes.models import Application, Project, ReviewAssignment
from cordiale.web.programmes.workflow import WORKFLOWS
from tests.web.factories import World, draft, panel_recommends


def test_workflows_are_consistent_data() -> None:
    for kind, wf in WORKFLOWS.items():
        names = [t.name for t in wf.transitions]
        assert len(names) == len(set(names)), kind
        for t in wf.transitions:
            assert t.target in wf.states and t.sources <= set(wf.states), (kind, t.name)
            assert t.actors, (kind, t.name)
        assert {"submit", "withdraw", "award", "reject", "start_project"} <= set(names)
        assert wf.may("edit", "draft", {"applicant"}) and not wf.may("edit", "submitted", {"applicant"})
    assert "open_review" not in {t.name for t in WORKFLOWS["exchange"].transitions}


def test_submission_needs_eligibility(world: World) -> None:
    app = draft(world, with_pdf=False, with_pi=False)
    with pytest.raises(ValidationError) as exc:
        services.transition(app, "submit", world.applicant.user)
    text = " ".join(exc.value.messages)
    assert "A PI at Imperial is required." in text
    assert "Upload the proposal as a PDF." in text
    assert Application.objects.get(pk=app.pk).state == "draft"


def test_submit_notifies_and_only_the_applicant_may(world: World) -> None:
    app = draft(world)
    with pytest.raises(services.WorkflowError):
        services.transition(app, "submit", world.officer_cnrs.user)
    services.transition(app, "submit", world.applicant.user)
    app.refresh_from_db()
    assert app.state == "submitted" and app.submitted_at is not None
    assert len(mail.outbox) == 1
    assert set(mail.outbox[0].to) == {
        "applicant@example.org",
        "officer_cnrs@example.org",
        "officer_icl@example.org",
    }
    with pytest.raises(services.WorkflowError):  # no second submission
        services.transition(app, "submit", world.applicant.user)


def test_withdraw(world: World) -> None:
    app = draft(world)
    services.transition(app, "submit", world.applicant.user)
    with pytest.raises(services.WorkflowError):
        services.transition(app, "withdraw", world.pi_icl.user)
    services.transition(app, "withdraw", world.applicant.user)
    assert Application.objects.get(pk=app.pk).state == "withdrawn"


def test_over_the_ceiling_is_not_eligible(world: World) -> None:
    app = draft(world)
    app.requested_amount = Decimal("50000.01")
    app.save()
    assert any("ceiling" in p for p in services.eligibility_problems(app))


def _submitted(world: World) -> Application:
    app = draft(world)
    services.transition(app, "submit", world.applicant.user)
    return app


def test_reviewer_with_coauthorship_conflict_is_refused(world: World, store: Path) -> None:
    app = _submitted(world)
    out = services.assign_reviewer(app, world.reviewer_conflict, world.officer_cnrs.user)
    assert out.assignment is None and out.status == "conflict"
    assert any("co-authored W" in r for r in out.reasons)
    assert not ReviewAssignment.objects.exists()
    # Confirming does not override a conflict.
    out = services.assign_reviewer(
        app, world.reviewer_conflict, world.officer_cnrs.user, confirm_unknown=True
    )
    assert out.assignment is None


def test_declared_conflict_is_refused_even_without_a_store(
    world: World, settings: object, tmp_path: Path
) -> None:
    settings.CORDIALE_STORE = str(tmp_path / "missing.duckdb")  # type: ignore[attr-defined]
    world.reviewer_ok.declared_conflicts.add(world.pi_icl)
    app = _submitted(world)
    out = services.assign_reviewer(app, world.reviewer_ok, world.officer_cnrs.user)
    assert out.status == "conflict" and out.assignment is None


def test_unknown_needs_an_officers_confirmation(world: World, store: Path) -> None:
    app = _submitted(world)
    out = services.assign_reviewer(app, world.reviewer_unknown, world.officer_cnrs.user)
    assert out.status == "unknown" and out.assignment is None
    out = services.assign_reviewer(app, world.reviewer_unknown, world.officer_cnrs.user, confirm_unknown=True)
    assert out.assignment is not None
    assert out.assignment.coi_confirmed_by == world.officer_cnrs
    assert out.assignment.coi_status == "unknown"


def test_clear_reviewer_is_assigned_and_notified(world: World, store: Path) -> None:
    app = _submitted(world)
    mail.outbox.clear()
    with pytest.raises(services.WorkflowError):  # a researcher cannot assign
        services.assign_reviewer(app, world.reviewer_ok, world.outsider.user)
    out = services.assign_reviewer(app, world.reviewer_ok, world.officer_icl.user)
    assert out.status == "none" and out.assignment is not None
    assert out.assignment.coi_confirmed_by is None
    app.refresh_from_db()
    assert app.state == "under_review"
    assert [m.to for m in mail.outbox] == [["reviewer_ok@example.org"]]


def _reviewed(world: World) -> tuple[Application, ReviewAssignment]:
    app = _submitted(world)
    out = services.assign_reviewer(app, world.reviewer_ok, world.officer_icl.user)
    assert out.assignment is not None
    return app, out.assignment


def test_review_scores_and_weighted_score(world: World, store: Path) -> None:
    _app, assignment = _reviewed(world)
    crit = {c.name: c.pk for c in world.call.criteria.all()}
    with pytest.raises(services.WorkflowError):
        services.submit_review(assignment, world.reviewer_conflict.user, {crit["Excellence"]: 5}, "", True)
    with pytest.raises(ValidationError, match="Feasibility"):
        services.submit_review(assignment, world.reviewer_ok.user, {crit["Excellence"]: 5}, "", True)
    services.submit_review(
        assignment, world.reviewer_ok.user, {crit["Excellence"]: 5, crit["Feasibility"]: 2}, "Strong.", True
    )
    assignment.refresh_from_db()
    assert assignment.submitted_at is not None
    assert assignment.weighted_score() == Decimal("4.00")  # (2×5 + 1×2) / 3


def test_decision_by_the_director_and_award_becomes_project(world: World, store: Path) -> None:
    app, _assignment = _reviewed(world)
    panel_recommends(world, app)
    with pytest.raises(services.WorkflowError):
        services.decide(app, world.officer_cnrs.user, "award", Decimal(30000), "", "")
    with pytest.raises(ValidationError):
        services.decide(app, world.director.user, "award", Decimal(60000), "", "")
    mail.outbox.clear()
    services.decide(
        app, world.director.user, "award", Decimal(30000), "D. Director, O. Officer", "Well done."
    )
    app.refresh_from_db()
    assert app.state == "awarded" and app.decision.amount == Decimal(30000)
    assert set(mail.outbox[0].to) == {"applicant@example.org", "pi_icl@example.org"}
    with pytest.raises(services.WorkflowError):
        services.start_project(app, world.applicant.user, timezone.localdate())
    project = services.start_project(app, world.officer_cnrs.user, timezone.localdate())
    assert Project.objects.get(application=app) == project
    assert {str(s.partner): s.agreed_share for s in project.partner_shares.all()} == {
        "CNRS": Decimal("50.00"),
        "Imperial": Decimal("50.00"),
    }
    assert {m.person for m in project.members.all()} == {world.applicant, world.pi_icl}
    assert Application.objects.get(pk=app.pk).state == "project"


def test_rejection(world: World, store: Path) -> None:
    app, _assignment = _reviewed(world)
    panel_recommends(world, app, "reject")
    services.decide(app, world.director.user, "reject", None, "", "Not this time.")
    app.refresh_from_db()
    assert app.state == "rejected" and app.decision.amount is None
    with pytest.raises(services.WorkflowError):
        services.start_project(app, world.director.user, timezone.localdate())
