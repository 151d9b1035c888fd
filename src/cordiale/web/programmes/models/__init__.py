"""The programmes data model, one module per area."""

from cordiale.web.programmes.models.calls import (
    Application,
    ApplicationPI,
    Call,
    CallKind,
    Criterion,
    Decision,
    PanelRecommendation,
    ReviewAssignment,
    Score,
)
from cordiale.web.programmes.models.finance import Currency, LedgerEntry, ReferenceRate
from cordiale.web.programmes.models.grants import Exchange, Grant, Output
from cordiale.web.programmes.models.people import Partner, Person, Role, RoleKind
from cordiale.web.programmes.models.projects import (
    Milestone,
    MobilityStay,
    PhdStudent,
    Project,
    ProjectMember,
    ProjectPartner,
)

__all__ = [
    "Application",
    "ApplicationPI",
    "Call",
    "CallKind",
    "Criterion",
    "Currency",
    "Decision",
    "Exchange",
    "Grant",
    "LedgerEntry",
    "Milestone",
    "MobilityStay",
    "Output",
    "PanelRecommendation",
    "Partner",
    "Person",
    "PhdStudent",
    "Project",
    "ProjectMember",
    "ProjectPartner",
    "ReferenceRate",
    "ReviewAssignment",
    "Role",
    "RoleKind",
    "Score",
]
