"""Calls, applications (draft, submit, withdraw, PDF), reviewer assignment, reviews and decisions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cordiale.web.programmes import services
from cordiale.web.programmes.actors import application_actors, is_office, person_of
from cordiale.web.programmes.forms import (
    ApplicationForm,
    AssignReviewerForm,
    DecisionForm,
    RecommendationForm,
    ReviewForm,
    StartProjectForm,
)
from cordiale.web.programmes.models import Application, ApplicationPI, Call, Person, ReviewAssignment
from cordiale.web.programmes.views.common import get_allowed, me, report
from cordiale.web.programmes.workflow import workflow_for


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    person = person_of(request.user)
    today = timezone.localdate()
    context = {
        "person": person,
        "open_calls": Call.objects.filter(opens__lte=today, closes__gte=today),
        "my_applications": person.applications.select_related("call") if person else [],
        "my_reviews": person.assignments.select_related("application") if person else [],
        "office": is_office(request.user),
        "to_handle": Application.objects.exclude(state__in=("draft", "withdrawn")).select_related("call")[:50]
        if is_office(request.user)
        else [],
    }
    return render(request, "programmes/dashboard.html", context)


@login_required
def call_list(request: HttpRequest) -> HttpResponse:
    return render(request, "programmes/call_list.html", {"calls": Call.objects.prefetch_related("partners")})


@login_required
def call_detail(request: HttpRequest, pk: int) -> HttpResponse:
    call = get_object_or_404(Call, pk=pk)
    return render(request, "programmes/call_detail.html", {"call": call, "criteria": call.criteria.all()})


def _save_pis(form: ApplicationForm, application: Application) -> None:
    for name, partner in form.pi_fields:
        person = form.cleaned_data.get(name)
        ApplicationPI.objects.filter(application=application, partner=partner).delete()
        if person is not None:
            ApplicationPI.objects.create(application=application, person=person, partner=partner)


@login_required
def application_new(request: HttpRequest, call_pk: int) -> HttpResponse:
    call = get_object_or_404(Call, pk=call_pk)
    person = me(request)
    form = ApplicationForm(request.POST or None, request.FILES or None, call=call)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            application = form.save(commit=False)
            application.call = call
            application.applicant = person
            application.state = "draft"
            application.save()
            _save_pis(form, application)
        messages.success(request, _("Draft saved."))
        return redirect("application_detail", pk=application.pk)
    return render(request, "programmes/application_form.html", {"form": form, "call": call})


@login_required
def application_edit(request: HttpRequest, pk: int) -> HttpResponse:
    application = get_allowed(request, Application, "programmes.view_application", pk=pk)
    wf = workflow_for(application.call.kind)
    if not wf.may("edit", application.state, application_actors(request.user, application)):
        raise PermissionDenied
    form = ApplicationForm(
        request.POST or None, request.FILES or None, instance=application, call=application.call
    )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            _save_pis(form, application)
        messages.success(request, _("Draft saved."))
        return redirect("application_detail", pk=application.pk)
    return render(request, "programmes/application_form.html", {"form": form, "call": application.call})


@login_required
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    application = get_allowed(request, Application, "programmes.view_application", pk=pk)
    wf = workflow_for(application.call.kind)
    actors = application_actors(request.user, application)
    reviews = [
        a
        for a in application.assignments.select_related("reviewer")
        if request.user.has_perm("programmes.view_review", a)
    ]
    context = {
        "application": application,
        "state_label": wf.states.get(application.state, application.state),
        "transitions": [
            t
            for t in wf.available(application.state, actors)
            if t.name not in {"award", "reject", "start_project"}
        ],
        "can_edit": wf.may("edit", application.state, actors),
        "can_assign": wf.may("assign_reviewer", application.state, actors),
        "can_decide": wf.may("award", application.state, actors)
        or wf.may("reject", application.state, actors),
        "can_start": wf.may("start_project", application.state, actors),
        "can_recommend": wf.may("recommend", application.state, actors),
        "my_assignment": application.assignments.filter(reviewer=person_of(request.user)).first(),
        "reviews": reviews,
        "problems": services.eligibility_problems(application) if application.state == "draft" else [],
        "decision": getattr(application, "decision", None),
        "pis": application.pis.select_related("person", "partner"),
    }
    return render(request, "programmes/application_detail.html", context)


@login_required
@require_POST
def application_transition(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    application = get_allowed(request, Application, "programmes.view_application", pk=pk)
    if name not in {t.name for t in workflow_for(application.call.kind).transitions}:
        raise Http404
    try:
        services.transition(application, name, request.user)
        messages.success(
            request,
            _("Done: %(state)s.") % {"state": workflow_for(application.call.kind).states[application.state]},
        )
    except ValidationError as exc:
        report(request, exc)
    return redirect("application_detail", pk=pk)


@login_required
def application_pdf(request: HttpRequest, pk: int) -> FileResponse:
    application = get_allowed(request, Application, "programmes.view_application", pk=pk)
    if not application.pdf:
        raise Http404
    return FileResponse(
        application.pdf.open("rb"), content_type="application/pdf", filename=f"application-{pk}.pdf"
    )


def _require_role(request: HttpRequest, application: Application, *actions: str) -> None:
    """403 unless the user is one of those the workflow lets do one of ``actions`` (in any state: the
    service refuses an action out of its states with a message)."""
    wf = workflow_for(application.call.kind)
    allowed: set[str] = set()
    for action in actions:
        allowed |= wf.actors_of(action)
    if not allowed & application_actors(request.user, application):
        raise PermissionDenied


@login_required
def assign_reviewer(request: HttpRequest, pk: int) -> HttpResponse:
    application = get_allowed(request, Application, "programmes.view_application", pk=pk)
    _require_role(request, application, "assign_reviewer")
    form = AssignReviewerForm(request.POST or None)
    outcome = None
    if request.method == "POST" and form.is_valid():
        reviewer: Person = form.cleaned_data["reviewer"]
        try:
            outcome = services.assign_reviewer(
                application, reviewer, request.user, form.cleaned_data["confirm_unknown"]
            )
        except ValidationError as exc:
            report(request, exc)
        else:
            if outcome.assignment is not None:
                messages.success(request, _("%(r)s is assigned.") % {"r": reviewer})
                return redirect("application_detail", pk=pk)
            if outcome.status == "conflict":
                messages.error(request, _("Refused: %(r)s has a conflict of interest.") % {"r": reviewer})
            else:
                messages.warning(
                    request,
                    _("The conflict check cannot decide for %(r)s: confirm there is no conflict to assign.")
                    % {"r": reviewer},
                )
    return render(
        request,
        "programmes/assign_reviewer.html",
        {"application": application, "form": form, "outcome": outcome},
    )


@login_required
def review(request: HttpRequest, pk: int) -> HttpResponse:
    assignment = get_object_or_404(ReviewAssignment, pk=pk)
    if not request.user.has_perm("programmes.view_review", assignment):
        raise PermissionDenied
    criteria = list(assignment.application.call.criteria.all())
    initial: dict[str, object] = {f"score_{s.criterion_id}": s.value for s in assignment.scores.all()}
    initial.update({"comment": assignment.comment, "confidential": assignment.confidential})
    form = ReviewForm(request.POST or None, criteria=criteria, initial=initial)
    mine = person_of(request.user) == assignment.reviewer
    if request.method == "POST" and form.is_valid():
        try:
            services.submit_review(
                assignment,
                request.user,
                form.scores(),
                form.cleaned_data["comment"],
                form.cleaned_data["confidential"],
            )
        except ValidationError as exc:
            report(request, exc)
        else:
            messages.success(request, _("Review saved."))
            return redirect("dashboard")
    return render(request, "programmes/review.html", {"assignment": assignment, "form": form, "mine": mine})


@login_required
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    application = get_allowed(request, Application, "programmes.view_application", pk=pk)
    _require_role(request, application, "award", "reject")
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.decide(application, request.user, d["outcome"], d["amount"], d["panel"], d["feedback"])
        except ValidationError as exc:
            report(request, exc)
        else:
            messages.success(request, _("Decision recorded."))
            return redirect("application_detail", pk=pk)
    reviews = [
        a
        for a in application.assignments.prefetch_related("scores__criterion").select_related("reviewer")
        if request.user.has_perm("programmes.view_review", a)
    ]
    context = {
        "application": application,
        "form": form,
        "reviews": reviews,
        "panel": services.panel_status(application),
    }
    return render(request, "programmes/decide.html", context)


@login_required
def recommend(request: HttpRequest, pk: int) -> HttpResponse:
    """A panel member records their recommendation on an application."""
    application = get_allowed(request, Application, "programmes.view_application", pk=pk)
    wf = workflow_for(application.call.kind)
    if not wf.may("recommend", application.state, application_actors(request.user, application)):
        raise PermissionDenied
    mine = application.recommendations.filter(member=person_of(request.user)).first()
    form = RecommendationForm(request.POST or None, instance=mine)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.recommend(application, request.user, d["recommendation"], d["comment"])
        except ValidationError as exc:
            report(request, exc)
        else:
            messages.success(request, _("Recommendation recorded."))
            return redirect("application_detail", pk=pk)
    reviews = [
        a
        for a in application.assignments.prefetch_related("scores__criterion").select_related("reviewer")
        if request.user.has_perm("programmes.view_review", a)
    ]
    return render(
        request, "programmes/recommend.html", {"application": application, "form": form, "reviews": reviews}
    )


@login_required
def start_project(request: HttpRequest, pk: int) -> HttpResponse:
    application = get_allowed(request, Application, "programmes.view_application", pk=pk)
    _require_role(request, application, "start_project")
    form = StartProjectForm(request.POST or None, initial={"start": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        project = services.start_project(application, request.user, form.cleaned_data["start"])
        messages.success(request, _("The award is now a project."))
        return redirect("project_detail", pk=project.pk)
    return render(request, "programmes/start_project.html", {"application": application, "form": form})
