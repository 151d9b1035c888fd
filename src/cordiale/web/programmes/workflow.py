"""The workflows, as data: one per call kind. States, transitions, in-state actions and who may do each.

Actors are relations between a user and an application, not global groups:
``applicant`` (the application's applicant), ``officer`` / ``director`` (a programme officer / partnership
director at one of the call's partners), ``reviewer`` (assigned to this application), ``panel`` (a member
of the call's decision panel). The service layer (``services.py``) is the only code that changes an
application's state, and it asks this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

APPLICANT, OFFICER, DIRECTOR, REVIEWER = "applicant", "officer", "director", "reviewer"
PANEL = "panel"


@dataclass(frozen=True)
class Transition:
    """Moves an application from one of ``sources`` to ``target``; allowed to ``actors``."""

    name: str
    label: str | Promise
    sources: frozenset[str]
    target: str
    actors: frozenset[str]
    # Taken only once the call's panel has recorded its recommendations (all members, or the quorum).
    needs_panel: bool = False


@dataclass(frozen=True)
class Action:
    """Something done in one of ``states`` that does not change the state."""

    name: str
    states: frozenset[str]
    actors: frozenset[str]


@dataclass(frozen=True)
class Workflow:
    kind: str
    states: dict[str, str | Promise]
    transitions: tuple[Transition, ...]
    actions: tuple[Action, ...] = field(default=())

    def transition(self, name: str) -> Transition:
        for t in self.transitions:
            if t.name == name:
                return t
        raise KeyError(f"workflow {self.kind!r} has no transition {name!r}")

    def available(self, state: str, actors: set[str]) -> list[Transition]:
        """Transitions out of ``state`` that one of ``actors`` may take."""
        return [t for t in self.transitions if state in t.sources and t.actors & actors]

    def may(self, action: str, state: str, actors: set[str]) -> bool:
        """Whether one of ``actors`` may do in-state ``action`` (or take transition ``action``) now."""
        for a in self.actions:
            if a.name == action:
                return state in a.states and bool(a.actors & actors)
        for t in self.transitions:
            if t.name == action:
                return state in t.sources and bool(t.actors & actors)
        return False

    def actors_of(self, action: str) -> frozenset[str]:
        """Who may ever do ``action`` (an in-state action or a transition), whatever the state."""
        found: frozenset[str] = frozenset()
        for a in self.actions:
            if a.name == action:
                found |= a.actors
        for t in self.transitions:
            if t.name == action:
                found |= t.actors
        return found


def _fs(*items: str) -> frozenset[str]:
    return frozenset(items)


STATES: dict[str, str | Promise] = {
    "draft": _("draft"),
    "submitted": _("submitted"),
    "under_review": _("under review"),
    "awarded": _("awarded"),
    "rejected": _("rejected"),
    "withdrawn": _("withdrawn"),
    "project": _("project started"),
}

# Seed fund and joint PhD calls: peer review, then the call's panel members each record a recommendation
# and the chair (a partnership director) records the decision once the panel (or its quorum) has spoken.
_REVIEWED = (
    Transition("submit", _("Submit"), _fs("draft"), "submitted", _fs(APPLICANT)),
    Transition(
        "withdraw", _("Withdraw"), _fs("draft", "submitted", "under_review"), "withdrawn", _fs(APPLICANT)
    ),
    Transition("open_review", _("Open review"), _fs("submitted"), "under_review", _fs(OFFICER)),
    Transition("award", _("Award"), _fs("under_review"), "awarded", _fs(DIRECTOR), needs_panel=True),
    Transition(
        "reject", _("Reject"), _fs("submitted", "under_review"), "rejected", _fs(DIRECTOR), needs_panel=True
    ),
    Transition("start_project", _("Start the project"), _fs("awarded"), "project", _fs(OFFICER, DIRECTOR)),
)
_REVIEWED_ACTIONS = (
    Action("edit", _fs("draft"), _fs(APPLICANT)),
    Action("assign_reviewer", _fs("submitted", "under_review"), _fs(OFFICER)),
    Action("review", _fs("under_review"), _fs(REVIEWER)),
    Action("recommend", _fs("submitted", "under_review"), _fs(PANEL)),
    Action(
        "see_reviews", _fs("under_review", "awarded", "rejected", "project"), _fs(OFFICER, DIRECTOR, PANEL)
    ),
)

WORKFLOWS: dict[str, Workflow] = {
    "seed": Workflow("seed", STATES, _REVIEWED, _REVIEWED_ACTIONS),
    "phd": Workflow("phd", STATES, _REVIEWED, _REVIEWED_ACTIONS),
    # Exchange grants are small: a programme officer decides without peer review.
    "exchange": Workflow(
        "exchange",
        {k: v for k, v in STATES.items() if k != "under_review"},
        (
            Transition("submit", _("Submit"), _fs("draft"), "submitted", _fs(APPLICANT)),
            Transition("withdraw", _("Withdraw"), _fs("draft", "submitted"), "withdrawn", _fs(APPLICANT)),
            Transition("award", _("Award"), _fs("submitted"), "awarded", _fs(OFFICER, DIRECTOR)),
            Transition("reject", _("Reject"), _fs("submitted"), "rejected", _fs(OFFICER, DIRECTOR)),
            Transition(
                "start_project", _("Start the project"), _fs("awarded"), "project", _fs(OFFICER, DIRECTOR)
            ),
        ),
        (Action("edit", _fs("draft"), _fs(APPLICANT)),),
    ),
}


def workflow_for(kind: str) -> Workflow:
    return WORKFLOWS[kind]
