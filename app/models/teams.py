"""Teams, their members and invitations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import utcnow
from app.models.types import UTCDateTime, aware


class Role(StrEnum):
    """Ordered from least to most rights; ``rank`` compares them."""

    OBSERVER = "observer"
    MEMBER = "member"
    FACILITATOR = "facilitator"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return ROLES.index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= Role(other).rank

    @property
    def label(self) -> str:
        return self.value.capitalize()


ROLES: list[Role] = [Role.OBSERVER, Role.MEMBER, Role.FACILITATOR, Role.OWNER]
_ROLE_CHECK = "role IN ('observer', 'member', 'facilitator', 'owner')"


class Team(db.Model):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="team", cascade="all, delete-orphan", order_by="Membership.id"
    )
    reviews: Mapped[list[Review]] = relationship(  # noqa: F821
        back_populates="team", cascade="all, delete-orphan", order_by="Review.id.desc()"
    )

    def membership_of(self, user_id: int) -> Membership | None:
        return next((m for m in self.memberships if m.user_id == user_id), None)

    def owners(self) -> list[Membership]:
        return [m for m in self.memberships if m.role == Role.OWNER]


class Membership(db.Model):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id"),
        CheckConstraint(_ROLE_CHECK, name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    team: Mapped[Team] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")  # noqa: F821

    @property
    def role_enum(self) -> Role:
        return Role(self.role)


class Invitation(db.Model):
    """An expiring link that lets whoever holds it join a team with a role.

    Only the SHA-256 of the token is stored, so a database leak does not leak usable links."""

    __tablename__ = "invitations"
    __table_args__ = (CheckConstraint(_ROLE_CHECK, name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    note: Mapped[str] = mapped_column(String(120), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    uses: Mapped[int] = mapped_column(default=0)

    team: Mapped[Team] = relationship()
    created_by: Mapped[User | None] = relationship()  # noqa: F821

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and aware(self.expires_at) > now
