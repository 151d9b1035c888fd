"""The office's other pages: exchanges, grants, people (export, erasure), exports, activity log, sign-up."""

from __future__ import annotations

import json

from auditlog.models import LogEntry
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cordiale.web.programmes import exports, gdpr
from cordiale.web.programmes.forms import CONSENT_TEXT, ExchangeForm, GrantForm, SignUpForm
from cordiale.web.programmes.models import Exchange, Grant, Person, Role, RoleKind
from cordiale.web.programmes.views.common import get_allowed, require


@login_required
def exchange_list(request: HttpRequest) -> HttpResponse:
    require(request, "programmes.office")
    form = ExchangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Exchange saved."))
        return redirect("exchange_list")
    rows = Exchange.objects.select_related("person", "from_partner", "to_partner")
    return render(request, "programmes/exchanges.html", {"exchanges": rows, "form": form})


@login_required
def grant_list(request: HttpRequest) -> HttpResponse:
    require(request, "programmes.office")
    form = GrantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Grant saved."))
        return redirect("grant_list")
    rows = Grant.objects.prefetch_related("partners", "projects")
    return render(request, "programmes/grants.html", {"grants": rows, "form": form})


@login_required
def person_list(request: HttpRequest) -> HttpResponse:
    require(request, "programmes.office")
    people = Person.objects.prefetch_related("roles__partner")
    return render(request, "programmes/people.html", {"people": people})


@login_required
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_allowed(request, Person, "programmes.export_person", pk=pk)
    can_erase = request.user.has_perm("programmes.erase_person", person)
    return render(request, "programmes/person.html", {"person": person, "can_erase": can_erase})


@login_required
def person_export(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_allowed(request, Person, "programmes.export_person", pk=pk)
    body = json.dumps(gdpr.export_person(person), indent=1, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="person-{pk}.json"'
    return response


@login_required
@require_POST
def person_erase(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_allowed(request, Person, "programmes.erase_person", pk=pk)
    if request.POST.get("confirm") != "erase":
        messages.error(request, _("Type “erase” to confirm."))
        return redirect("person_detail", pk=pk)
    gdpr.erase_person(person)
    messages.success(request, _("The person's data was erased; decisions and money are kept, anonymised."))
    return redirect("person_detail", pk=pk)


@login_required
def export_table(request: HttpRequest, name: str, fmt: str) -> HttpResponse:
    require(request, "programmes.office")
    if name not in exports.TABLES:
        raise Http404
    if fmt == "csv":
        response = HttpResponse(exports.as_csv(name), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(exports.as_json(name), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@login_required
def activity(request: HttpRequest) -> HttpResponse:
    require(request, "programmes.office")
    entries = LogEntry.objects.select_related("actor", "content_type").order_by("-timestamp")[:300]
    rows = [(e, _change_summary(e.changes_dict)) for e in entries]
    return render(request, "programmes/activity.html", {"rows": rows})


def _change_summary(changes: dict[str, object]) -> str:
    """``field: old → new`` per field (many-to-many changes as their JSON)."""
    parts = []
    for field, values in changes.items():
        if isinstance(values, list | tuple) and len(values) == 2:
            parts.append(f"{field}: {values[0]} → {values[1]}")
        else:
            parts.append(f"{field}: {json.dumps(values, default=str)}")
    return "; ".join(parts)


def signup(request: HttpRequest) -> HttpResponse:
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save(commit=False)
            user.email = form.cleaned_data["email"]
            user.save()
            person = Person.objects.create(
                user=user,
                name=form.cleaned_data["full_name"],
                email=form.cleaned_data["email"],
                orcid=form.cleaned_data["orcid"],
                consent_at=timezone.now(),
                consent_version=settings.CONSENT_VERSION,
            )
            person.full_clean()
            Role.objects.create(person=person, partner=form.cleaned_data["partner"], kind=RoleKind.RESEARCHER)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("dashboard")
    return render(request, "registration/signup.html", {"form": form, "consent_text": CONSENT_TEXT})
