"""Step 3: prototype notes — what a time-boxed spike on a candidate found — and their history."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import utcnow
from app.models.types import UTCDateTime

DEFAULT_BUDGET_HOURS = 16.0  # two working days: the time box the process recommends
WEB_SCHEMES = ("http", "https")

note_authors = Table(
    "prototype_note_authors",
    db.metadata,
    Column("note_id", ForeignKey("prototype_notes.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class PrototypeNote(db.Model):
    """One spike on one candidate: who built it, hours against its time box, what they found.

    The lists (friction points, pros, cons, links) are short lists of strings kept as JSON; the
    body is Markdown, rendered and sanitized only when shown (app/services/markdown.py)."""

    __tablename__ = "prototype_notes"
    __table_args__ = (
        CheckConstraint("budget_hours >= 0", name="budget_hours"),
        CheckConstraint("spent_hours >= 0", name="spent_hours"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(120))
    budget_hours: Mapped[float] = mapped_column(default=DEFAULT_BUDGET_HOURS)
    spent_hours: Mapped[float] = mapped_column(default=0.0)
    friction: Mapped[list] = mapped_column(JSON, default=list)
    pros: Mapped[list] = mapped_column(JSON, default=list)
    cons: Mapped[list] = mapped_column(JSON, default=list)
    links: Mapped[list] = mapped_column(JSON, default=list)
    body: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    review: Mapped[Review] = relationship()  # noqa: F821
    candidate: Mapped[Candidate] = relationship()  # noqa: F821
    created_by: Mapped[User | None] = relationship()  # noqa: F821
    authors: Mapped[list[User]] = relationship(  # noqa: F821
        secondary=note_authors, order_by="User.name"
    )
    revisions: Mapped[list[NoteRevision]] = relationship(
        back_populates="note", cascade="all, delete-orphan", passive_deletes=True,
        order_by="NoteRevision.id.desc()",
    )

    @property
    def is_over_budget(self) -> bool:
        return self.spent_hours > self.budget_hours

    @property
    def hours_over(self) -> float:
        return max(0.0, self.spent_hours - self.budget_hours)

    @property
    def budget_used_percent(self) -> int:
        if self.budget_hours <= 0:
            return 100 if self.spent_hours > 0 else 0
        return round(100 * self.spent_hours / self.budget_hours)

    @property
    def web_links(self) -> list[str]:
        """The links that are safe to put in an href (saving already refuses others)."""
        return [link for link in self.links if urlsplit(link).scheme.lower() in WEB_SCHEMES]

    def is_author(self, user_id: int) -> bool:
        return any(author.id == user_id for author in self.authors)


class NoteRevision(db.Model):
    """One edit of a note: who, when, and per changed field its previous and new value
    (``changes = {"title": {"old": ..., "new": ...}, ...}``). Rows are only ever added."""

    __tablename__ = "prototype_note_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(
        ForeignKey("prototype_notes.id", ondelete="CASCADE"), index=True
    )
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    changes: Mapped[dict] = mapped_column(JSON, default=dict)

    note: Mapped[PrototypeNote] = relationship(back_populates="revisions")
    editor: Mapped[User | None] = relationship()  # noqa: F821
