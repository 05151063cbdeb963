"""Step 5: team votes, their ballots, and the notifications that remind people to vote."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import one_of, utcnow
from app.models.types import UTCDateTime


class VoteMethod(StrEnum):
    SINGLE = "single"
    APPROVAL = "approval"
    SCORE = "score"
    RANKED = "ranked"

    @property
    def label(self) -> str:
        return METHOD_LABELS[self]


METHOD_LABELS = {
    VoteMethod.SINGLE: "Single choice",
    VoteMethod.APPROVAL: "Approval (any number)",
    VoteMethod.SCORE: "Score (0–5 per candidate)",
    VoteMethod.RANKED: "Ranked choice (instant runoff)",
}


class VoteStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class RevealPolicy(StrEnum):
    LIVE = "live"  # tallies visible while the vote is open
    ON_CLOSE = "on_close"  # hidden until the vote closes


class QuorumKind(StrEnum):
    NONE = "none"
    COUNT = "count"
    SHARE = "share"



class VoteSession(db.Model):
    """One vote of a review on its (non-disqualified) candidates, frozen when it opens.

    ``ballot_count`` is the guard a ballot writes through: a ballot is stored only in the same
    transaction as ``UPDATE ... WHERE status = 'open' AND (closes_at IS NULL OR closes_at > now)``
    hitting this row, and the close is ``UPDATE ... WHERE status = 'open'``; so a ballot racing
    the close is either counted before it or refused, and exactly one closer wins."""

    __tablename__ = "vote_sessions"
    __table_args__ = (
        UniqueConstraint("review_id", "number"),
        CheckConstraint(f"method IN ({one_of(VoteMethod)})", name="method"),
        CheckConstraint(f"status IN ({one_of(VoteStatus)})", name="status"),
        CheckConstraint(f"reveal IN ({one_of(RevealPolicy)})", name="reveal"),
        CheckConstraint(f"quorum_kind IN ({one_of(QuorumKind)})", name="quorum_kind"),
        CheckConstraint("ballot_count >= 0", name="ballot_count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    method: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(8), default=VoteStatus.OPEN.value, index=True)
    # The ballot's candidates, frozen when the vote opens: [{"id": 3, "name": "Django"}, ...].
    candidates: Mapped[list] = mapped_column(JSON, default=list)
    quorum_kind: Mapped[str] = mapped_column(String(8), default=QuorumKind.NONE.value)
    quorum_value: Mapped[float] = mapped_column(default=0.0)
    quorum_each_role: Mapped[bool] = mapped_column(default=False)
    reveal: Mapped[str] = mapped_column(String(10), default=RevealPolicy.LIVE.value)
    anonymous: Mapped[bool] = mapped_column(default=False)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    timer_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    close_reason: Mapped[str | None] = mapped_column(String(20))
    ballot_count: Mapped[int] = mapped_column(default=0)
    # The counted result, stored once by the closer (see app/services/votes.result_data).
    result: Mapped[dict | None] = mapped_column(JSON)

    review: Mapped[Review] = relationship()  # noqa: F821
    opened_by: Mapped[User | None] = relationship(foreign_keys=[opened_by_id])  # noqa: F821
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])  # noqa: F821

    @property
    def is_open(self) -> bool:
        return self.status == VoteStatus.OPEN

    @property
    def method_enum(self) -> VoteMethod:
        return VoteMethod(self.method)

    @property
    def candidate_ids(self) -> list[int]:
        return [c["id"] for c in self.candidates]

    @property
    def names(self) -> dict[int, str]:
        return {c["id"]: c["name"] for c in self.candidates}

    @property
    def hides_tally(self) -> bool:
        """True while the tallies must stay hidden (policy "hidden until close", still open)."""
        return self.is_open and self.reveal == RevealPolicy.ON_CLOSE


class Ballot(db.Model):
    """One member's ballot in one vote (changeable until the close). ``payload`` is the
    normalized ballot of app/analysis/voting (an id, a list of ids, or {id: score}); ``role``
    is the voter's role when they cast it (for "at least one from each role" quorums)."""

    __tablename__ = "ballots"
    __table_args__ = (UniqueConstraint("session_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("vote_sessions.id", ondelete="CASCADE"),
                                            index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    payload: Mapped[object] = mapped_column(JSON)
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship()  # noqa: F821


class NotificationKind(StrEnum):
    VOTE_OPENED = "vote_opened"
    VOTE_DEADLINE = "vote_deadline"
    DECISION_PROPOSED = "decision_proposed"
    REVISIT_DUE = "revisit_due"


class Notification(db.Model):
    """An in-app notification (and the e-mail sent with it). The unique key (user, subject,
    kind) makes every reminder happen once, even when two processes run the reminder pass at
    the same moment: the second insert fails and that process sends nothing."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "subject", "kind"),
        CheckConstraint(f"kind IN ({one_of(NotificationKind)})", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"),
                                                  index=True)
    kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(40))  # "vote:<id>" or "decision:<id>"
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()  # noqa: F821

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
