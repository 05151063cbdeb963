"""Step 5: the decision a review reaches, its sign-offs, and the frozen record."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import one_of, utcnow
from app.models.types import UTCDateTime


class DecisionStatus(StrEnum):
    PROPOSED = "proposed"  # drafted by the facilitator; members sign
    SIGNED_OFF = "signed_off"  # frozen: snapshot and hash stored


class Stance(StrEnum):
    AGREE = "agree"
    ABSTAIN = "abstain"
    OBJECT = "object"
    BLOCK = "block"

    @property
    def needs_reason(self) -> bool:
        return self in (Stance.OBJECT, Stance.BLOCK)

    @property
    def label(self) -> str:
        return STANCE_LABELS[self]


STANCE_LABELS = {Stance.AGREE: "Agree", Stance.ABSTAIN: "Abstain", Stance.OBJECT: "Object",
                 Stance.BLOCK: "Block"}


class SignOffRule(StrEnum):
    """When a proposed decision counts as signed off (set per review, on its decision)."""

    CONSENT = "consent"  # a quorum of agreements and no block (the default)
    NO_OBJECTION = "no_objection"  # a quorum of agreements, no objection and no block
    UNANIMOUS = "unanimous"  # every voting member agrees
    MAJORITY = "majority"  # a quorum of agreements outnumbering objections and blocks

    @property
    def label(self) -> str:
        return RULE_LABELS[self]


RULE_LABELS = {
    SignOffRule.CONSENT: "A quorum of agreements and no block",
    SignOffRule.NO_OBJECTION: "A quorum of agreements, no objection and no block",
    SignOffRule.UNANIMOUS: "Every voting member agrees",
    SignOffRule.MAJORITY: "A quorum of agreements, more than objections and blocks together",
}



class Decision(db.Model):
    """The decision of a review (one per review). While proposed, the facilitator may revise it
    (which clears the sign-offs: people sign a text). Once signed off, ``snapshot`` holds the
    canonical JSON of the whole review and ``content_hash`` its SHA-256; nothing changes them.
    ``successor_review_id`` (set by "supersede") is archive metadata outside the hash."""

    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint(f"status IN ({one_of(DecisionStatus)})", name="status"),
        CheckConstraint(f"rule IN ({one_of(SignOffRule)})", name="rule"),
        CheckConstraint("quorum_kind IN ('count', 'share')", name="quorum_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"),
                                           unique=True)
    vote_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("vote_sessions.id", ondelete="SET NULL"))
    candidate_id: Mapped[int | None] = mapped_column(
        ForeignKey("candidates.id", ondelete="SET NULL"))
    chosen_name: Mapped[str] = mapped_column(String(60), index=True)
    status: Mapped[str] = mapped_column(String(12), default=DecisionStatus.PROPOSED.value,
                                        index=True)
    deviation_reason: Mapped[str] = mapped_column(Text, default="")
    rationale: Mapped[str] = mapped_column(Text, default="")
    consequences: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list] = mapped_column(JSON, default=list)
    rule: Mapped[str] = mapped_column(String(14), default=SignOffRule.CONSENT.value)
    quorum_kind: Mapped[str] = mapped_column(String(8), default="share")
    quorum_value: Mapped[float] = mapped_column(default=0.5)
    drafted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    drafted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revision: Mapped[int] = mapped_column(default=1)
    signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    signed_off_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    # The audit trail in the record ends with the sign-off event (later events are not in it).
    audit_until_id: Mapped[int | None] = mapped_column()
    snapshot: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    successor_review_id: Mapped[int | None] = mapped_column(
        ForeignKey("reviews.id", ondelete="SET NULL"))

    review: Mapped[Review] = relationship(foreign_keys=[review_id])  # noqa: F821
    successor: Mapped[Review | None] = relationship(  # noqa: F821
        foreign_keys=[successor_review_id])
    candidate: Mapped[Candidate | None] = relationship()  # noqa: F821
    vote_session: Mapped[VoteSession | None] = relationship()  # noqa: F821
    drafted_by: Mapped[User | None] = relationship(foreign_keys=[drafted_by_id])  # noqa: F821
    signed_off_by: Mapped[User | None] = relationship(  # noqa: F821
        foreign_keys=[signed_off_by_id])
    signoffs: Mapped[list[SignOff]] = relationship(
        back_populates="decision", cascade="all, delete-orphan", passive_deletes=True,
        order_by="SignOff.id")

    @property
    def is_signed_off(self) -> bool:
        return self.status == DecisionStatus.SIGNED_OFF

    @property
    def rule_enum(self) -> SignOffRule:
        return SignOffRule(self.rule)


class SignOff(db.Model):
    """A member's stance on the proposed decision (one per member; changeable until sign-off).
    ``role`` is the member's role when signing, kept for the record."""

    __tablename__ = "signoffs"
    __table_args__ = (
        UniqueConstraint("decision_id", "user_id"),
        CheckConstraint(f"stance IN ({one_of(Stance)})", name="stance"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"),
                                             index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    stance: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text, default="")
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    decision: Mapped[Decision] = relationship(back_populates="signoffs")
    user: Mapped[User] = relationship()  # noqa: F821

    @property
    def stance_enum(self) -> Stance:
        return Stance(self.stance)
