"""Step 4: benchmark runs — ingest uploaded tool output, compare candidates, check constraints.

One ``ingest_run`` serves the page upload and the JSON API: it checks the review, candidate and
entered figures, streams the files to disk (content-addressed by SHA-256, hashed while they are
written), and parses them with app.parsers. A rejected file is a ``RejectedFile`` (422) carrying
the parser's message, and nothing is kept: no run row, no file left on disk. Files above the
sync limit (page uploads only) are parsed in a background task whose progress the uploader sees.

Comparison, constraint checks, comparability warnings and the suggested performance score are
pure reads over the stored runs (``compare``); nothing here disqualifies a candidate on its own:
``apply_knockout`` is the facilitator's one click on a suggestion (see its docstring).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import secrets
import socket
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import or_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload

from app import realtime
from app.extensions import db, socketio
from app.models import (
    BenchmarkFile,
    BenchmarkPlan,
    BenchmarkRun,
    BenchmarkUpload,
    Candidate,
    Constraint,
    Review,
    Role,
    UploadStatus,
    User,
)
from app.parsers import FORMATS, InputFile, ParsedRun, ParseError, parse_run
from app.services import audit, constraints
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.reviews import ensure_editable

log = logging.getLogger(__name__)

REGION = "benchmarks"  # the comparison: runs, checks, warnings, charts
UPLOADS_REGION = "benchmark-uploads"  # the viewer's own background uploads and their progress
PLAN_REGION = "benchmark-plan"  # the starter-script settings

MAX_FILES = 8
CHUNK = 1024 * 1024
MAX_LABEL = 120
MAX_TEXT = 120
MAX_NOTES = 5000
MAX_CPU_PERCENT = 100_000.0  # per process, summed over cores (top's convention)
MAX_MEMORY_MB = 10_000_000.0
PROGRESS_INTERVAL_S = 1.0  # progress is written and announced at most once a second
STALE_AFTER = timedelta(minutes=15)  # a background parse with no progress for this long died
SHORT_RUN_S = 30
CONCURRENCY_TOLERANCE = 0.10
DURATION_RATIO = 2.0
TOOLS = sorted({fmt.split("-")[0] for fmt in FORMATS})
SAME_TOOL = {"wrk2": "wrk"}  # wrk2 is wrk with a constant rate: the same way of counting


class RejectedFile(Invalid):
    """The uploaded files are not a readable run: the message says what is wrong and what the
    app accepts. Nothing of the upload is kept."""

    status = 422
    code = "unreadable_file"


# --- what people enter with a run ----------------------------------------------------------

@dataclass(frozen=True)
class RunDetails:
    """What no tool file carries, as submitted (strings or numbers; checked by the service).

    ``tool`` is optional: a format id (e.g. ``locust-csv``) overrides detection, a tool name
    (e.g. ``k6``) only asserts which tool wrote the files."""

    label: str = ""
    tool: str = ""
    server: str = ""
    hardware: str = ""
    cpu_percent: object = None
    memory_mb: object = None
    notes: str = ""


def _number(value, name: str, label: str, maximum: float) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Invalid(f"{label} must be a number.", field=name) from None
    if not math.isfinite(number) or number < 0 or number > maximum:
        raise Invalid(f"{label} must be a number from 0 to {maximum:,.0f}.", field=name)
    return number


def _text(value, name: str, label: str, limit: int) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else str(value)
    if len(text) > limit:
        raise Invalid(f"Keep {label} to {limit} characters.", field=name)
    return text


def clean_details(details: RunDetails) -> dict:
    """The entered fields, checked: Invalid (with the field) for anything out of range."""
    return {
        "label": _text(details.label, "label", "the label", MAX_LABEL),
        "server": _text(details.server, "server", "the server description", MAX_TEXT),
        "hardware": _text(details.hardware, "hardware", "the hardware description", MAX_TEXT),
        "cpu_percent": _number(details.cpu_percent, "cpu_percent", "CPU %", MAX_CPU_PERCENT),
        "memory_mb": _number(details.memory_mb, "memory_mb", "Memory (MB)", MAX_MEMORY_MB),
        "notes": _text(details.notes, "notes", "the notes", MAX_NOTES),
    }


def resolve_tool(value: str | None) -> tuple[str | None, str | None]:
    """(format id to force, tool name to expect) from the optional ``tool`` field."""
    value = (value or "").strip()
    if not value:
        return None, None
    if value in FORMATS:
        return value, None
    if value.lower() in TOOLS:
        return None, value.lower()
    raise Invalid(f"“{value[:40]}” is neither a format nor a tool this app reads. Leave it empty "
                  f"to detect the format, or give a tool ({', '.join(TOOLS)}) or a format id "
                  f"({', '.join(FORMATS)}).", field="tool")


def find_candidate(review: Review, ref) -> Candidate:
    """A candidate of the review by id or (case-insensitive) name; Invalid otherwise."""
    text = str(ref if ref is not None else "").strip()
    found = None
    if text.isdigit():
        found = next((c for c in review.candidates if c.id == int(text)), None)
    found = found or next((c for c in review.candidates if c.name.lower() == text.lower()), None)
    if found is None:
        names = ", ".join(c.name for c in review.candidates) or "none yet"
        what = f"“{text[:60]}” is not" if text else "Choose"
        raise Invalid(f"{what} a candidate of this review (candidates: {names}).",
                      field="candidate")
    return found


# --- files on disk -------------------------------------------------------------------------

@dataclass(frozen=True)
class IncomingFile:
    """One uploaded file as the adapters hand it over: its name and a readable binary stream."""

    name: str
    stream: BinaryIO


@dataclass(frozen=True)
class StoredFile:
    name: str
    sha256: str
    bytes: int

    def as_dict(self) -> dict:
        return {"name": self.name, "sha256": self.sha256, "bytes": self.bytes}


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def display_name(raw: str | None) -> str:
    """The file's own name without any directory part, control or invisible formatting
    characters (bidi overrides would disguise the extension); for people, never a path."""
    name = re.split(r"[\\/]", raw or "")[-1]
    name = "".join(ch for ch in _CONTROL.sub("", name)
                   if unicodedata.category(ch) not in ("Cc", "Cf")).strip()
    name = name[:255]
    return name if name.strip(".") else "upload"


def upload_root() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"])


def blob_path(sha256: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise NotFound("No such file.")
    return upload_root() / sha256[:2] / sha256


# Files people upload by mistake, told apart by their magic bytes (the name is never trusted):
# refused by what they are before anything is kept or parsed. gzip (1f 8b) is accepted.
_ARCHIVE_HINT = "Unpack it and upload the tool's result files (plain or .gz)."
_NOT_RESULTS = "Upload the load-testing tool's own output instead."
KNOWN_BINARIES: tuple[tuple[re.Pattern[bytes], str, str], ...] = tuple(
    (re.compile(pattern, re.S), what, hint) for pattern, what, hint in (
        (rb"PK\x03\x04|PK\x05\x06|PK\x07\x08", "a ZIP archive (or an Office document)",
         _ARCHIVE_HINT),
        (rb"\x7fELF", "a program (ELF executable)", _NOT_RESULTS),
        (rb"MZ.{0,62}\x00", "a Windows program (EXE/DLL)", _NOT_RESULTS),
        (rb"\xfe\xed\xfa[\xce\xcf]|[\xce\xcf]\xfa\xed\xfe|\xca\xfe\xba\xbe",
         "a macOS program or Java class file", _NOT_RESULTS),
        (rb"%PDF-", "a PDF document", _NOT_RESULTS),
        (rb"\x89PNG\r\n\x1a\n|\xff\xd8\xff|GIF8[79]a", "an image", _NOT_RESULTS),
        (rb"7z\xbc\xaf\x27\x1c|Rar!\x1a\x07|\xfd7zXZ\x00|\x28\xb5\x2f\xfd|BZh[1-9]1AY&SY",
         "a compressed archive (7z, RAR, xz, zstd or bzip2); only gzip is read", _ARCHIVE_HINT),
        (rb".{257}ustar", "a tar archive", _ARCHIVE_HINT),
        (rb"SQLite format 3\x00", "an SQLite database", _NOT_RESULTS),
        (rb"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office document",
         _NOT_RESULTS),
    ))


def refuse_known_binary(name: str, head: bytes) -> None:
    """RejectedFile when the first bytes of a file are an archive, a program, a document or
    an image: a clear answer instead of a parse failure (or of a parser reading garbage)."""
    for pattern, what, hint in KNOWN_BINARIES:
        if pattern.match(head):
            raise RejectedFile(f"“{display_name(name)}” is {what}, not a load-test result, "
                               f"whatever its name says. {hint}", field="files")


def _store_one(upload: IncomingFile, tmp_dir: Path) -> StoredFile:
    """Copy the stream to disk in chunks while hashing it; then move it to its address.
    A file that is recognisably no result file (see KNOWN_BINARIES) is refused at its first
    chunk, before it is written."""
    digest, size = hashlib.sha256(), 0
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := upload.stream.read(CHUNK):
                if not size:
                    refuse_known_binary(upload.name, chunk)
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        sha = digest.hexdigest()
        target = blob_path(sha)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return StoredFile(display_name(upload.name), sha, size)


def store_files(files: Iterable[IncomingFile]) -> list[StoredFile]:
    """Stream every file to UPLOAD_FOLDER (bounded memory); on any failure keep none of them."""
    tmp_dir = upload_root() / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    stored: list[StoredFile] = []
    try:
        for upload in files:
            stored.append(_store_one(upload, tmp_dir))
    except BaseException:
        discard(stored)
        raise
    return stored


def _referenced(sha256: str) -> bool:
    in_runs = db.session.scalar(db.select(db.func.count()).select_from(BenchmarkFile)
                                .where(BenchmarkFile.sha256 == sha256))
    if in_runs:
        return True
    parsing = db.session.scalars(db.select(BenchmarkUpload.files).where(
        BenchmarkUpload.status == UploadStatus.PARSING.value))
    return any(f.get("sha256") == sha256 for files in parsing for f in files)


def discard(stored: Iterable[StoredFile | dict]) -> None:
    """Remove stored files that no run (and no running parse) refers to any more."""
    for item in stored:
        sha = item["sha256"] if isinstance(item, dict) else item.sha256
        if not _referenced(sha):
            blob_path(sha).unlink(missing_ok=True)


# --- parsing -------------------------------------------------------------------------------

def _check_finite(value, where: str = "") -> None:
    """Parsers never return NaN or infinity; if one did, refuse the file instead of storing it."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ParseError(f"The file has a figure that is not a number ({where or 'a value'}). "
                         "Upload the tool's unedited output.")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, str(key))
    elif isinstance(value, list):
        for item in value:
            _check_finite(item, where)


# What no real run reaches: a figure beyond these is a damaged or edited file (a timestamp
# read as a count, an added digit), refused rather than stored, compared and charted.
MAX_PLAUSIBLE_COUNT = 1e13  # requests, failures, status and error counts
MAX_PLAUSIBLE_RPS = 1e9
MAX_PLAUSIBLE_LATENCY_MS = 1e9  # 11.6 days
MAX_PLAUSIBLE_SECONDS = 1e9  # 31.7 years of run time
MAX_PLAUSIBLE_USERS = 1e8
PLAUSIBLE_YEARS = range(1990, 2200)


def _check_plausible(parsed: ParsedRun) -> None:
    """ParseError naming the first figure of the run that no real measurement reaches."""
    def rows(prefix: str, requests, failures, rps, latency) -> list[tuple[str, object, float]]:
        return [(f"{prefix}request count", requests, MAX_PLAUSIBLE_COUNT),
                (f"{prefix}failure count", failures, MAX_PLAUSIBLE_COUNT),
                (f"{prefix}requests/s", rps, MAX_PLAUSIBLE_RPS),
                *((f"{prefix}{key} latency (ms)", value, MAX_PLAUSIBLE_LATENCY_MS)
                  for key, value in vars(latency).items())]

    s = parsed.summary
    checks = [*rows("the ", s.requests, s.failures, s.rps, s.latency_ms),
              ("the duration (s)", s.duration_s, MAX_PLAUSIBLE_SECONDS),
              ("the concurrency", s.concurrency, MAX_PLAUSIBLE_USERS)]
    for e in parsed.endpoints:
        checks += rows(f"“{e.name[:40]}”: the ", e.requests, e.failures, e.rps, e.latency_ms)
    for p in parsed.timeseries:
        checks += [("a time-series offset (s)", p.t_s, MAX_PLAUSIBLE_SECONDS),
                   ("a time-series requests/s", p.rps, MAX_PLAUSIBLE_RPS),
                   ("a time-series p95 (ms)", p.p95_ms, MAX_PLAUSIBLE_LATENCY_MS),
                   ("a time-series user count", p.users, MAX_PLAUSIBLE_USERS)]
    checks += [(f"the count of status {code[:10]}", n, MAX_PLAUSIBLE_COUNT)
               for code, n in parsed.status_codes.items()]
    checks += [("an error count", n, MAX_PLAUSIBLE_COUNT) for n in parsed.errors.values()]
    for what, value, limit in checks:
        if isinstance(value, int | float) and value > limit:
            raise ParseError(f"The file says {what} is {value:.4g}, more than any real run "
                             f"({limit:,.0f}). Upload the tool's unedited output.")
    if parsed.started_at and parsed.started_at.year not in PLAUSIBLE_YEARS:
        raise ParseError(f"The file says the run started in the year {parsed.started_at.year}. "
                         "Upload the tool's unedited output.")


def parse_stored(stored: list[StoredFile], fmt: str | None, expected_tool: str | None,
                 progress: Callable[[int], None] | None = None) -> ParsedRun:
    """Parse stored files as one run. Raises RejectedFile (only) for anything unreadable."""
    streams = []
    try:
        for item in stored:
            streams.append(InputFile(item.name, blob_path(item.sha256).open("rb")))
        parsed = parse_run(streams, fmt, progress=progress,
                           max_decompressed_bytes=current_app.config["BENCHMARK_MAX_DECOMPRESSED_BYTES"])
        _check_finite(parsed.to_dict())
        _check_plausible(parsed)
    except ParseError as err:
        raise RejectedFile(err.message, field="files") from None
    except Exception:  # a parser bug must still answer the uploader, not 500
        log.exception("benchmark parser failed unexpectedly")
        raise RejectedFile("The file could not be read (the parser failed; this was logged). "
                           "Check that it is the tool's unedited output.", field="files") from None
    finally:
        for item in streams:
            item.stream.close()
    found = SAME_TOOL.get(parsed.tool, parsed.tool)
    if expected_tool and found != SAME_TOOL.get(expected_tool, expected_tool):
        raise RejectedFile(f"These files are {FORMATS.get(parsed.format, parsed.tool)} output, "
                           f"not {expected_tool}. Choose the matching tool or leave it empty.",
                           field="tool")
    return parsed


def _default_label(parsed: ParsedRun, stored: list[StoredFile]) -> str:
    return f"{parsed.tool} · {stored[0].name}"[:MAX_LABEL]


def _new_run(actor: User, review: Review, candidate: Candidate, parsed: ParsedRun,
             stored: list[StoredFile], entered: dict) -> BenchmarkRun:
    """Add the run and its files to the session with an audit event; the caller commits."""
    data = parsed.to_dict()
    run = BenchmarkRun(
        review_id=review.id, candidate_id=candidate.id, format=parsed.format, tool=parsed.tool,
        tool_version=(parsed.tool_version or None) and parsed.tool_version[:40],
        started_at=parsed.started_at if parsed.started_at and parsed.started_at.tzinfo else None,
        summary=data["summary"], endpoints=data["endpoints"], timeseries=data["timeseries"],
        status_codes=data["status_codes"], errors=data["errors"], recomputed=parsed.recomputed,
        percentile_method=parsed.percentile_method or "", rps_method=parsed.rps_method or "",
        parser_notes=list(parsed.notes), created_by_id=actor.id,
        **(entered | {"label": entered["label"] or _default_label(parsed, stored)}),
    )
    run.files = [BenchmarkFile(position=i, name=f.name, sha256=f.sha256, bytes=f.bytes)
                 for i, f in enumerate(stored)]
    db.session.add(run)
    db.session.flush()
    audit.record("benchmark.uploaded", actor=actor, team_id=review.team_id, review_id=review.id,
                 run_id=run.id, candidate=candidate.name, format=run.format,
                 files=[f.name for f in stored])
    return run


def _commit_run(review: Review, stored: list[StoredFile]) -> None:
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        discard(stored)
        raise
    realtime.push_refresh(review.id, REGION)


def ingest_run(actor: User, review: Review, candidate_ref, files: list[IncomingFile],
               details: RunDetails, *, allow_background: bool = False
               ) -> BenchmarkRun | BenchmarkUpload:
    """Store and parse the files of one run of a candidate; returns the new run, or (page
    uploads above BENCHMARK_SYNC_LIMIT_BYTES, ``allow_background``) the background upload.

    Raises Conflict (frozen review), Invalid (candidate, entered figures, no or too many files,
    unknown tool) before anything is written, and RejectedFile when the files are not a
    readable run — then nothing is stored."""
    ensure_editable(review)
    candidate = find_candidate(review, candidate_ref)
    entered = clean_details(details)
    fmt, expected_tool = resolve_tool(details.tool)
    if not files:
        raise Invalid("Choose the result file(s) of one run: " + ", ".join(FORMATS.values()) + ".",
                      field="files")
    if len(files) > MAX_FILES:
        raise Invalid(f"Upload at most {MAX_FILES} files for one run.", field="files")
    stored = store_files(files)
    total = sum(f.bytes for f in stored)
    if allow_background and total > current_app.config["BENCHMARK_SYNC_LIMIT_BYTES"]:
        return _start_upload(actor, review, candidate, stored, entered, fmt, expected_tool)
    try:
        parsed = parse_stored(stored, fmt, expected_tool)
    except RejectedFile:
        discard(stored)
        raise
    run = _new_run(actor, review, candidate, parsed, stored, entered)
    _commit_run(review, stored)
    return run


# --- background parsing of large uploads ----------------------------------------------------
#
# A large upload is parsed in a background task by one worker at a time, and only that worker
# may finish it — in the embedded process and across scale-out processes alike:
#
# - the claim: the upload is created already claimed by the process that received it
#   (``claimed_by`` host:pid:token, ``lease_until``); the scheduler of any process takes over a
#   parse whose lease ran out (``resume_interrupted``) with a conditional UPDATE ... WHERE the
#   lease is still expired, so of racing claimers exactly one hits the row;
# - the lease: every progress report renews it, again only while the claim is this worker's;
#   a worker that finds its claim taken over stops parsing (``LeaseLost``);
# - the finish: the run is added in the same transaction as ``UPDATE ... SET status = 'done'
#   WHERE claimed_by = <this worker> AND status = 'parsing'``; when that hits no row the whole
#   transaction is rolled back, so one upload never becomes two runs.

MAX_PARSE_ATTEMPTS = 3  # claims of one upload before it is given up (its file kills the parser)
RESUME_BATCH = 2  # interrupted parses one process takes over per scheduler pass
DEFAULT_LEASE_S = 60.0


class LeaseLost(BaseException):
    """This worker's claim on a background parse was taken over (its lease ran out): stop.

    A BaseException so that it passes through the handlers for ordinary errors in the parsers
    and in ``parse_stored``, which would otherwise report it as an unreadable file."""


class ProgressNotSaved(BaseException):
    """The database refused a progress report (it is unreachable, say): stop without blaming
    the file. The claim stays; once its lease runs out the scheduler takes the parse over."""


def _now() -> datetime:
    return datetime.now(UTC)


def parse_lease() -> timedelta:
    """How long a claim holds without a progress report (``BENCHMARK_PARSE_LEASE_S``)."""
    return timedelta(seconds=float(current_app.config.get("BENCHMARK_PARSE_LEASE_S",
                                                          DEFAULT_LEASE_S)))


def _claim_token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"[-120:]


def _held_by(upload_id: int, claim: str) -> tuple:
    table = BenchmarkUpload.__table__
    return (table.c.id == upload_id, table.c.status == UploadStatus.PARSING.value,
            table.c.claimed_by == claim)


def _lease_expired(now: datetime) -> tuple:
    table = BenchmarkUpload.__table__
    return (table.c.status == UploadStatus.PARSING.value,
            or_(table.c.lease_until.is_(None), table.c.lease_until < now))


def _start_upload(actor, review, candidate, stored, entered, fmt, expected_tool) -> BenchmarkUpload:
    claim = _claim_token()
    upload = BenchmarkUpload(
        review_id=review.id, candidate_id=candidate.id, created_by_id=actor.id,
        files=[f.as_dict() for f in stored], bytes_total=sum(f.bytes for f in stored),
        details=entered | {"format": fmt, "expected_tool": expected_tool},
        claimed_by=claim, lease_until=_now() + parse_lease(), attempts=1,
    )
    db.session.add(upload)
    db.session.commit()
    socketio.start_background_task(run_upload, current_app._get_current_object(), upload.id, claim)
    realtime.push_refresh(review.id, UPLOADS_REGION)
    return upload


def run_upload(app, upload_id: int, claim: str) -> None:
    """The background task: its own app context and database session."""
    with app.app_context():
        try:
            parse_upload(upload_id, claim)
        except Exception:
            log.exception("background parse of upload %s failed", upload_id)
            db.session.rollback()
            _fail_upload(upload_id, "The upload could not be processed (this was logged). "
                                    "Try again.", claim=claim)
        finally:
            db.session.remove()


class _Throttle:
    def __init__(self, interval: float) -> None:
        self.interval, self.last = interval, 0.0

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            return True
        return False


def _renew(upload_id: int, claim: str, read: int) -> None:
    """Record progress and extend the lease while ``claim`` still holds the upload; raise
    LeaseLost (after rolling back) when it does not."""
    table = BenchmarkUpload.__table__
    renewed = db.session.execute(update(table).where(*_held_by(upload_id, claim)).values(
        bytes_read=read, lease_until=_now() + parse_lease())).rowcount == 1
    if not renewed:
        db.session.rollback()
        raise LeaseLost(upload_id)
    db.session.commit()


def parse_upload(upload_id: int, claim: str) -> BenchmarkRun | None:
    """Parse a background upload as the worker holding ``claim``: report progress (throttled;
    each report renews the lease), then create its run or record why the files were rejected
    (and remove them). Returns None, writing nothing, when the upload is gone, finished or held
    by another worker — also when that happens while this worker parses."""
    upload = db.session.get(BenchmarkUpload, upload_id)
    if upload is None or upload.status != UploadStatus.PARSING or upload.claimed_by != claim:
        db.session.rollback()
        return None
    review_id, total = upload.review_id, upload.bytes_total
    stored = [StoredFile(**f) for f in upload.files]
    details = dict(upload.details)
    fmt, expected_tool = details.pop("format"), details.pop("expected_tool")
    db.session.rollback()  # hold no transaction open while the files are read
    throttle = _Throttle(float(current_app.config.get("BENCHMARK_PROGRESS_INTERVAL_S", PROGRESS_INTERVAL_S)))

    def progress(read: int) -> None:
        if throttle.ready():
            try:
                _renew(upload_id, claim, min(read, total))
                realtime.push_refresh(review_id, UPLOADS_REGION)
            except SQLAlchemyError as err:
                raise ProgressNotSaved(upload_id) from err

    try:
        parsed = parse_stored(stored, fmt, expected_tool, progress)
    except RejectedFile as err:
        _fail_upload(upload_id, err.message, claim=claim)
        return None
    except LeaseLost:
        log.warning("background parse of upload %s was taken over by another worker; "
                    "this one stopped", upload_id)
        return None
    except ProgressNotSaved:
        log.exception("background parse of upload %s stopped: its progress could not be "
                      "saved; it is taken over once its lease runs out", upload_id)
        db.session.rollback()
        return None
    return _finish_upload(upload_id, claim, parsed, stored, details)


def _finish_upload(upload_id: int, claim: str, parsed: ParsedRun, stored: list[StoredFile],
                   details: dict) -> BenchmarkRun | None:
    """Add the run and mark the upload done in one transaction, committed only while ``claim``
    still holds the upload (the guard UPDATE locks the row until the commit)."""
    upload = db.session.get(BenchmarkUpload, upload_id)
    if upload is None or upload.claimed_by != claim:
        db.session.rollback()
        return None
    review = db.session.get(Review, upload.review_id)
    run = _new_run(upload.created_by, review, upload.candidate, parsed, stored, details)
    table = BenchmarkUpload.__table__
    held = db.session.execute(update(table).where(*_held_by(upload_id, claim)).values(
        status=UploadStatus.DONE.value, run_id=run.id, bytes_read=table.c.bytes_total,
        lease_until=None)).rowcount == 1
    if not held:
        db.session.rollback()
        log.warning("background parse of upload %s finished after another worker took it "
                    "over; its result was dropped", upload_id)
        return None
    db.session.commit()
    realtime.push_refresh(review.id, REGION, UPLOADS_REGION)
    return run


def _fail_upload(upload_id: int, message: str, *, claim: str | None = None,
                 expired_before: datetime | None = None) -> bool:
    """Mark a parsing upload failed and remove its files, only while ``claim`` holds it (or,
    giving up an interrupted parse, while its lease is still expired at ``expired_before``).
    Returns whether this call failed it."""
    table = BenchmarkUpload.__table__
    guard = _held_by(upload_id, claim) if claim is not None else (
        table.c.id == upload_id, *_lease_expired(expired_before or _now()))
    failed = db.session.execute(update(table).where(*guard).values(
        status=UploadStatus.FAILED.value, message=message, lease_until=None)).rowcount == 1
    if not failed:
        db.session.rollback()
        return False
    db.session.commit()  # no longer "parsing", so its files are no longer referenced
    upload = db.session.get(BenchmarkUpload, upload_id)
    if upload is not None:
        discard(upload.files)
        realtime.push_refresh(upload.review_id, UPLOADS_REGION)
    return True


def resume_interrupted(now: datetime | None = None) -> list[int]:
    """Take over background parses whose lease ran out (their process died, or hung): claim
    each with a conditional UPDATE — of several processes exactly one wins — and parse it in a
    background task of this process. Returns the ids taken over (at most RESUME_BATCH a pass).

    An upload claimed MAX_PARSE_ATTEMPTS times already is given up (failed, files removed): it
    is the file that kills its parser. One whose files this host cannot read (kept on another
    host's disk) is left to a process that can; without one it shows as interrupted (is_stale)
    and its uploader dismisses it."""
    now = now or _now()
    table = BenchmarkUpload.__table__
    rows = db.session.execute(db.select(table.c.id, table.c.files, table.c.attempts)
                              .where(*_lease_expired(now)).order_by(table.c.id)).all()
    db.session.rollback()
    taken: list[int] = []
    for upload_id, files, attempts in rows:
        if len(taken) >= RESUME_BATCH:
            break
        if attempts >= MAX_PARSE_ATTEMPTS:
            _fail_upload(upload_id, f"The upload could not be processed: its parse was "
                                    f"interrupted {attempts} times. Nothing was stored; try "
                                    "again, or upload the files in smaller parts.",
                         expired_before=now)
            continue
        if not all(blob_path(f["sha256"]).is_file() for f in files):
            continue
        claim = _claim_token()
        won = db.session.execute(update(table).where(table.c.id == upload_id, *_lease_expired(now))
                                 .values(claimed_by=claim, lease_until=_now() + parse_lease(),
                                         attempts=table.c.attempts + 1)).rowcount == 1
        db.session.commit()
        if won:
            log.warning("resuming the interrupted background parse of upload %s", upload_id)
            socketio.start_background_task(run_upload, current_app._get_current_object(),
                                           upload_id, claim)
            taken.append(upload_id)
    return taken


def uploads_for(viewer: User, review: Review) -> list[BenchmarkUpload]:
    """The viewer's own background uploads in this review, newest first."""
    return list(db.session.scalars(db.select(BenchmarkUpload).where(
        BenchmarkUpload.review_id == review.id, BenchmarkUpload.created_by_id == viewer.id)
        .order_by(BenchmarkUpload.id.desc())))


def is_stale(upload: BenchmarkUpload, now: datetime | None = None) -> bool:
    """A parse that made no progress for STALE_AFTER was interrupted and not taken over (e.g.
    no scheduler runs, or no process can read its files)."""
    now = now or datetime.now(UTC)
    return upload.status == UploadStatus.PARSING and now - upload.updated_at > STALE_AFTER


def dismiss_uploads(actor: User, review: Review) -> int:
    """Clear the actor's finished, failed or interrupted upload notices (never running ones)."""
    gone = [u for u in uploads_for(actor, review)
            if u.status != UploadStatus.PARSING or is_stale(u)]
    for upload in gone:
        db.session.delete(upload)
    db.session.commit()
    for upload in gone:
        if upload.run_id is None:  # an interrupted parse left its files behind
            discard(upload.files)
    realtime.push_refresh(review.id, UPLOADS_REGION)
    return len(gone)


# --- reading runs ---------------------------------------------------------------------------

def runs_of(review: Review) -> list[BenchmarkRun]:
    """Every run of the review, by candidate (in the review's order), newest first."""
    return list(db.session.scalars(
        db.select(BenchmarkRun).join(Candidate, BenchmarkRun.candidate_id == Candidate.id)
        .where(BenchmarkRun.review_id == review.id)
        .order_by(Candidate.position, BenchmarkRun.created_at.desc(), BenchmarkRun.id.desc())
        .options(joinedload(BenchmarkRun.created_by))))  # the list names who uploaded each run


def get_run(review: Review, run_id: int) -> BenchmarkRun:
    run = db.session.get(BenchmarkRun, run_id)
    if run is None or run.review_id != review.id:
        raise NotFound("That benchmark run is not part of this review.")
    return run


def find_run(run_id: int) -> BenchmarkRun | None:
    return db.session.get(BenchmarkRun, run_id)


def get_file(run: BenchmarkRun, file_id: int) -> tuple[BenchmarkFile, Path]:
    found = next((f for f in run.files if f.id == file_id), None)
    if found is None or not blob_path(found.sha256).is_file():
        raise NotFound("That file is not part of this run.")
    return found, blob_path(found.sha256)


# --- changing runs -------------------------------------------------------------------------

def _changed(review: Review, actor: User, action: str, **detail) -> None:
    audit.record(action, actor=actor, team_id=review.team_id, review_id=review.id, **detail)
    db.session.commit()
    realtime.push_refresh(review.id, REGION)


def update_run(actor: User, review: Review, run_id: int, details: RunDetails) -> BenchmarkRun:
    """Change what people entered with a run (label, server, hardware, CPU, memory, notes)."""
    ensure_editable(review)
    run = get_run(review, run_id)
    entered = clean_details(details)
    entered["label"] = entered["label"] or run.label
    before = {key: getattr(run, key) for key in entered}
    for key, value in entered.items():
        setattr(run, key, value)
    _changed(review, actor, "benchmark.updated", run_id=run.id,
             changed=sorted(k for k in entered if before[k] != entered[k]))
    return run


def delete_run(actor: User, review: Review, run_id: int, role: Role) -> None:
    """Delete a run and (unless another run has the same bytes) its files. Its uploader or a
    facilitator may; others get Forbidden."""
    ensure_editable(review)
    run = get_run(review, run_id)
    if run.created_by_id != actor.id and not role.at_least(Role.FACILITATOR):
        raise Forbidden("Only its uploader or a facilitator can delete this run.")
    files = [{"sha256": f.sha256} for f in run.files]
    db.session.delete(run)
    _changed(review, actor, "benchmark.deleted", run_id=run_id, label=run.label)
    discard(files)


def pin_run(actor: User, review: Review, run_id: int) -> BenchmarkRun:
    """Compare this run for its candidate (instead of the latest); pinning the pinned run
    again unpins it, so the latest is compared again."""
    ensure_editable(review)
    run = get_run(review, run_id)
    pinned = not run.pinned
    for other in runs_of(review):
        if other.candidate_id == run.candidate_id:
            other.pinned = False
    run.pinned = pinned
    _changed(review, actor, "benchmark.pinned" if pinned else "benchmark.unpinned", run_id=run.id)
    return run


# --- constraint checks ---------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """One measurable constraint checked against one run: ``status`` is pass, fail or unknown
    (the run lacks the figure), ``message`` shows the numbers."""

    constraint_id: int
    kind: str
    label: str
    comparison: str
    target: float
    unit: str
    actual: float | None
    status: str
    knockout: bool
    priority: str
    message: str
    run_id: int

    @property
    def failed_knockout(self) -> bool:
        return self.knockout and self.status == "fail"


def fmt_number(value, digits: int = 1) -> str:
    """1234.5 → "1,234.5"; 12.0 → "12"; None → "—"."""
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def measurable_constraints(review: Review, rows: list[Constraint] | None = None) -> list[Constraint]:
    """The constraints a run is checked against; ``rows``: the review's constraints when the
    caller has read them already."""
    return [c for c in (constraints.constraints_of(review) if rows is None else rows)
            if c.kind_enum.spec.measurable and c.target is not None]


def _p95_check(run: BenchmarkRun, target: float) -> tuple[float | None, str | None, str]:
    """p95 from the run; without one, p99 ≤ target proves a pass and p90 > target a fail."""
    p95 = run.latency("p95")
    goal = f"target {fmt_number(target, 2)} ms"
    if p95 is not None:
        sign = "≤" if p95 <= target else ">"
        return p95, "pass" if p95 <= target else "fail", f"p95 {fmt_number(p95)} ms {sign} {goal}"
    p99, p90 = run.latency("p99"), run.latency("p90")
    if p99 is not None and p99 <= target:
        return None, "pass", (f"p95 ≤ p99 = {fmt_number(p99)} ms ≤ {goal} (the format reports "
                              "no p95)")
    if p90 is not None and p90 > target:
        return None, "fail", (f"p95 ≥ p90 = {fmt_number(p90)} ms > {goal} (the format reports "
                              "no p95)")
    return None, "unknown", f"The format reports no p95; {goal}"


def _simple_check(run: BenchmarkRun, metric: str, spec, target: float
                  ) -> tuple[float | None, str, str]:
    value, what, digits = {
        "rps": (run.figure("rps"), "requests/s", 1),
        "error_rate_pct": (run.error_rate_pct, "error rate", 2),
        "memory_mb": (run.memory_mb, "memory", 1),
    }[metric]
    goal = f"target {fmt_number(target, 2)} {spec.unit}"
    if value is None:
        missing = ("No memory figure was entered with this run" if metric == "memory_mb"
                   else f"The format reports no {what}")
        return None, "unknown", f"{missing}; {goal}"
    ok = value >= target if spec.comparison == ">=" else value <= target
    sign = {(True, ">="): "≥", (True, "<="): "≤", (False, ">="): "<", (False, "<="): ">"}[
        (ok, spec.comparison)]
    shown = f"{what} {fmt_number(value, digits)} {spec.unit} {sign} {goal}"
    return value, "pass" if ok else "fail", shown


def check_run(run: BenchmarkRun, measurable: list[Constraint]) -> list[Check]:
    """Every measurable constraint against one run, with the numbers."""
    checks = []
    for c in measurable:
        spec = c.kind_enum.spec
        if spec.metric == "p95_ms":
            actual, status, message = _p95_check(run, c.target)
        else:
            actual, status, message = _simple_check(run, spec.metric, spec, c.target)
        checks.append(Check(c.id, c.kind, spec.label, spec.comparison, c.target, spec.unit, actual,
                            status, c.knockout, c.priority, message, run.id))
    return checks


# --- comparability ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Warning:
    code: str
    message: str
    run_ids: tuple[int, ...] = ()


def _name(run: BenchmarkRun) -> str:
    return f"{run.candidate.name} “{run.label}”"


def run_warnings(run: BenchmarkRun) -> list[Warning]:
    """What makes one run weak evidence on its own: too short, nothing succeeded."""
    out = []
    duration, requests, failures = (run.figure("duration_s"), run.figure("requests"),
                                    run.figure("failures"))
    if duration is not None and duration < SHORT_RUN_S:
        out.append(Warning("short_run", f"{_name(run)} lasted {fmt_number(duration)} s; runs "
                                        f"shorter than {SHORT_RUN_S} s mostly measure warm-up.",
                           (run.id,)))
    if requests is not None and (requests == 0 or (failures is not None and failures >= requests)):
        out.append(Warning("no_success", f"{_name(run)} has no successful request: it measures "
                                         "errors, not the framework.", (run.id,)))
    return out


def _spread(runs: list[BenchmarkRun], value: Callable) -> tuple | None:
    known = [(value(r), r) for r in runs if value(r)]
    if len(known) < 2:
        return None
    return min(known, key=lambda p: p[0]), max(known, key=lambda p: p[0])


def cross_warnings(runs: list[BenchmarkRun]) -> list[Warning]:
    """What makes runs of different candidates hard to compare: different tools, concurrency
    more than 10 % apart, durations more than 2× apart."""
    out = []
    tools = sorted({SAME_TOOL.get(r.tool, r.tool) for r in runs})
    if len(tools) > 1:
        out.append(Warning("different_tools", "The compared runs come from different tools ("
                           + ", ".join(tools) + "); tools count and time requests differently.",
                           tuple(r.id for r in runs)))
    conc = _spread(runs, lambda r: r.figure("concurrency"))
    if conc and conc[1][0] > conc[0][0] * (1 + CONCURRENCY_TOLERANCE):
        (lo, lo_run), (hi, hi_run) = conc
        out.append(Warning("concurrency_differs", f"Concurrency differs by more than 10 %: "
                           f"{_name(lo_run)} ran {lo:g} users/connections, {_name(hi_run)} {hi:g}.",
                           (lo_run.id, hi_run.id)))
    dur = _spread(runs, lambda r: r.figure("duration_s"))
    if dur and dur[1][0] > dur[0][0] * DURATION_RATIO:
        (lo, lo_run), (hi, hi_run) = dur
        out.append(Warning("duration_differs", f"Durations differ by more than 2×: "
                           f"{_name(lo_run)} ran {fmt_number(lo)} s, {_name(hi_run)} "
                           f"{fmt_number(hi)} s.", (lo_run.id, hi_run.id)))
    return out


# --- the comparison ---------------------------------------------------------------------------

SCORE_FORMULA = (
    "Relative to the best compared run: throughput t = requests/s ÷ the highest requests/s, "
    "latency l = the lowest p95 ÷ this p95; quality q = 1 − error rate. Score = 1 + 4 × "
    "mean(t, l) × q, rounded to a whole number from 1 to 5 (a figure a run lacks is left out of "
    "the mean). A candidate failing a knock-out constraint gets 1."
)


@dataclass(frozen=True)
class SuggestedScore:
    value: int
    raw: float
    explanation: str


@dataclass
class CandidateRow:
    candidate: Candidate
    runs: list[BenchmarkRun]
    run: BenchmarkRun | None  # the compared one: pinned, else the latest
    checks: list[Check] = field(default_factory=list)
    score: SuggestedScore | None = None

    @property
    def failed_knockouts(self) -> list[Check]:
        return [c for c in self.checks if c.failed_knockout]


@dataclass(frozen=True)
class Knockout:
    """A suggestion for the facilitator: this candidate fails a knock-out constraint."""

    candidate: Candidate
    check: Check
    run: BenchmarkRun
    reason: str


@dataclass
class Comparison:
    rows: list[CandidateRow]
    constraints: list[Constraint]
    warnings: list[Warning]
    knockouts: list[Knockout]
    formula: str = SCORE_FORMULA

    @property
    def compared(self) -> list[BenchmarkRun]:
        return [row.run for row in self.rows if row.run]

    @property
    def runs(self) -> list[BenchmarkRun]:
        return [run for row in self.rows for run in row.runs]

    def row_for(self, candidate_id: int) -> CandidateRow | None:
        return next((r for r in self.rows if r.candidate.id == candidate_id), None)


def _selected(runs: list[BenchmarkRun]) -> BenchmarkRun | None:
    return next((r for r in runs if r.pinned), runs[0] if runs else None)


def knockout_reason(run: BenchmarkRun, check: Check) -> str:
    return (f"Fails the knock-out constraint “{check.label}” in benchmark run “{run.label}” "
            f"(#{run.id}): {check.message}.")[:300]


def _suggest(rows: list[CandidateRow]) -> None:
    compared = [r for r in rows if r.run]
    best_rps = max((r.run.figure("rps") or 0 for r in compared), default=0)
    p95s = [r.run.latency("p95") for r in compared if r.run.latency("p95")]
    best_p95 = min(p95s) if p95s else None
    for row in compared:
        rps, p95 = row.run.figure("rps"), row.run.latency("p95")
        parts = {}
        if rps is not None and best_rps > 0:
            parts["t"] = rps / best_rps
        if p95 and best_p95:
            parts["l"] = best_p95 / p95
        if not parts:
            continue
        quality = 1 - (row.run.figure("error_rate") or 0)
        raw = 1 + 4 * (sum(parts.values()) / len(parts)) * quality
        value = max(1, min(5, math.floor(raw + 0.5)))
        shown = ", ".join(f"{k} = {v:.2f}" for k, v in parts.items())
        explanation = f"{shown}, q = {quality:.3f} → {raw:.2f}"
        if row.failed_knockouts:
            value, explanation = 1, explanation + " → 1 (fails a knock-out constraint)"
        row.score = SuggestedScore(value, raw, explanation)


def compare(review: Review) -> Comparison:
    """Per candidate: its runs, the compared one (pinned or latest) with its constraint checks
    and suggested score; warnings on the compared runs; knock-out suggestions."""
    measurable = measurable_constraints(review)
    all_runs = runs_of(review)
    rows = []
    for candidate in review.candidates:
        runs = [r for r in all_runs if r.candidate_id == candidate.id]
        selected = _selected(runs)
        rows.append(CandidateRow(candidate, runs, selected,
                                 check_run(selected, measurable) if selected else []))
    _suggest(rows)
    compared = [row.run for row in rows if row.run]
    warnings = [w for run in compared for w in run_warnings(run)] + cross_warnings(compared)
    knockouts = [Knockout(row.candidate, check, row.run, knockout_reason(row.run, check))
                 for row in rows if not row.candidate.disqualified
                 for check in row.failed_knockouts]
    return Comparison(rows, measurable, warnings, knockouts)


def compared_runs(review: Review) -> dict[int, BenchmarkRun]:
    """Each candidate's compared run (pinned, else latest), by candidate id."""
    by_candidate: dict[int, list[BenchmarkRun]] = {}
    for run in runs_of(review):
        by_candidate.setdefault(run.candidate_id, []).append(run)
    return {cid: _selected(runs) for cid, runs in by_candidate.items()}


def warnings_for_run(review: Review, run: BenchmarkRun,
                     compared: dict[int, BenchmarkRun] | None = None) -> list[Warning]:
    """The run's own warnings, and those against each other candidate's compared run."""
    compared = compared_runs(review) if compared is None else compared
    out, seen = run_warnings(run), set()
    for candidate_id, other in compared.items():
        if candidate_id == run.candidate_id:
            continue
        for warning in cross_warnings([run, other]):
            if warning.message not in seen:
                seen.add(warning.message)
                out.append(warning)
    return out


def checks_for_run(review: Review, run: BenchmarkRun,
                   measurable: list[Constraint] | None = None) -> list[Check]:
    return check_run(run, measurable_constraints(review) if measurable is None else measurable)


def apply_knockout(actor: User, review: Review, candidate_id: int, constraint_id: int,
                   run_id: int) -> Candidate:
    """Disqualify a candidate whose run fails a knock-out constraint, with a reason naming the
    run and the numbers.

    This is a one-click suggestion for the facilitator, not automatic: a run may be
    misconfigured (wrong host, debug mode, a cold cache), a CI upload by any member should not
    knock out a candidate by itself, and disqualification is the team's decision, recorded
    against the facilitator who made it. Raises Conflict when the run no longer fails it."""
    run = get_run(review, run_id)
    if run.candidate_id != candidate_id:
        raise Invalid("That run belongs to another candidate.", field="run_id")
    if run.candidate.disqualified:
        raise Conflict(f"{run.candidate.name} is already disqualified.")
    constraint = constraints.get_constraint(review, constraint_id)
    check = next((c for c in check_run(run, measurable_constraints(review))
                  if c.constraint_id == constraint.id), None)
    if check is None or not check.failed_knockout:
        raise Conflict("That run does not fail this knock-out constraint (any more).")
    candidate = constraints.disqualify(actor, review, candidate_id, knockout_reason(run, check),
                                       constraint.id)
    realtime.push_refresh(review.id, REGION)
    return candidate


# --- starter-script settings ----------------------------------------------------------------

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_PATH = re.compile(r"^/[A-Za-z0-9._~!$&()*+,;=:@%/?\[\]-]{0,199}$")
_HOST = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$|^https?://\[[0-9A-Fa-f:]+\](:\d{1,5})?$")
MAX_ENDPOINTS = 20


def plan_of(review: Review) -> BenchmarkPlan:
    """The team's starter settings (defaults until someone saves them; never added here)."""
    found = db.session.scalar(db.select(BenchmarkPlan).where(BenchmarkPlan.review_id == review.id))
    return found or BenchmarkPlan(review_id=review.id, endpoints=[{"method": "GET", "path": "/",
                                                                   "weight": 1}],
                                  think_time_s=1.0, users=50, duration_s=120,
                                  host="http://127.0.0.1:8000")


def parse_endpoints(text: str) -> list[dict]:
    """Lines like ``GET /orders 3`` (method optional, weight optional) → endpoint dicts."""
    out = []
    for number, line in enumerate((text or "").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        method = parts.pop(0).upper() if parts[0].upper() in METHODS else "GET"
        weight = parts.pop() if len(parts) == 2 and parts[-1].isdigit() else "1"
        if len(parts) != 1 or not _PATH.match(parts[0]) or not 1 <= int(weight) <= 100:
            raise Invalid(f"Line {number}: write an endpoint as “GET /path” with an optional "
                          "weight from 1 to 100, e.g. “POST /orders 2”.", field="endpoints")
        out.append({"method": method, "path": parts[0], "weight": int(weight)})
    if not out or len(out) > MAX_ENDPOINTS:
        raise Invalid(f"List 1 to {MAX_ENDPOINTS} endpoints, one per line.", field="endpoints")
    return out


def save_plan(actor: User, review: Review, *, endpoints: str, think_time_s, users, duration_s,
              host: str) -> BenchmarkPlan:
    """Save what the team typed for the starter scripts. Raises Invalid (with the field)."""
    ensure_editable(review)
    values = {
        "endpoints": parse_endpoints(endpoints),
        "think_time_s": _number(think_time_s, "think_time_s", "Think time (s)", 60.0),
        "users": _number(users, "users", "Users", 100_000),
        "duration_s": _number(duration_s, "duration_s", "Duration (s)", 86_400),
        "host": (host or "").strip().rstrip("/"),
    }
    if values["think_time_s"] is None:
        raise Invalid("Give a think time in seconds (0 for none).", field="think_time_s")
    if not values["users"] or values["users"] < 1:
        raise Invalid("Users must be at least 1.", field="users")
    if not values["duration_s"] or values["duration_s"] < SHORT_RUN_S:
        raise Invalid(f"Run for at least {SHORT_RUN_S} s, or the run measures warm-up.",
                      field="duration_s")
    if not _HOST.match(values["host"]):
        raise Invalid("The host is a base URL like http://127.0.0.1:8000 (no path).", field="host")
    values["users"], values["duration_s"] = int(values["users"]), int(values["duration_s"])
    plan = plan_of(review)
    for key, value in values.items():
        setattr(plan, key, value)
    plan.updated_by_id = actor.id
    db.session.add(plan)
    audit.record("benchmark.plan_saved", actor=actor, team_id=review.team_id, review_id=review.id)
    db.session.commit()
    realtime.push_refresh(review.id, PLAN_REGION)
    return plan
