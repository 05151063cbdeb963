"""Step 2: weighted criteria, scoring rounds and the members' blind scores."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import utcnow
from app.models.types import UTCDateTime


class Criterion(db.Model):
    """A criterion of the matrix. ``reference`` holds the guide's reference scores by candidate
    name (shown as a hint the team may ignore)."""

    __tablename__ = "criteria"
    __table_args__ = (CheckConstraint("weight >= 0 AND weight <= 5", name="weight"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    weight: Mapped[float] = mapped_column(default=3.0)
    position: Mapped[int] = mapped_column(default=0)
    reference: Mapped[dict] = mapped_column(JSON, default=dict)


class ScoringRound(db.Model):
    """One round of blind scoring. Scores stay private until the facilitator reveals the round;
    a new round starts after discussion, and revealed rounds stay visible as history with the
    weights they were revealed with."""

    __tablename__ = "scoring_rounds"
    __table_args__ = (UniqueConstraint("review_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revealed_weights: Mapped[dict | None] = mapped_column(JSON)

    @property
    def revealed(self) -> bool:
        return self.revealed_at is not None


class Score(db.Model):
    """A member's 1–5 score of one candidate on one criterion in one round."""

    __tablename__ = "scores"
    __table_args__ = (
        UniqueConstraint("round_id", "user_id", "criterion_id", "candidate_id"),
        CheckConstraint("value BETWEEN 1 AND 5", name="value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("scoring_rounds.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    criterion_id: Mapped[int] = mapped_column(ForeignKey("criteria.id", ondelete="CASCADE"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    value: Mapped[int] = mapped_column()
    rationale: Mapped[str] = mapped_column(String(200), default="")
    evidence: Mapped[str | None] = mapped_column(String(40))  # "note:<id>" or "run:<id>"
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()  # noqa: F821
