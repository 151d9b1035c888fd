"""Who a user is with respect to an object: the relations the workflow and the permissions use."""

from __future__ import annotations

from typing import Any

from cordiale.web.programmes.models import Application, Person, Project, RoleKind
from cordiale.web.programmes.workflow import APPLICANT, DIRECTOR, OFFICER, REVIEWER


def person_of(user: Any) -> Person | None:
    """The Person of a signed-in user (None for anonymous users and accounts without one)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    try:
        person = user.person
    except Person.DoesNotExist:
        return None
    return person if isinstance(person, Person) and person.erased_at is None else None


def partner_roles(person: Person, kind: str) -> set[int]:
    return set(person.roles.filter(kind=kind).values_list("partner_id", flat=True))


def application_actors(user: Any, application: Application) -> set[str]:
    """The workflow actors ``user`` is for ``application``."""
    person = person_of(user)
    if person is None:
        return set()
    actors: set[str] = set()
    if application.applicant_id == person.pk:
        actors.add(APPLICANT)
    call_partners = set(application.call.partners.values_list("pk", flat=True))
    if partner_roles(person, RoleKind.OFFICER) & call_partners:
        actors.add(OFFICER)
    if partner_roles(person, RoleKind.DIRECTOR) & call_partners:
        actors.add(DIRECTOR)
    if application.assignments.filter(reviewer=person).exists():
        actors.add(REVIEWER)
    return actors


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
    return person.roles.filter(kind__in=(RoleKind.OFFICER, RoleKind.DIRECTOR)).exists() or bool(
        user.is_superuser
    )
