"""Personal data: export and erasure on request, and retention periods per object type.

Erasure anonymises a person in place: name, e-mail, ORCID and author ids, roles, declared conflicts,
the sign-in account and uploaded PDFs go; decisions, money (ledger, exchanges' funding) and reviews'
scores stay, linked to an anonymous "erased person". The activity log keeps its events but loses the
erased values.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.forms.models import model_to_dict
from django.utils import timezone

from cordiale.web.programmes.models import (
    Application,
    Decision,
    PanelRecommendation,
    Person,
    ReviewAssignment,
)

ERASED = "[erased]"


def _row(obj: Any, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    data = model_to_dict(obj, exclude=list(exclude))
    data["id"] = obj.pk
    for key, value in list(data.items()):
        if hasattr(value, "name") and hasattr(value, "url"):  # a file field
            data[key] = value.name or ""
        elif isinstance(value, list):
            data[key] = [getattr(v, "pk", v) for v in value]
    return data


def export_person(person: Person) -> dict[str, Any]:
    """Everything held about ``person``, as JSON-ready data."""
    user = person.user
    data: dict[str, Any] = {
        "exported_at": timezone.now().isoformat(),
        "person": _row(person),
        "account": None
        if user is None
        else {
            "username": user.username,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "date_joined": user.date_joined.isoformat(),
            "last_login": user.last_login.isoformat() if user.last_login else None,
        },
        "roles": [
            {"partner": str(r.partner), "role": r.kind} for r in person.roles.select_related("partner")
        ],
        "applications": [_row(a) for a in person.applications.all()],
        "pi_of_applications": [pi.application_id for pi in person.pi_of.all()],
        "reviews": [
            {
                **_row(a, ("reviewer",)),
                "scores": {s.criterion.name: s.value for s in a.scores.select_related("criterion")},
            }
            for a in person.assignments.all()
        ],
        "panels": [str(c) for c in person.panels.all()],
        "panel_recommendations": [_row(r, ("member",)) for r in person.recommendations.all()],
        "decisions_on_own_applications": [
            _row(a.decision) for a in person.applications.all() if hasattr(a, "decision")
        ],
        "project_memberships": [
            {"project": m.project.title, "role": m.kind, "partner": str(m.partner)}
            for m in person.memberships.select_related("project", "partner")
        ],
        "phd": [{**_row(s), "stays": [_row(st) for st in s.stays.all()]} for s in person.phd_records.all()],
        "exchanges": [_row(e) for e in person.exchanges.all()],
        "activity": [
            {"when": e.timestamp.isoformat(), "action": e.get_action_display(), "object": e.object_repr}
            for e in LogEntry.objects.filter(actor=user).order_by("timestamp")
        ]
        if user is not None
        else [],
    }
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))  # type: ignore[no-any-return]


def _personal_values(person: Person) -> list[str]:
    values = [person.name, person.email, person.orcid, person.openalex_author_id]
    if person.user is not None:
        values += [person.user.username, person.user.email, person.user.get_full_name()]
    return [v for v in values if v and len(v) >= 3]


def _scrub(text: str, values: list[str]) -> str:
    for v in values:
        text = text.replace(v, ERASED).replace(json.dumps(v)[1:-1], ERASED)
    return text


@transaction.atomic
def erase_person(person: Person) -> None:
    """Anonymise ``person`` in place (see the module's docstring); idempotent."""
    values = _personal_values(person)
    user = person.user
    for application in person.applications.all():
        if application.pdf:
            application.pdf.delete(save=False)
            application.pdf = ""
        application.save()
    person.roles.all().delete()
    person.declared_conflicts.clear()
    person.name = f"Erased person {person.pk}"
    person.email = ""
    person.orcid = ""
    person.openalex_author_id = ""
    person.unit_openalex_ids = ""
    person.erased_at = timezone.now()
    person.save()
    if user is not None:
        user.username = f"erased-{user.pk}"
        user.email = ""
        user.first_name = ""
        user.last_name = ""
        user.set_unusable_password()
        user.is_active = False
        user.is_staff = False
        user.is_superuser = False
        user.save()
    # Free text that names the person elsewhere (conflict-check reasons, panel lists, review and panel
    # comments) loses the values.
    for v in values:
        for assignment in ReviewAssignment.objects.filter(coi_reasons__contains=v):
            assignment.coi_reasons = _scrub(assignment.coi_reasons, values)
            assignment.save(update_fields=["coi_reasons"])
        for decision in Decision.objects.filter(panel__contains=v):
            decision.panel = _scrub(decision.panel, values)
            decision.save(update_fields=["panel"])
        for assignment in ReviewAssignment.objects.filter(comment__contains=v):
            assignment.comment = _scrub(assignment.comment, values)
            assignment.save(update_fields=["comment"])
        for recommendation in PanelRecommendation.objects.filter(comment__contains=v):
            recommendation.comment = _scrub(recommendation.comment, values)
            recommendation.save(update_fields=["comment"])
    # The activity log keeps the events, without the erased values.
    if values:
        logs = LogEntry.objects.annotate(
            changes_json=Cast("changes", TextField()), data_json=Cast("serialized_data", TextField())
        )
        match = Q()
        for v in {*values, *(json.dumps(v)[1:-1] for v in values)}:
            match |= (
                Q(object_repr__contains=v)
                | Q(changes_text__contains=v)
                | Q(changes_json__contains=v)
                | Q(data_json__contains=v)
                | Q(actor_email=v)
            )
        user_type = get_user_model()
        match |= Q(content_type__model="person", object_pk=str(person.pk))
        if user is not None:
            match |= Q(content_type__model=user_type._meta.model_name, object_pk=str(user.pk))
        for entry in logs.filter(match):
            entry.object_repr = _scrub(entry.object_repr, values)
            entry.changes_text = _scrub(entry.changes_text, values)
            if entry.changes is not None:
                entry.changes = json.loads(_scrub(json.dumps(entry.changes), values))
            if entry.serialized_data is not None:
                entry.serialized_data = json.loads(_scrub(json.dumps(entry.serialized_data), values))
            if entry.actor_email:
                entry.actor_email = _scrub(entry.actor_email, values)
            LogEntry.objects.filter(pk=entry.pk).update(
                object_repr=entry.object_repr,
                changes_text=entry.changes_text,
                changes=entry.changes,
                serialized_data=entry.serialized_data,
                actor_email=entry.actor_email,
            )


def purge_expired(now: Any = None) -> dict[str, int]:
    """Apply ``CORDIALE_RETENTION_DAYS``: what was deleted or emptied, per object type."""
    now = now or timezone.now()
    days: dict[str, int] = settings.CORDIALE_RETENTION_DAYS
    done: dict[str, int] = {}
    drafts = Application.objects.filter(
        state="draft", updated_at__lt=now - timedelta(days=days["draft_application"])
    )
    withdrawn = Application.objects.filter(
        state="withdrawn", updated_at__lt=now - timedelta(days=days["withdrawn_application"])
    )
    done["draft_application"] = done["withdrawn_application"] = 0
    for key, qs in (("draft_application", drafts), ("withdrawn_application", withdrawn)):
        for app in qs:
            if app.pdf:
                app.pdf.delete(save=False)
            app.delete()
            done[key] += 1
    done["application_pdf"] = 0
    cutoff = now - timedelta(days=days["application_pdf"])
    for app in Application.objects.filter(decision__decided_at__lt=cutoff).exclude(pdf=""):
        app.pdf.delete(save=False)
        app.pdf = ""
        app.save()
        done["application_pdf"] += 1
    done["activity_log"] = LogEntry.objects.filter(
        timestamp__lt=now - timedelta(days=days["activity_log"])
    ).delete()[0]
    stale = now - timedelta(days=days["inactive_account"])
    users = (
        get_user_model()
        .objects.filter(is_superuser=False)
        .filter(Q(last_login__lt=stale) | Q(last_login__isnull=True, date_joined__lt=stale))
    )
    done["inactive_account"] = 0
    for user in users:
        person = Person.objects.filter(user=user).first()
        if person is None:
            user.delete()
            done["inactive_account"] += 1
        elif person.erased_at is None and not (
            person.applications.exists() or person.assignments.exists() or person.memberships.exists()
        ):
            erase_person(person)
            done["inactive_account"] += 1
    return done
