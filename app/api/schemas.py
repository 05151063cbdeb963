"""The API's request and response shapes: validated by spectree and written into the OpenAPI
document from this code. The names are a published contract (issue 4): add, never rename."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema, field_validator

from app.models.base import MAX_ID

Binary = Annotated[Any, WithJsonSchema({"type": "string", "format": "binary"})]


class ErrorBody(BaseModel):
    code: str = Field(description="A stable machine-readable code, e.g. unreadable_file.")
    message: str = Field(description="What is wrong and what to do, for a person.")


class ErrorOut(BaseModel):
    error: ErrorBody


class TeamIn(BaseModel):
    name: str = Field(min_length=1, max_length=80, description="The team's name.")


class TeamOut(BaseModel):
    id: int
    name: str


class ReviewIn(BaseModel):
    team_id: int = Field(ge=1, le=MAX_ID, description="A team in which you are facilitator or owner.")
    title: str = Field(min_length=1, max_length=120)
    template: Literal["python-web-framework", "blank"] = Field(
        "python-web-framework", description="python-web-framework preloads Django, Flask and "
                                            "FastAPI; blank starts empty.")
    question: str = Field("", max_length=2000)
    candidates: list[str] = Field(default_factory=list, max_length=12,
                                  description="Extra candidates by name.")


class CandidateOut(BaseModel):
    id: int
    name: str


class ReviewSummary(BaseModel):
    id: int
    title: str
    team_id: int
    status: str
    step: str


class ReviewOut(ReviewSummary):
    question: str
    candidates: list[CandidateOut]


class ReviewList(BaseModel):
    reviews: list[ReviewSummary]


class LatencyOut(BaseModel):
    avg: float | None = None
    min: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None


class SummaryOut(BaseModel):
    requests: int | None = None
    failures: int | None = None
    error_rate: float | None = Field(None, description="A fraction (0.0123), not a percentage.")
    rps: float | None = None
    duration_s: float | None = None
    concurrency: int | None = Field(None, description="Users, VUs or connections.")
    latency_ms: LatencyOut


class EndpointOut(BaseModel):
    method: str | None = None
    name: str
    requests: int | None = None
    failures: int | None = None
    rps: float | None = None
    latency_ms: LatencyOut


class FileOut(BaseModel):
    name: str
    sha256: str
    bytes: int


class WarningOut(BaseModel):
    code: Literal["short_run", "no_success", "different_tools", "concurrency_differs",
                  "duration_differs"]
    message: str


class CheckOut(BaseModel):
    constraint_id: int
    kind: str = Field(description="traffic_rps, latency_p95_ms, error_rate_pct or memory_mb.")
    label: str
    comparison: Literal[">=", "<="]
    target: float
    unit: str
    actual: float | None
    status: Literal["pass", "fail", "unknown"]
    knockout: bool
    priority: str
    message: str


class RunOut(BaseModel):
    id: int
    candidate: CandidateOut
    label: str
    tool: str
    format: str
    tool_version: str | None = None
    started_at: str | None = None
    created_at: str
    files: list[FileOut]
    summary: SummaryOut
    endpoints: list[EndpointOut]
    has_timeseries: bool
    status_codes: dict[str, int]
    errors: dict[str, int]
    recomputed: bool = Field(description="Figures computed from raw samples, not the tool's own.")
    server: str
    hardware: str
    cpu_percent: float | None = None
    memory_mb: float | None = None
    notes: str
    pinned: bool
    warnings: list[WarningOut]
    constraint_checks: list[CheckOut]
    url: str = Field(description="The run's page in the web app.")


class RunList(BaseModel):
    runs: list[RunOut]


class UploadIn(BaseModel):
    """multipart/form-data: one or more ``file`` parts and the fields below."""

    candidate: str = Field(description="The candidate's id or name.")
    file: list[Binary] = Field(min_length=1, description="The result file(s) of one run "
                                                         "(plain or .gz).")
    label: str | None = Field(None, max_length=120)
    tool: str | None = Field(None, description="Optional: a format id (e.g. locust-csv, "
                                               "k6-ndjson) to override detection, or a tool name "
                                               "(e.g. k6) the files must come from.")
    server: str | None = Field(None, max_length=120, description="e.g. gunicorn 4 sync workers")
    hardware: str | None = Field(None, max_length=120)
    cpu_percent: float | None = Field(None, ge=0)
    memory_mb: float | None = Field(None, ge=0)
    notes: str | None = Field(None, max_length=5000)

    @field_validator("file", mode="before")
    @classmethod
    def _one_or_more(cls, value):
        return value if isinstance(value, list) else [value]
