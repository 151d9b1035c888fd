"""Object-level permissions (django-rules): ``user.has_perm("programmes.<perm>", obj)``.

Relations come from ``actors.py``; the workflow decides what each relation may do in each state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rules.permissions import add_perm
from rules.predicates import Predicate

from cordiale.web.programmes.actors import (
    application_actors,
    is_office,
    partner_roles,
    person_of,
    project_member,
    project_staff,
)
from cordiale.web.programmes.models import (
    Application,
    LedgerEntry,
    Person,
    Project,
    ReviewAssignment,
    RoleKind,
)
from cordiale.web.programmes.workflow import APPLICANT, DIRECTOR, OFFICER, PANEL, REVIEWER


def can_view_application(user: Any, application: Application | None) -> bool:
    if application is None:
        return False
    if application_actors(user, application) & {APPLICANT, OFFICER, DIRECTOR, REVIEWER, PANEL}:
        return True
    person = person_of(user)
    return person is not None and application.pis.filter(person=person).exists()


def can_view_review(user: Any, assignment: ReviewAssignment | None) -> bool:
    """Staff of the call and the reviewer; the applicant only a non-confidential review after the decision."""
    if assignment is None:
        return False
    person = person_of(user)
    if person is None:
        return False
    if assignment.reviewer_id == person.pk:
        return True
    actors = application_actors(user, assignment.application)
    if actors & {OFFICER, DIRECTOR, PANEL}:
        return True
    decided = hasattr(assignment.application, "decision")
    return (
        APPLICANT in actors
        and not assignment.confidential
        and decided
        and assignment.submitted_at is not None
    )


def can_edit_ledger_entry(user: Any, entry: LedgerEntry | None) -> bool:
    """A partner's officer (or director) edits that partner's budget lines only."""
    if entry is None:
        return False
    person = person_of(user)
    if person is None:
        return False
    mine = partner_roles(person, RoleKind.OFFICER) | partner_roles(person, RoleKind.DIRECTOR)
    return entry.partner_id in mine


def can_view_project(user: Any, project: Project | None) -> bool:
    return project is not None and (project_staff(user, project) or project_member(user, project))


def can_manage_project(user: Any, project: Project | None) -> bool:
    return project is not None and project_staff(user, project)


def can_export_person(user: Any, person: Person | None) -> bool:
    """The person themself, or the partnership office."""
    me = person_of(user)
    return person is not None and ((me is not None and me.pk == person.pk) or is_office(user))


def can_erase_person(user: Any, person: Person | None) -> bool:
    """Erasure on request is carried out by the partnership office (never by the person alone)."""
    return person is not None and is_office(user)


def office(user: Any) -> bool:
    return is_office(user)


def _register(name: str, check: Callable[..., bool]) -> None:
    add_perm(name, Predicate(check))  # type: ignore[no-untyped-call]


_register("programmes.view_application", can_view_application)
_register("programmes.view_review", can_view_review)
_register("programmes.edit_ledger_entry", can_edit_ledger_entry)
_register("programmes.view_project", can_view_project)
_register("programmes.manage_project", can_manage_project)
_register("programmes.export_person", can_export_person)
_register("programmes.erase_person", can_erase_person)
_register("programmes.office", office)
