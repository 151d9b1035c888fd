"""Who a user is with respect to an object: the relations the workflow and the permissions use."""

from __future__ import annotations

from typing import Any, cast

from cordiale.web.programmes.models import Application, Person, Project, RoleKind
from cordiale.web.programmes.workflow import APPLICANT, DIRECTOR, OFFICER, PANEL, REVIEWER

_MISSING = object()


def person_of(user: Any) -> Person | None:
    """The Person of a signed-in user (None for anonymous users and accounts without one)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    cached = getattr(user, "_cordiale_person", _MISSING)  # request.user is a lazy proxy: no __dict__ test
    if cached is not _MISSING:
        return cast("Person | None", cached)
    try:
        person = user.person
    except Person.DoesNotExist:
        person = None
    found = person if isinstance(person, Person) and person.erased_at is None else None
    user._cordiale_person = found  # one lookup per request (the user object lives as long as the request)
    return found


def partner_roles(person: Person, kind: str) -> set[int]:
    """Partners where ``person`` holds role ``kind`` (the roles are read once per person object)."""
    roles: list[tuple[str, int]] | None = getattr(person, "_cordiale_roles", None)
    if roles is None:
        roles = list(person.roles.values_list("kind", "partner_id"))
        person._cordiale_roles = roles  # type: ignore[attr-defined]
    return {partner for k, partner in roles if k == kind}


def application_actors(user: Any, application: Application) -> set[str]:
    """The workflow actors ``user`` is for ``application``."""
    person = person_of(user)
    if person is None:
        return set()
    memo: dict[int, set[str]] = application.__dict__.setdefault("_cordiale_actors", {})
    if person.pk in memo:
        return set(memo[person.pk])
    actors: set[str] = set()
    if application.applicant_id == person.pk:
        actors.add(APPLICANT)
    call_partners: set[int] | None = getattr(application, "_cordiale_call_partners", None)
    if call_partners is None:
        call_partners = set(application.call.partners.values_list("pk", flat=True))
        application._cordiale_call_partners = call_partners  # type: ignore[attr-defined]
    if partner_roles(person, RoleKind.OFFICER) & call_partners:
        actors.add(OFFICER)
    if partner_roles(person, RoleKind.DIRECTOR) & call_partners:
        actors.add(DIRECTOR)
    if application.assignments.filter(reviewer=person).exists():
        actors.add(REVIEWER)
    if application.call.panel.filter(pk=person.pk).exists():
        actors.add(PANEL)
    memo[person.pk] = set(actors)
    return actors


def forget_actors(application: Application) -> None:
    """Drop the memo of ``application_actors`` after a change of assignments."""
    application.__dict__.pop("_cordiale_actors", None)


def project_staff(user: Any, project: Project) -> bool:
    """An officer or director at one of the project's partners."""
    person = person_of(user)
    if person is None:
        return False
    partners = set(project.partner_shares.values_list("partner_id", flat=True))
    staff = partner_roles(person, RoleKind.OFFICER) | partner_roles(person, RoleKind.DIRECTOR)
    return bool(staff & partners)


def project_member(user: Any, project: Project) -> bool:
    person = person_of(user)
    return person is not None and project.members.filter(person=person).exists()


def is_office(user: Any) -> bool:
    """Any programme officer or partnership director (partnership-wide lists and exports)."""
    person = person_of(user)
    if person is None:
        return bool(getattr(user, "is_superuser", False))
    staff = partner_roles(person, RoleKind.OFFICER) | partner_roles(person, RoleKind.DIRECTOR)
    return bool(staff) or bool(user.is_superuser)
