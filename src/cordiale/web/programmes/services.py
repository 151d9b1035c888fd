"""The service layer: the only code that moves an application through its workflow or writes money.

Every function checks the workflow (``workflow.py``) and the object permissions (``rules.py``) first,
then writes inside one transaction; the activity log (django-auditlog) records each change with its
actor, and ``notify.py`` sends the e-mails.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from auditlog.context import set_actor
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cordiale.web.programmes import notify
from cordiale.web.programmes.actors import application_actors, forget_actors, person_of
from cordiale.web.programmes.cofinance import Entry, Rate, RateBook, Split, real_split
from cordiale.web.programmes.coi_check import check_reviewer
from cordiale.web.programmes.mobility import Stay, plan_problems
from cordiale.web.programmes.models import (
    Application,
    Criterion,
    Decision,
    LedgerEntry,
    MobilityStay,
    PanelRecommendation,
    Person,
    PhdStudent,
    Project,
    ProjectMember,
    ProjectPartner,
    ReferenceRate,
    ReviewAssignment,
    Score,
)
from cordiale.web.programmes.workflow import workflow_for


def _log_as(user: Any) -> contextlib.AbstractContextManager[Any]:
    """The activity log's actor for changes made outside a request (commands, scripts, tests)."""
    if getattr(user, "is_authenticated", False):
        return set_actor(user)  # type: ignore[no-any-return]
    return contextlib.nullcontext()


class WorkflowError(PermissionDenied):
    """The workflow does not allow this actor to do this now."""


def _require(user: Any, action: str, application: Application) -> Person:
    person = person_of(user)
    wf = workflow_for(application.call.kind)
    if person is None or not wf.may(action, application.state, application_actors(user, application)):
        raise WorkflowError(
            _("“%(action)s” is not allowed for you on an application in state “%(state)s”.")
            % {"action": action, "state": wf.states.get(application.state, application.state)}
        )
    return person


def eligibility_problems(application: Application, today: date | None = None) -> list[str]:
    """Why the application cannot be submitted yet (empty when it can)."""
    call = application.call
    today = today or timezone.localdate()
    problems = []
    if not call.opens <= today <= call.closes:
        problems.append(_("The call is open from %(o)s to %(c)s.") % {"o": call.opens, "c": call.closes})
    if application.requested_amount <= 0:
        problems.append(_("The requested amount must be above 0."))
    if application.requested_amount > call.budget_ceiling:
        problems.append(
            _("The requested amount exceeds the call's ceiling of %(c)s %(cur)s.")
            % {"c": call.budget_ceiling, "cur": call.currency}
        )
    if call.pi_at_each_partner:
        with_pi = set(application.pis.values_list("partner_id", flat=True))
        for partner in call.partners.all():
            if partner.pk not in with_pi:
                problems.append(_("A PI at %(p)s is required.") % {"p": partner})
    if not application.pdf:
        problems.append(_("Upload the proposal as a PDF."))
    return problems


def transition(application: Application, name: str, user: Any) -> Application:
    """Take workflow transition ``name`` (submit, withdraw, open_review, ...) on behalf of ``user``."""
    wf = workflow_for(application.call.kind)
    t = wf.transition(name)
    _require(user, name, application)
    if name == "submit":
        problems = eligibility_problems(application)
        if problems:
            raise ValidationError(problems)
        application.submitted_at = timezone.now()
    if name in {"award", "reject"}:
        raise WorkflowError(_("Use the decision form: a decision records the panel and the amount."))
    with transaction.atomic(), _log_as(user):
        application.state = t.target
        application.save()
    if name == "submit":
        notify.submitted(application)
    return application


@dataclass(frozen=True)
class AssignmentOutcome:
    assignment: ReviewAssignment | None
    status: str
    reasons: tuple[str, ...]


def assign_reviewer(
    application: Application, reviewer: Person, user: Any, confirm_unknown: bool = False
) -> AssignmentOutcome:
    """Assign ``reviewer`` unless ``cordiale.coi`` finds a conflict (``unknown``: an officer confirms)."""
    officer = _require(user, "assign_reviewer", application)
    if reviewer.pk == application.applicant_id or application.pis.filter(person=reviewer).exists():
        return AssignmentOutcome(
            None, "conflict", (_("The reviewer is an applicant or PI of this application."),)
        )
    if application.assignments.filter(reviewer=reviewer).exists():
        raise ValidationError(_("This reviewer is already assigned."))
    result = check_reviewer(application, reviewer)
    if result.status == "conflict" or (result.status == "unknown" and not confirm_unknown):
        return AssignmentOutcome(None, result.status, result.reasons)
    with transaction.atomic(), _log_as(user):
        assignment = ReviewAssignment.objects.create(
            application=application,
            reviewer=reviewer,
            assigned_by=officer,
            coi_status=result.status,
            coi_reasons="\n".join(result.reasons),
            coi_confirmed_by=officer if result.status == "unknown" else None,
        )
        if application.state == "submitted" and "open_review" in {
            t.name for t in workflow_for(application.call.kind).transitions
        }:
            application.state = "under_review"
            application.save()
    forget_actors(application)
    notify.assigned(application, reviewer)
    return AssignmentOutcome(assignment, result.status, result.reasons)


def submit_review(
    assignment: ReviewAssignment, user: Any, scores: dict[int, int], comment: str, confidential: bool
) -> ReviewAssignment:
    """Record the reviewer's scores (criterion id → 0..5) and comments."""
    person = _require(user, "review", assignment.application)
    if assignment.reviewer_id != person.pk:
        raise WorkflowError(_("Only the assigned reviewer writes this review."))
    criteria = {c.pk: c for c in Criterion.objects.filter(call=assignment.application.call)}
    missing = [c.name for pk, c in criteria.items() if pk not in scores]
    if missing:
        raise ValidationError(_("Score every criterion: %(m)s.") % {"m": ", ".join(missing)})
    with transaction.atomic(), _log_as(user):
        for pk, value in scores.items():
            if pk not in criteria:
                raise ValidationError(_("Unknown criterion %(pk)s.") % {"pk": pk})
            Score.objects.update_or_create(
                assignment=assignment, criterion=criteria[pk], defaults={"value": value}
            )
        assignment.comment = comment
        assignment.confidential = confidential
        assignment.submitted_at = timezone.now()
        assignment.save()
    return assignment


@dataclass(frozen=True)
class PanelStatus:
    """The call's panel and what it has recorded on one application."""

    members: tuple[Person, ...]
    recommendations: tuple[PanelRecommendation, ...]
    needed: int

    @property
    def missing(self) -> tuple[Person, ...]:
        done = {r.member_id for r in self.recommendations}
        return tuple(m for m in self.members if m.pk not in done)

    @property
    def complete(self) -> bool:
        return bool(self.members) and len(self.recommendations) >= self.needed


def panel_status(application: Application) -> PanelStatus:
    """Members, their recorded recommendations, and how many are needed (the quorum, or every member)."""
    call = application.call
    members = tuple(call.panel.order_by("name"))
    ids = {m.pk for m in members}
    recs = tuple(
        r
        for r in application.recommendations.select_related("member").order_by("member__name")
        if r.member_id in ids
    )
    needed = len(members) if call.panel_quorum is None else min(call.panel_quorum, len(members))
    return PanelStatus(members, recs, max(needed, 1))


def recommend(application: Application, user: Any, recommendation: str, comment: str) -> PanelRecommendation:
    """A panel member records (or revises) their recommendation before the decision."""
    person = _require(user, "recommend", application)
    if recommendation not in PanelRecommendation.Recommendation.values:
        raise ValidationError(_("Recommend award or reject."))
    with transaction.atomic(), _log_as(user):
        rec, _created = PanelRecommendation.objects.update_or_create(
            application=application,
            member=person,
            defaults={"recommendation": recommendation, "comment": comment},
        )
    return rec


def decide(
    application: Application, user: Any, outcome: str, amount: Decimal | None, panel: str, feedback: str
) -> Decision:
    """The panel's decision (award or reject), taken by a director (or an officer for exchange grants).

    Where the workflow says the transition needs the panel, the call's panel must have recorded its
    recommendations first (every member, or ``call.panel_quorum`` of them); ``panel`` defaults to the
    names of the members who recommended.
    """
    name = "award" if outcome == Decision.Outcome.AWARD else "reject"
    person = _require(user, name, application)
    if workflow_for(application.call.kind).transition(name).needs_panel:
        status = panel_status(application)
        if not status.members:
            raise ValidationError(_("This call has no decision panel: add its members first."))
        if not status.complete:
            raise ValidationError(
                _("The panel has recorded %(n)d of the %(k)d recommendations needed; waiting for: %(m)s.")
                % {
                    "n": len(status.recommendations),
                    "k": status.needed,
                    "m": ", ".join(m.name for m in status.missing),
                }
            )
        panel = panel or ", ".join(r.member.name for r in status.recommendations)
    if outcome == Decision.Outcome.AWARD:
        if amount is None or amount <= 0:
            raise ValidationError(_("An award needs an amount."))
        if amount > application.call.budget_ceiling:
            raise ValidationError(_("The amount exceeds the call's budget ceiling."))
    target = (
        workflow_for(application.call.kind).transition("award" if outcome == "award" else "reject").target
    )
    with transaction.atomic(), _log_as(user):
        decision = Decision.objects.create(
            application=application,
            outcome=outcome,
            amount=amount if outcome == Decision.Outcome.AWARD else None,
            panel=panel,
            feedback=feedback,
            decided_by=person,
        )
        application.state = target
        application.save()
    notify.decided(application, decision.get_outcome_display())
    return decision


def start_project(application: Application, user: Any, start: date) -> Project:
    """An award becomes a project: PIs as members, the call's partners with an even agreed split."""
    _require(user, "start_project", application)
    wf = workflow_for(application.call.kind)
    years = settings.CORDIALE_PHD_FUNDED_YEARS if application.call.kind == "phd" else 2
    with transaction.atomic(), _log_as(user):
        project = Project.objects.create(
            title=application.title,
            kind=application.call.kind,
            application=application,
            start=start,
            end=start + relativedelta(years=years) - relativedelta(days=1),
        )
        partners = list(application.call.partners.all())
        for partner in partners:
            share = (Decimal(100) / len(partners)).quantize(Decimal("0.01"))
            ProjectPartner.objects.create(project=project, partner=partner, agreed_share=share)
        for pi in application.pis.all():
            kind = ProjectMember.Kind.CO_SUPERVISOR if project.kind == "phd" else ProjectMember.Kind.PI
            ProjectMember.objects.create(project=project, person=pi.person, partner=pi.partner, kind=kind)
        application.state = wf.transition("start_project").target
        application.save()
    return project


def phd_setup_problems(project: Project) -> list[str]:
    """A joint PhD: one student at each partner, each funded N years; two co-supervisors, one per partner."""
    problems = []
    partners = set(project.partner_shares.values_list("partner_id", flat=True))
    students = list(project.students.all())
    if {s.home_partner_id for s in students} != partners or len(students) != len(partners):
        problems.append(_("A joint PhD has one doctoral student at each partner."))
    years = settings.CORDIALE_PHD_FUNDED_YEARS
    for s in students:
        if s.funding_end != s.funding_start + relativedelta(years=years) - relativedelta(days=1):
            problems.append(_("Each student is funded %(y)d years.") % {"y": years})
    sup = project.members.filter(kind=ProjectMember.Kind.CO_SUPERVISOR)
    if sorted(sup.values_list("partner_id", flat=True)) != sorted(partners):
        problems.append(_("A joint PhD has two co-supervisors, one at each partner."))
    return problems


def set_mobility_plan(student: PhdStudent, stays: list[Stay], user: Any) -> list[MobilityStay]:
    """Replace the student's mobility plan; refused with the total and the bounds when outside them."""
    project = student.project
    if not (user.has_perm("programmes.manage_project", project) or person_of(user) == student.person):
        raise PermissionDenied(_("Only the student or the programme office edits this plan."))
    problems = plan_problems(stays, project.start, project.end, settings.CORDIALE_PHD_MOBILITY_MONTHS)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic(), _log_as(user):
        student.stays.all().delete()
        return [MobilityStay.objects.create(student=student, start=s.start, end=s.end) for s in stays]


def add_ledger_entry(user: Any, **fields: Any) -> LedgerEntry:
    """Add a commitment or payment; only an officer or director of that partner may."""
    entry = LedgerEntry(**fields)
    if not user.has_perm("programmes.edit_ledger_entry", entry):
        raise PermissionDenied(_("You may not edit the budget lines of %(p)s.") % {"p": entry.partner})
    entry.full_clean()
    with _log_as(user):
        entry.save()
    return entry


def update_ledger_entry(user: Any, entry: LedgerEntry, **fields: Any) -> LedgerEntry:
    if not user.has_perm("programmes.edit_ledger_entry", entry):
        raise PermissionDenied(_("You may not edit the budget lines of %(p)s.") % {"p": entry.partner})
    for k, v in fields.items():
        setattr(entry, k, v)
    if not user.has_perm("programmes.edit_ledger_entry", entry):
        raise PermissionDenied(_("You may not move a budget line to %(p)s.") % {"p": entry.partner})
    entry.full_clean()
    with _log_as(user):
        entry.save()
    return entry


def rate_book() -> RateBook:
    rows = ReferenceRate.objects.values_list("day", "currency", "eur_per_unit")
    return RateBook(Rate(day, currency, value) for day, currency, value in rows)


def project_entries(project: Project) -> list[Entry]:
    return [
        Entry(str(e.partner), e.kind, e.amount, e.currency, e.day)
        for e in project.ledger.select_related("partner")
    ]


def project_split(
    project: Project,
    as_of: date | None = None,
    book: RateBook | None = None,
    entries: list[Entry] | None = None,
) -> Split:
    agreed = {str(pp.partner): pp.agreed_share for pp in project.partner_shares.select_related("partner")}
    margin = (
        project.drift_margin_pp if project.drift_margin_pp is not None else settings.CORDIALE_SPLIT_MARGIN_PP
    )
    entries = project_entries(project) if entries is None else entries
    return real_split(entries, agreed, book or rate_book(), margin, as_of or timezone.localdate())
