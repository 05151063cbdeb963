"""Personal API tokens: how CI pipelines call the JSON API as a person."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import utcnow
from app.models.types import UTCDateTime


class ApiToken(db.Model):
    """A token acting as its user in the API. Only the SHA-256 of the token is stored (it has
    256 bits of randomness, so a fast hash is enough); ``prefix`` is its first characters, shown
    so people can tell their tokens apart. A revoked token stays listed but never authenticates."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()  # noqa: F821

    @property
    def active(self) -> bool:
        return self.revoked_at is None
