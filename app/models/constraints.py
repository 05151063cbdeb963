"""Step 1: constraints, the decision checklist's answers, and members' own expertise."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import one_of, utcnow
from app.models.types import UTCDateTime


class Priority(StrEnum):
    MUST = "must"
    SHOULD = "should"
    COULD = "could"


class ConstraintKind(StrEnum):
    TRAFFIC = "traffic_rps"
    LATENCY = "latency_p95_ms"
    ERROR_RATE = "error_rate_pct"
    MEMORY = "memory_mb"
    DATA = "data_complexity"
    AUTH = "auth"
    DEPLOYMENT = "deployment"
    FREEFORM = "freeform"

    @property
    def spec(self) -> KindSpec:
        return KIND_SPECS[self]


class KindSpec:
    """How a kind is shown and, for measurable kinds, checked against benchmark evidence."""

    def __init__(self, label: str, unit: str = "", comparison: str = "", metric: str = "") -> None:
        self.label, self.unit, self.comparison, self.metric = label, unit, comparison, metric

    @property
    def measurable(self) -> bool:
        return bool(self.comparison)


KIND_SPECS = {
    ConstraintKind.TRAFFIC: KindSpec("Expected traffic", "req/s", ">=", "rps"),
    ConstraintKind.LATENCY: KindSpec("Latency target (p95)", "ms", "<=", "p95_ms"),
    ConstraintKind.ERROR_RATE: KindSpec("Maximum error rate", "%", "<=", "error_rate_pct"),
    ConstraintKind.MEMORY: KindSpec("Memory budget per instance", "MB", "<=", "memory_mb"),
    ConstraintKind.DATA: KindSpec("Data complexity", "models"),
    ConstraintKind.AUTH: KindSpec("Authentication needs"),
    ConstraintKind.DEPLOYMENT: KindSpec("Deployment environment"),
    ConstraintKind.FREEFORM: KindSpec("Other constraint"),
}
MEASURABLE_KINDS = [k for k in ConstraintKind if k.spec.measurable]
RELATIONSHIPS = [("simple", "Simple"), ("moderate", "Moderate"), ("complex", "Complex")]
AUTH_OPTIONS = [("sessions", "Sessions"), ("oauth2_oidc", "OAuth2 / OIDC"), ("sso_saml", "SSO / SAML"),
                ("jwt_api", "JWT APIs"), ("rbac", "RBAC / permissions")]
DEPLOYMENT_OPTIONS = [("containers", "Containers"), ("serverless", "Serverless"), ("vms", "VMs"),
                      ("paas", "PaaS")]



class Constraint(db.Model):
    """A typed constraint. Measurable kinds keep ``target`` as a number in the kind's unit so
    benchmark results can be checked against it; ``details`` holds the structured rest
    (relationships, auth options, deployment targets)."""

    __tablename__ = "constraints"
    __table_args__ = (
        CheckConstraint(f"kind IN ({one_of(ConstraintKind)})", name="kind"),
        CheckConstraint(f"priority IN ({one_of(Priority)})", name="priority"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(8), default=Priority.SHOULD.value)
    knockout: Mapped[bool] = mapped_column(default=False)
    target: Mapped[float | None] = mapped_column()
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    created_by: Mapped[User | None] = relationship()  # noqa: F821

    @property
    def kind_enum(self) -> ConstraintKind:
        return ConstraintKind(self.kind)

    @property
    def unit(self) -> str:
        return self.kind_enum.spec.unit


class ChecklistAnswer(db.Model):
    """The team's answer to one checklist question (one per question per review)."""

    __tablename__ = "checklist_answers"
    __table_args__ = (UniqueConstraint("review_id", "question_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    question_key: Mapped[str] = mapped_column(String(40))
    answer: Mapped[bool | None] = mapped_column()
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    answered_by: Mapped[User | None] = relationship()  # noqa: F821


class ExpertiseRating(db.Model):
    """A member's own familiarity (0–5) with a candidate, or with async Python (``subject`` is
    ``candidate:<id>`` or ``async``)."""

    __tablename__ = "expertise_ratings"
    __table_args__ = (
        UniqueConstraint("review_id", "user_id", "subject"),
        CheckConstraint("level BETWEEN 0 AND 5", name="level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(30))
    level: Mapped[int] = mapped_column()
