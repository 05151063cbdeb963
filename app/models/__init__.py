"""SQLAlchemy models. They keep invariants and offer queries; they never commit."""

from app.models.accounts import User
from app.models.audit import AuditEvent
from app.models.reviews import STEPS, Candidate, Review, ReviewStatus, Step
from app.models.teams import ROLES, Invitation, Membership, Role, Team

__all__ = [
    "ROLES",
    "STEPS",
    "AuditEvent",
    "Candidate",
    "Invitation",
    "Membership",
    "Review",
    "ReviewStatus",
    "Role",
    "Step",
    "Team",
    "User",
]
