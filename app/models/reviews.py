"""A review: one decision a team is working towards, walked through five steps."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import one_of, utcnow
from app.models.types import UTCDateTime


class Step(StrEnum):
    CONSTRAINTS = "constraints"
    MAPPING = "mapping"
    PROTOTYPES = "prototypes"
    BENCHMARKS = "benchmarks"
    VOTE = "vote"

    @property
    def number(self) -> int:
        return STEPS.index(self) + 1

    @property
    def label(self) -> str:
        return STEP_LABELS[self]


STEPS: list[Step] = list(Step)
STEP_LABELS = {
    Step.CONSTRAINTS: "Constraints",
    Step.MAPPING: "Mapping",
    Step.PROTOTYPES: "Prototypes",
    Step.BENCHMARKS: "Benchmarks",
    Step.VOTE: "Vote & sign-off",
}


class ReviewStatus(StrEnum):
    DRAFT = "draft"
    IN_PROGRESS = "in_progress"
    VOTING = "voting"
    SIGNED_OFF = "signed_off"
    ARCHIVED = "archived"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()



class Review(db.Model):
    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint(f"status IN ({one_of(ReviewStatus)})", name="status"),
        CheckConstraint(f"current_step IN ({one_of(Step)})", name="current_step"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    question: Mapped[str] = mapped_column(Text, default="")
    template: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default=ReviewStatus.DRAFT.value)
    current_step: Mapped[str] = mapped_column(String(16), default=Step.CONSTRAINTS.value)
    revisit_on: Mapped[date | None] = mapped_column()
    # The decision checklist's questions (data, see app/analysis/checklist.py): the framework
    # template's eight for a framework review, the team's own (possibly none) for a blank one.
    checklist: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    # Bumped with every live update, so a client that missed a broadcast (a reconnect, Redis
    # briefly gone) notices on its next heartbeat and re-fetches its view.
    revision: Mapped[int] = mapped_column(default=0, server_default="0")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    team: Mapped[Team] = relationship(back_populates="reviews")  # noqa: F821
    created_by: Mapped[User | None] = relationship()  # noqa: F821
    candidates: Mapped[list[Candidate]] = relationship(
        back_populates="review", cascade="all, delete-orphan", order_by="Candidate.position"
    )
    criteria: Mapped[list[Criterion]] = relationship(  # noqa: F821
        cascade="all, delete-orphan", order_by="Criterion.position"
    )

    @property
    def step(self) -> Step:
        return Step(self.current_step)

    @property
    def status_enum(self) -> ReviewStatus:
        return ReviewStatus(self.status)

    @property
    def is_frozen(self) -> bool:
        return self.status in (ReviewStatus.SIGNED_OFF, ReviewStatus.ARCHIVED)


class Candidate(db.Model):
    __tablename__ = "candidates"
    __table_args__ = (UniqueConstraint("review_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[int] = mapped_column(default=0)
    # Set when the candidate fails a knock-out constraint; shown everywhere with the reason.
    disqualified_reason: Mapped[str | None] = mapped_column(String(300))
    disqualified_by_constraint_id: Mapped[int | None] = mapped_column(
        ForeignKey("constraints.id", ondelete="SET NULL")
    )

    review: Mapped[Review] = relationship(back_populates="candidates")

    @property
    def disqualified(self) -> bool:
        return self.disqualified_reason is not None
