"""Step 4: benchmark runs (a load test's normalized results), their original files, background
parse jobs and the team's starter-script settings."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import utcnow
from app.models.types import UTCDateTime


class BenchmarkRun(db.Model):
    """One load-test run of one candidate, normalized by app.parsers into one shape.

    The parser's figures are kept as it produced them (``summary``, ``endpoints``, ``timeseries``
    as JSON, ``None`` where the format carries no figure); what no tool file carries (server,
    hardware, CPU and memory observed, notes) is entered by people. ``pinned`` marks the run the
    team compares for its candidate; without one the latest run is compared."""

    __tablename__ = "benchmark_runs"
    __table_args__ = (
        CheckConstraint("cpu_percent IS NULL OR cpu_percent >= 0", name="cpu_percent"),
        CheckConstraint("memory_mb IS NULL OR memory_mb >= 0", name="memory_mb"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(120))
    format: Mapped[str] = mapped_column(String(30))
    tool: Mapped[str] = mapped_column(String(30))
    tool_version: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
    endpoints: Mapped[list] = mapped_column(JSON, default=list)
    timeseries: Mapped[list] = mapped_column(JSON, default=list)
    status_codes: Mapped[dict] = mapped_column(JSON, default=dict)
    errors: Mapped[dict] = mapped_column(JSON, default=dict)
    recomputed: Mapped[bool] = mapped_column(default=False)
    percentile_method: Mapped[str] = mapped_column(Text, default="")
    rps_method: Mapped[str] = mapped_column(Text, default="")
    parser_notes: Mapped[list] = mapped_column(JSON, default=list)
    server: Mapped[str] = mapped_column(String(120), default="")
    hardware: Mapped[str] = mapped_column(String(120), default="")
    cpu_percent: Mapped[float | None] = mapped_column()
    memory_mb: Mapped[float | None] = mapped_column()
    notes: Mapped[str] = mapped_column(Text, default="")
    pinned: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    candidate: Mapped[Candidate] = relationship()  # noqa: F821
    created_by: Mapped[User | None] = relationship()  # noqa: F821
    files: Mapped[list[BenchmarkFile]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True,
        order_by="BenchmarkFile.position",
    )

    def figure(self, name: str):
        """A summary figure (``rps``, ``duration_s``…) or None."""
        return (self.summary or {}).get(name)

    def latency(self, name: str):
        """A latency figure in ms (``p95``…) or None."""
        return ((self.summary or {}).get("latency_ms") or {}).get(name)

    def value(self, name: str):
        """Any figure by name: a summary figure, a latency key (``p95``…), ``error_rate_pct``,
        or what people entered (``memory_mb``, ``cpu_percent``)."""
        if name in ("error_rate_pct", "memory_mb", "cpu_percent"):
            return getattr(self, name)
        if name in ("avg", "min", "p50", "p90", "p95", "p99", "max"):
            return self.latency(name)
        return self.figure(name)

    @property
    def error_rate_pct(self) -> float | None:
        rate = self.figure("error_rate")
        return None if rate is None else rate * 100

    @property
    def has_timeseries(self) -> bool:
        return bool(self.timeseries)

    @property
    def title(self) -> str:
        return f"{self.candidate.name} — {self.label}"


class BenchmarkFile(db.Model):
    """An original file of a run. The bytes live under UPLOAD_FOLDER, addressed by their SHA-256
    (identical uploads share one file on disk)."""

    __tablename__ = "benchmark_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("benchmark_runs.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    bytes: Mapped[int] = mapped_column(BigInteger)

    run: Mapped[BenchmarkRun] = relationship(back_populates="files")


class UploadStatus(StrEnum):
    PARSING = "parsing"
    DONE = "done"
    FAILED = "failed"


class BenchmarkUpload(db.Model):
    """A large upload being parsed in the background, shown to its uploader with its progress.

    ``files`` lists the stored files (name, sha256, bytes) and ``details`` what was entered with
    them; on success the run is created and ``run_id`` set; on failure the files are removed and
    ``message`` says why (no run is stored).

    The parse is held by one worker at a time: ``claimed_by`` names it (host:pid:token) and
    ``lease_until`` says until when its claim holds; every progress report renews the lease. A
    parse whose lease ran out (its process died) is claimed again by the scheduler of any
    process (``attempts`` counts the claims), and only the worker still holding the claim may
    finish it (see app/services/benchmarks.py)."""

    __tablename__ = "benchmark_uploads"
    __table_args__ = (
        CheckConstraint("status IN ('parsing', 'done', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    created_by_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(12), default=UploadStatus.PARSING.value)
    files: Mapped[list] = mapped_column(JSON, default=list)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("benchmark_runs.id", ondelete="SET NULL")
    )
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    candidate: Mapped[Candidate] = relationship()  # noqa: F821
    created_by: Mapped[User] = relationship()  # noqa: F821
    run: Mapped[BenchmarkRun | None] = relationship()

    @property
    def percent(self) -> int:
        if self.status != UploadStatus.PARSING or self.bytes_total <= 0:
            return 100
        return min(99, int(100 * self.bytes_read / self.bytes_total))

    @property
    def names(self) -> str:
        return ", ".join(f["name"] for f in self.files)


class BenchmarkPlan(db.Model):
    """What the team typed in for the starter Locust file and k6 script: endpoints (method, path,
    weight), think time, users, duration and host. One per review."""

    __tablename__ = "benchmark_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(
        ForeignKey("reviews.id", ondelete="CASCADE"), unique=True
    )
    endpoints: Mapped[list] = mapped_column(JSON, default=list)
    think_time_s: Mapped[float] = mapped_column(default=1.0)
    users: Mapped[int] = mapped_column(default=50)
    duration_s: Mapped[int] = mapped_column(default=120)
    host: Mapped[str] = mapped_column(String(200), default="http://127.0.0.1:8000")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
