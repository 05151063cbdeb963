"""SQLAlchemy models. They keep invariants and offer queries; they never commit."""

from app.models.accounts import LoginSession, User
from app.models.audit import AuditEvent
from app.models.benchmarks import (
    BenchmarkFile,
    BenchmarkPlan,
    BenchmarkRun,
    BenchmarkUpload,
    UploadStatus,
)
from app.models.constraints import (
    ChecklistAnswer,
    Constraint,
    ConstraintKind,
    ExpertiseRating,
    Priority,
)
from app.models.decisions import Decision, DecisionStatus, SignOff, SignOffRule, Stance
from app.models.mapping import Criterion, Score, ScoringRound
from app.models.notes import NoteRevision, PrototypeNote
from app.models.reviews import STEPS, Candidate, Review, ReviewStatus, Step
from app.models.teams import ROLES, Invitation, Membership, Role, Team
from app.models.tokens import ApiToken
from app.models.votes import (
    Ballot,
    Notification,
    NotificationKind,
    QuorumKind,
    RevealPolicy,
    VoteMethod,
    VoteSession,
    VoteStatus,
)

__all__ = [
    "ROLES",
    "STEPS",
    "ApiToken",
    "AuditEvent",
    "Ballot",
    "BenchmarkFile",
    "BenchmarkPlan",
    "BenchmarkRun",
    "BenchmarkUpload",
    "ChecklistAnswer",
    "Constraint",
    "Criterion",
    "Decision",
    "DecisionStatus",
    "ConstraintKind",
    "ExpertiseRating",
    "Priority",
    "QuorumKind",
    "RevealPolicy",
    "PrototypeNote",
    "Candidate",
    "Invitation",
    "LoginSession",
    "Membership",
    "Notification",
    "NotificationKind",
    "NoteRevision",
    "Review",
    "ReviewStatus",
    "Role",
    "Score",
    "ScoringRound",
    "SignOff",
    "SignOffRule",
    "Stance",
    "Step",
    "Team",
    "UploadStatus",
    "User",
    "VoteMethod",
    "VoteSession",
    "VoteStatus",
]
