"""SQLAlchemy models. They keep invariants and offer queries; they never commit."""

from app.models.accounts import User
from app.models.audit import AuditEvent
from app.models.constraints import (
    ChecklistAnswer,
    Constraint,
    ConstraintKind,
    ExpertiseRating,
    Priority,
)
from app.models.mapping import Criterion, Score, ScoringRound
from app.models.notes import NoteRevision, PrototypeNote
from app.models.reviews import STEPS, Candidate, Review, ReviewStatus, Step
from app.models.teams import ROLES, Invitation, Membership, Role, Team

__all__ = [
    "ROLES",
    "STEPS",
    "AuditEvent",
    "ChecklistAnswer",
    "Constraint",
    "Criterion",
    "ConstraintKind",
    "ExpertiseRating",
    "Priority",
    "PrototypeNote",
    "Candidate",
    "Invitation",
    "Membership",
    "NoteRevision",
    "Review",
    "ReviewStatus",
    "Role",
    "Score",
    "ScoringRound",
    "Step",
    "Team",
    "User",
]
