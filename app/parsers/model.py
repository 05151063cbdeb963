"""The normalized shape every parser produces, and the one error every parser raises.

Kept free of any parsing logic so the web layer can import the types cheaply. All figures
are plain floats/ints in fixed units (milliseconds, seconds, fractions 0..1) so runs of
different tools compare side by side; ``None`` always means "this format does not carry
the figure" and is never replaced by a guess.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO


class ParseError(ValueError):
    """A benchmark file could not be read; ``message`` is a sentence meant for a person.

    It says what is wrong with the file and, where useful, what is accepted instead.
    ``filename`` names the file it is about (None when it concerns the whole upload).
    """

    def __init__(self, message: str, *, filename: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.filename = filename

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class InputFile:
    """One uploaded file: a seekable binary stream plus its name (only a hint for messages)."""

    name: str
    stream: BinaryIO


@dataclass
class Latency:
    """Latency figures in milliseconds; None where the format does not carry the figure."""

    avg: float | None = None
    min: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None


@dataclass
class Summary:
    """Whole-run figures. ``error_rate`` is a fraction (0..1), never a percentage."""

    requests: int | None = None
    failures: int | None = None
    error_rate: float | None = None
    rps: float | None = None
    duration_s: float | None = None
    concurrency: int | None = None
    latency_ms: Latency = field(default_factory=Latency)


@dataclass
class Endpoint:
    """One row per (method, name) as the tool groups requests."""

    method: str | None
    name: str
    requests: int | None = None
    failures: int | None = None
    rps: float | None = None
    latency_ms: Latency = field(default_factory=Latency)


@dataclass
class Point:
    """One time-series sample; ``t_s`` is seconds from the start of the run."""

    t_s: float
    rps: float | None = None
    p95_ms: float | None = None
    error_rate: float | None = None
    users: int | None = None


@dataclass
class ParsedRun:
    """Everything a parser learnt from one run's files, in one normalized shape."""

    format: str
    tool: str
    tool_version: str | None = None
    started_at: datetime | None = None
    summary: Summary = field(default_factory=Summary)
    endpoints: list[Endpoint] = field(default_factory=list)
    timeseries: list[Point] = field(default_factory=list)
    status_codes: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    recomputed: bool = False
    percentile_method: str = ""
    rps_method: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe data (datetimes become ISO-8601 strings in UTC)."""
        data = dataclasses.asdict(self)
        data["started_at"] = self.started_at.isoformat() if self.started_at else None
        return data


def error_rate(requests: int | None, failures: int | None) -> float | None:
    """failures / requests as a fraction (at most 1), or None when it is undefined.

    Some tools count errors that never became requests (wrk's socket errors, inconsistent
    per-second counters), so the ratio is capped at 1 rather than shown as 130 %.
    """
    if requests is None or failures is None or requests <= 0:
        return None
    return min(failures / requests, 1.0)
