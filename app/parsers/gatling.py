"""Gatling: simulation.log (text 2.x–3.12 and binary 3.13+) and the report's stats JSON.

The logs are raw samples (one REQUEST record per request, times in epoch ms) and are
aggregated in bounded memory; the report JSON carries Gatling's own figures (FORMATS.md §4).
"""

from __future__ import annotations

import struct
from typing import Any, BinaryIO

from app.parsers.model import Endpoint, Latency, ParsedRun, ParseError, Summary, error_rate
from app.parsers.samples import RunAccumulator
from app.parsers.streams import Source, translate_errors
from app.parsers.tables import epoch_to_datetime
from app.parsers.values import as_dict, to_float, to_int

LOG_RPS = "recomputed: requests / (last end − first start); Gatling itself divides by whole seconds"
MAX_STRING_BYTES = 1024 * 1024
MAX_COUNT = 100_000


class _LogRun:
    """What both log formats feed in: requests, users and the RUN header."""

    def __init__(self, fmt: str) -> None:
        self.acc = RunAccumulator()
        self.fmt = fmt
        self.version: str | None = None
        self.start_ms: float | None = None
        self.active_users = 0
        self.error_records = 0

    def request(
        self, groups: list[str], name: str, start_ms: float, end_ms: float, ok: bool, message: str
    ) -> None:
        if end_ms < start_ms:
            raise ParseError(
                f"request “{name[:60]}” ends before it starts ({start_ms:.0f} > {end_ms:.0f} ms)."
            )
        label = " / ".join([*groups, name]) if groups else name
        start_s, key = start_ms / 1000, (None, label)
        self.acc.span(start_s, end_ms / 1000)
        self.acc.request(start_s, key)
        self.acc.latency(start_s, key, end_ms - start_ms)
        if not ok:
            self.acc.failure(start_s, key, message=message.strip() or "KO")

    def user(self, t_ms: float, is_start: bool) -> None:
        self.active_users = max(self.active_users + (1 if is_start else -1), 0)
        self.acc.users(t_ms / 1000, self.active_users)

    def build(self, source: Source) -> ParsedRun:
        if not self.acc.overall.requests:
            raise source.fail("holds no REQUEST records: the simulation made no requests.")
        run = ParsedRun(
            format=self.fmt, tool="gatling", tool_version=self.version, rps_method=LOG_RPS
        )
        self.acc.fill(run)
        run.summary.concurrency = self.acc.max_users
        start = self.start_ms if self.start_ms is not None else (self.acc.first_s or 0) * 1000
        run.started_at = epoch_to_datetime(start / 1000, source, "the run start")
        run.notes.append(
            "Concurrency is the peak number of active virtual users (USER start/end records)."
        )
        if self.error_records:
            run.notes.append(
                f"{self.error_records} ERROR record(s) (crashes in the simulation) are not "
                "counted as requests."
            )
        return run


# -- text simulation.log ----------------------------------------------------------------------
def parse_text_log(sources: list[Source]) -> ParsedRun:
    """Tab-separated simulation.log; the layout is told by field counts. Raises ParseError."""
    source = _single(sources)
    log = _LogRun("gatling-log")
    with translate_errors(source.name):
        for number, line in enumerate(source.lines(), start=1):
            if line.strip():
                _text_record(log, line.split("\t"), number)
    return log.build(source)


def _single(sources: list[Source]) -> Source:
    if len(sources) != 1:
        raise ParseError("This format is a single file; upload one file per run.")
    return sources[0]


def _ms(text: str, number: int) -> float:
    value = to_float(text, f"line {number} timestamp")
    assert value is not None
    return value


def _text_record(log: _LogRun, fields: list[str], number: int) -> None:
    record = fields[0]
    if record == "REQUEST":
        _text_request(log, fields, number)
    elif record == "USER":
        _text_user(log, fields, number)
    elif record == "RUN":
        log.version = fields[-1].strip() or None
        stamps = [f for f in fields[2:] if f.strip().isdigit() and len(f.strip()) >= 12]
        log.start_ms = _ms(stamps[0], number) if stamps else None
    elif record == "ERROR":
        log.error_records += 1
    elif record not in ("GROUP", "ASSERTION"):
        raise ParseError(
            f"line {number} starts with {record[:20]!r}, which is not a Gatling log record."
        )


def _text_request(log: _LogRun, f: list[str], number: int) -> None:
    """REQUEST layouts: 7 fields (3.4–3.12), 8 (3.3: + user id), 9+ (2.x: + scenario, user id)."""
    if len(f) < 7:
        raise ParseError(
            f"line {number} is a REQUEST record with {len(f)} fields; Gatling writes 7 (3.4–3.12), "
            "8 (3.3) or 9 and more (2.x). The file may be cut short."
        )
    offset = {7: 0, 8: 1}.get(len(f), 2)
    groups, name, start, end, status, message = f[1 + offset : 7 + offset]
    if status not in ("OK", "KO"):
        raise ParseError(f"line {number} has the status {status[:20]!r}; expected OK or KO.")
    group_list = [g for g in groups.split(",") if g]
    log.request(group_list, name, _ms(start, number), _ms(end, number), status == "OK", message)


def _text_user(log: _LogRun, f: list[str], number: int) -> None:
    """USER: the START/END token, then one or two timestamps depending on the version."""
    token = next((i for i, v in enumerate(f) if v in ("START", "END")), None)
    stamps = [v for v in f[(token or 0) + 1 :] if v.strip()]
    if token is None or not stamps:
        raise ParseError(f"line {number} is a USER record without START/END and a timestamp.")
    is_start = f[token] == "START"
    log.user(_ms(stamps[0] if is_start else stamps[-1], number), is_start)


# -- binary simulation.log (3.13+) ----------------------------------------------------------
class _BinaryReader:
    """Big-endian primitives and Gatling's cached strings (FORMATS.md §4.2)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.offset = 0
        self._cache: dict[int, str] = {}

    def take(self, n: int) -> bytes:
        data = self._stream.read(n)
        if len(data) < n:
            raise ParseError(
                f"ends in the middle of a record (byte {self.offset + len(data)}); "
                "the file is cut short."
            )
        self.offset += n
        return data

    def next_kind(self) -> int | None:
        """The next record's type byte, or None at the end of the file."""
        data = self._stream.read(1)
        if not data:
            return None
        self.offset += 1
        return data[0]

    def byte(self) -> int:
        return self.take(1)[0]

    def int32(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def int64(self) -> int:
        return struct.unpack(">q", self.take(8))[0]

    def flag(self) -> bool:
        value = self.byte()
        if value not in (0, 1):
            raise ParseError(
                f"has the byte {value} where a true/false flag belongs (byte {self.offset - 1})."
            )
        return value == 1

    def count(self, what: str) -> int:
        value = self.int32()
        if not 0 <= value <= MAX_COUNT:
            raise ParseError(f"has an impossible {what} count ({value}) at byte {self.offset - 4}.")
        return value

    def string(self) -> str:
        length = self.int32()
        if length == 0:
            return ""
        if not 0 < length <= MAX_STRING_BYTES:
            raise ParseError(
                f"has an impossible string length ({length}) at byte {self.offset - 4}."
            )
        data = self.take(length)
        coder = self.byte()
        if coder not in (0, 1):
            raise ParseError(f"has an unknown string encoding ({coder}) at byte {self.offset - 1}.")
        return data.decode("latin-1") if coder == 0 else data.decode("utf-16-le", "replace")

    def cached(self) -> str:
        index = self.int32()
        if index >= 0:
            value = self.string()
            self._cache[index] = value
            return value
        if -index not in self._cache:
            raise ParseError(
                f"refers to a string that was never written (index {-index}, "
                f"byte {self.offset - 4})."
            )
        return self._cache[-index]


def parse_binary_log(sources: list[Source]) -> ParsedRun:
    """Gatling ≥ 3.13 binary simulation.log; raises ParseError on any inconsistency."""
    source = _single(sources)
    log = _LogRun("gatling-binary-log")
    with translate_errors(source.name):
        reader = _BinaryReader(source.open_binary())
        run_start = _binary_header(reader, log)
        while (kind := reader.next_kind()) is not None:
            _binary_record(reader, kind, run_start, log)
    return log.build(source)


def _binary_header(reader: _BinaryReader, log: _LogRun) -> int:
    if reader.byte() != 0:
        raise ParseError("does not start with a Gatling run record.")
    log.version = reader.string() or None
    reader.string()  # simulation class name
    start = reader.int64()
    reader.string()  # description
    for _ in range(reader.count("scenario")):
        reader.string()
    for _ in range(reader.count("assertion")):
        reader.take(reader.count("assertion byte"))
    log.start_ms = float(start)
    return start


def _binary_record(reader: _BinaryReader, kind: int, start: int, log: _LogRun) -> None:
    if kind == 1:
        groups = [reader.cached() for _ in range(reader.count("group"))]
        name = reader.cached()
        begin, end = reader.int32(), reader.int32()
        ok = reader.flag()
        log.request(groups, name, float(start + begin), float(start + end), ok, reader.cached())
    elif kind == 2:
        reader.int32()  # scenario index
        is_start = reader.flag()
        log.user(float(start + reader.int32()), is_start)
    elif kind == 3:
        for _ in range(reader.count("group")):
            reader.cached()
        reader.take(12)  # start, end, cumulated response time
        reader.flag()
    elif kind == 4:
        reader.cached()
        reader.int32()
        log.error_records += 1
    else:
        raise ParseError(
            f"has an unknown record type {kind} at byte {reader.offset - 1}: it is not a "
            "Gatling 3.13+ binary log this parser understands. Upload the report's "
            "js/global_stats.json (or stats.json) instead."
        )


# -- report JSON ----------------------------------------------------------------------------
def parse_report_json(sources: list[Source]) -> ParsedRun:
    """js/global_stats.json or js/stats.json (Gatling's own figures); raises ParseError."""
    source = _single(sources)
    text = source.read_document()
    if text.lstrip().startswith("var stats"):
        raise source.fail(
            "is Gatling's js/stats.js, which is JavaScript rather than JSON. Upload "
            "js/global_stats.json or js/stats.json from the same report folder instead."
        )
    data = as_dict(source.read_json(text), "the top level")
    with translate_errors(source.name):
        stats = as_dict(data["stats"], "“stats”") if "stats" in data else data
        run = ParsedRun(format="gatling-json", tool="gatling")
        run.percentile_method = (
            "reported by Gatling; percentiles1/3/4 assumed to be the default 50/95/99th"
        )
        run.rps_method = "reported by Gatling: requests / run length in whole seconds"
        row = _stats_row(stats, "All requests")
        run.summary = Summary(
            requests=row.requests,
            failures=row.failures,
            error_rate=error_rate(row.requests, row.failures),
            rps=row.rps,
            duration_s=row.requests / row.rps if row.requests and row.rps else None,
            latency_ms=row.latency_ms,
        )
        run.endpoints = list(_request_nodes(data.get("contents", {}), 0))
    return run


def _total(stats: dict[str, Any], key: str) -> Any:
    value = stats.get(key)
    return value.get("total") if isinstance(value, dict) else None


def _stats_row(stats: dict[str, Any], fallback_name: str) -> Endpoint:
    if not isinstance(stats.get("numberOfRequests"), dict):
        raise ParseError("has no numberOfRequests {total, ok, ko}: it is not Gatling report data.")

    def num(key: str) -> float | None:
        return to_float(_total(stats, key), f"{key}.total", optional=True)

    requests = to_int(_total(stats, "numberOfRequests"), "numberOfRequests.total")
    ko = to_int(stats["numberOfRequests"].get("ko"), "numberOfRequests.ko", optional=True)
    return Endpoint(
        method=None,
        name=str(stats.get("name") or fallback_name),
        requests=requests,
        failures=ko,
        rps=num("meanNumberOfRequestsPerSecond"),
        latency_ms=Latency(
            avg=num("meanResponseTime"),
            min=num("minResponseTime"),
            p50=num("percentiles1"),
            p95=num("percentiles3"),
            p99=num("percentiles4"),
            max=num("maxResponseTime"),
        ),
    )


def _request_nodes(contents: Any, depth: int) -> list[Endpoint]:
    """REQUEST nodes of the stats.json tree (groups are walked, not listed)."""
    if depth > 50 or not isinstance(contents, dict):
        return []
    rows = []
    for key, node in contents.items():
        node = as_dict(node, f"contents[{key!r}]")
        if node.get("type") == "REQUEST":
            stats = as_dict(node.get("stats"), f"stats of {key!r}")
            rows.append(_stats_row(stats, str(node.get("name") or key)))
        rows.extend(_request_nodes(node.get("contents", {}), depth + 1))
    return rows
