"""Locust: the --csv file set, --json / --json-file output and the 2.22+ HTML report.

All Locust times are milliseconds. The CSV and HTML files carry Locust's own aggregated
figures (used as they are); the JSON output only has per-endpoint histograms, so the run's
figures are computed from them with Locust's own percentile rule (FORMATS.md §1.5, §1.7).
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter, methodcaller
from typing import Any

from app.parsers import detect
from app.parsers.model import Endpoint, Latency, ParsedRun, ParseError, Point, Summary, error_rate
from app.parsers.streams import Source, translate_errors
from app.parsers.tables import (
    at,
    epoch_to_datetime,
    is_data_row,
    no_rows,
    parse_iso_datetime,
    read_header,
    records,
    row_batches,
)
from app.parsers.values import MAX_COUNT, NOT_AVAILABLE, as_dict, as_list, as_text, to_float, to_int

PERCENTILE_COLUMN = re.compile(r"^\d+(\.\d+)?%$")
REPORTED_PERCENTILES = (
    "reported by Locust: response times rounded to ~2 significant digits before "
    "percentiles (FORMATS.md §1.7)"
)
AGGREGATED = "Aggregated"


# -- CSV set ---------------------------------------------------------------------------
def parse_csv(sources: list[Source]) -> ParsedRun:
    """A Locust --csv run from its files; the _stats.csv file is required.

    Raises ParseError for a missing or duplicated file kind and for any bad row.
    """
    parts = _classify(sources)
    stats = parts.get("locust-stats")
    if stats is None:
        raise ParseError(
            "Locust's PREFIX_stats.csv is needed for a Locust CSV run; the _stats_history, "
            "_failures and _exceptions files only add to it. Upload them together."
        )
    run = ParsedRun(format="locust-csv", tool="locust", percentile_method=REPORTED_PERCENTILES)
    run.rps_method = "reported by Locust: requests / (last request − start), whole run"
    _read_stats(stats, run)
    if "locust-history" in parts:
        _read_history(parts["locust-history"], run)
    if "locust-failures" in parts:
        _read_failures(parts["locust-failures"], run)
    if "locust-exceptions" in parts:
        _read_exceptions(parts["locust-exceptions"], run)
    return run


def _classify(sources: list[Source]) -> dict[str, Source]:
    parts: dict[str, Source] = {}
    for source in sources:
        kind = detect.sniff(source)
        if kind not in detect.LOCUST_CSV_KINDS:
            raise source.fail(
                "is not one of Locust's --csv files (stats, stats_history, failures, exceptions)."
            )
        if kind in parts:
            raise ParseError(
                f"“{parts[kind].name}” and “{source.name}” are both Locust {kind[7:]} files; "
                "upload the files of a single run."
            )
        parts[kind] = source
    return parts


def _csv_latency(row: dict[str, str], number: int, prefix: str = "") -> Latency:
    def get(column: str) -> float | None:
        if column not in row:
            return None
        return to_float(row[column], at(number, column), optional=True)

    return Latency(
        avg=get(prefix + "Average Response Time"),
        min=get(prefix + "Min Response Time"),
        p50=get("50%") if "50%" in row else get(prefix + "Median Response Time"),
        p90=get("90%"),
        p95=get("95%"),
        p99=get("99%"),
        max=get(prefix + "Max Response Time"),
    )


def _read_stats(source: Source, run: ParsedRun) -> None:
    required = ["Type", "Name", "Request Count", "Failure Count", "Requests/s"]
    aggregated = None
    with translate_errors(source.name):
        for number, row in records(source, required, "Locust stats"):
            endpoint = Endpoint(
                method=row["Type"] or None,
                name=row["Name"],
                requests=to_int(row["Request Count"], at(number, "Request Count")),
                failures=to_int(row["Failure Count"], at(number, "Failure Count")),
                rps=to_float(row["Requests/s"], at(number, "Requests/s")),
                latency_ms=_csv_latency(row, number),
            )
            if row["Name"] == AGGREGATED and not row["Type"]:
                aggregated = endpoint
            else:
                run.endpoints.append(endpoint)
    if aggregated is None:
        raise source.fail("has no “Aggregated” row, so it is not a complete Locust stats file.")
    run.summary = _summary_from_row(aggregated)


def _summary_from_row(row: Endpoint) -> Summary:
    duration = row.requests / row.rps if row.rps and row.requests else None
    return Summary(
        requests=row.requests,
        failures=row.failures,
        error_rate=error_rate(row.requests, row.failures),
        rps=row.rps,
        duration_s=duration,
        latency_ms=row.latency_ms,
    )


HISTORY_BATCH_ROWS = 512


class _Series:
    """The history's Aggregated rows as time-series points, at most MAX_POINTS of them: past
    that, only every 2nd, 4th, ... row is kept (a long run's history is appended every
    second; its points are Locust's own figures, never averaged)."""

    def __init__(self) -> None:
        self.kept: list[tuple[int, Point]] = []
        self.stride = 1
        self.rows = 0
        self.max_users: int | None = None

    def wants(self) -> bool:
        return self.rows % self.stride == 0

    def add(self, point: Point | None, users: int | None) -> None:
        """Count one Aggregated row; ``point`` is needed only when :meth:`wants` said so."""
        if users is not None and (self.max_users is None or users > self.max_users):
            self.max_users = users
        if point is not None and self.rows % self.stride == 0:
            self.kept.append((self.rows, point))
            if len(self.kept) > MAX_POINTS:
                self.stride *= 2
                self.kept = [(n, p) for n, p in self.kept if n % self.stride == 0]
        self.rows += 1

    def add_many(self, users: list[int], point_at: Callable[[int], Point]) -> None:
        """:meth:`add` for ``len(users)`` rows at once (``point_at(k)`` makes row k's point),
        with the same result: only the rows kept are visited."""
        if users:
            top = max(users)
            if self.max_users is None or top > self.max_users:
                self.max_users = top
        start, n = self.rows, len(users)
        k = -start % self.stride  # the first row whose number is a multiple of the stride
        while k < n:
            self.kept.append((start + k, point_at(k)))
            if len(self.kept) > MAX_POINTS:
                self.stride *= 2
                self.kept = [(m, p) for m, p in self.kept if m % self.stride == 0]
            k += 1
            k += -(start + k) % self.stride
        self.rows = start + n


MAX_POINTS = 2048


def _read_history(source: Source, run: ParsedRun) -> None:
    """The _stats_history file: its Aggregated rows make the time series (see _Series).

    Only the Aggregated rows are used, about one in six: while the lines are plain (no quote
    character, no NUL, each with the header's number of commas) each is one record whose fields
    are its text split at commas, so only the lines with “Aggregated” in them are split and
    the others need only their commas counted (:func:`_plain_history_lines`). From the first
    batch of lines that is not plain on, a CSV reader reads the rest, as before."""
    required = ["Timestamp", "User Count", "Name", "Requests/s", "Failures/s"]
    what = "Locust stats history"
    state = _HistoryState()
    series = state.series
    with translate_errors(source.name):
        batches = source.line_batches(keep_ends=True)
        header: list[str] | None = None
        number, held = 2, None
        for _, batch in batches:
            if header is None:
                head = batch[0]
                names = [name.strip() for name in head.rstrip("\r\n").split(",")]
                if not _plain(head) or any(name not in names for name in required):
                    held = batch
                    break
                header, batch = names, batch[1:]
                columns = {name: i for i, name in enumerate(header)}
            if not _plain_history_lines(batch, columns, len(header), state):
                held = batch
                break
            number += len(batch)
        if held is not None:  # the rest through a CSV reader, record by record
            rows = csv.reader(itertools.chain(held, itertools.chain.from_iterable(
                lines for _, lines in batches)), strict=True)
            if header is None:
                header = read_header(source, rows, required, what)
                columns = {name: i for i, name in enumerate(header)}
            _history_records(source, rows, header, columns, number, state)
        if not state.seen:
            raise no_rows(source, what)
    first = state.first
    run.timeseries = [point for _, point in series.kept]
    if first is not None:
        run.started_at = epoch_to_datetime(first, source, "the first Timestamp")
    run.summary.concurrency = series.max_users
    if series.stride > 1:
        run.notes.append(f"Long history: the time series keeps every {series.stride}th row "
                         f"({len(run.timeseries)} of {series.rows}).")
    window = (
        "the current ~10 s window (--csv-full-history)"
        if state.per_endpoint
        else "cumulative since the start"
    )
    run.notes.append(f"Time-series rps is Locust's current rate; its p95 is {window}.")


@dataclass
class _HistoryState:
    series: _Series = field(default_factory=lambda: _Series())
    first: float | None = None
    per_endpoint: bool = False
    seen: bool = False


def _plain(text: str) -> bool:
    """Text a CSV reader splits exactly at its commas (no quoting, no NUL)."""
    return '"' not in text and "\x00" not in text


_COMMAS = methodcaller("count", ",")


def _plain_history_lines(lines: list[str], columns: dict[str, int], width: int,
                         state: _HistoryState) -> bool:
    """Record a batch of history lines (line ends kept) as the CSV reader would; False,
    having changed nothing, when they are not all plain records of the header's width or
    an Aggregated row needs the row-by-row path."""
    if not lines:
        return True
    if not _plain("".join(lines)) or set(map(_COMMAS, lines)) != {width - 1}:
        return False
    candidates = [line for line in lines if AGGREGATED in line]
    rows = [line.rstrip("\r\n").split(",") for line in candidates]
    done = (_history_batch(rows, columns, width, state.series, state.first) if rows
            else _BatchDone(False, state.first))
    if not done:
        return False
    state.seen = True
    state.per_endpoint = state.per_endpoint or done.per_endpoint or len(rows) < len(lines)
    state.first = done.first
    return True


def _history_records(source: Source, rows: Iterator[list[str]], header: list[str],
                     columns: dict[str, int], number: int, state: _HistoryState) -> None:
    """The history's records from a CSV reader, in batches (see :func:`_history_batch`),
    row by row when a batch needs it; ``number`` is the first record's row number."""
    series = state.series
    for batch, error in row_batches(rows, HISTORY_BATCH_ROWS):
        done = error is None and batch and _history_batch(batch, columns, len(header), series,
                                                          state.first)
        if done:
            state.seen = True
            state.per_endpoint = state.per_endpoint or done.per_endpoint
            state.first = done.first
        else:
            for offset, row in enumerate(batch):
                if not is_data_row(source, number + offset, row, len(header)):
                    continue
                state.seen = True
                fields = dict(zip(header, row))  # noqa: B905 (lengths checked)
                if fields["Name"] != AGGREGATED or fields.get("Type"):
                    state.per_endpoint = True
                    continue
                stamp = to_float(fields["Timestamp"], at(number + offset, "Timestamp"))
                assert stamp is not None
                state.first = stamp if state.first is None else state.first
                point = _history_point(fields, number + offset, stamp - state.first)
                series.add(point, point.users)
        if error is not None:
            raise error
        number += len(batch)


@dataclass
class _BatchDone:
    per_endpoint: bool
    first: float | None


def _numbers(texts: list[str]) -> list[float] | None:
    """Every text as a finite number >= 0 (as to_float reads it), or None."""
    try:
        values = list(map(float, texts))
    except ValueError:
        return None
    if all(map((0.0).__le__, values)) and all(map(math.inf.__gt__, values)):
        return values
    return None


def _history_batch(rows: list[list[str]], columns: dict[str, int], width: int, series: _Series,
                   first: float | None) -> _BatchDone | None:
    """A batch of history rows at once, with the same result as row by row; None, having
    changed nothing, when a row needs the row-by-row path (blank or short rows, a figure
    that is not a plain number)."""
    if len(set(map(len, rows))) != 1 or len(rows[0]) != width:
        return None

    def column(name: str, at_rows: list[int]) -> list[str]:
        index = columns[name]
        return [rows[i][index] for i in at_rows]

    names = list(map(itemgetter(columns["Name"]), rows))
    types = list(map(itemgetter(columns["Type"]), rows)) if "Type" in columns else [""] * len(rows)
    aggregated = [i for i, (name, kind) in enumerate(zip(names, types, strict=True))
                  if name == AGGREGATED and not kind]
    per_endpoint = len(aggregated) < len(rows)
    if not aggregated:
        return _BatchDone(per_endpoint, first)
    stamps, rps, fails, users = (_numbers(column(name, aggregated)) for name in
                                 ("Timestamp", "Requests/s", "Failures/s", "User Count"))
    if stamps is None or rps is None or fails is None or users is None:
        return None
    if not all(map(float.is_integer, users)) or max(users) > MAX_COUNT:
        return None
    p95: list[float | None] | None = None
    if "95%" in columns:
        texts = column("95%", aggregated)
        if not set(map(str.strip, texts)).isdisjoint(NOT_AVAILABLE):
            return None
        p95 = _numbers(texts)
        if p95 is None:
            return None
    first = stamps[0] if first is None else first
    counts = list(map(int, users))

    def point_at(k: int) -> Point:
        rate = min(fails[k] / rps[k], 1.0) if rps[k] else None
        return Point(t_s=stamps[k] - first, rps=rps[k], p95_ms=None if p95 is None else p95[k],
                     error_rate=rate, users=counts[k])

    series.add_many(counts, point_at)
    return _BatchDone(per_endpoint, first)


def _history_point(row: dict[str, str], number: int, t_s: float) -> Point:
    rps = to_float(row["Requests/s"], at(number, "Requests/s"))
    fails = to_float(row["Failures/s"], at(number, "Failures/s"))
    rate = None
    if rps and fails is not None:
        rate = min(fails / rps, 1.0)
    p95 = to_float(row["95%"], at(number, "95%"), optional=True) if "95%" in row else None
    return Point(
        t_s=t_s,
        rps=rps,
        p95_ms=p95,
        error_rate=rate,
        users=to_int(row["User Count"], at(number, "User Count")),
    )


def _read_failures(source: Source, run: ParsedRun) -> None:
    required = ["Method", "Name", "Error", "Occurrences"]
    with translate_errors(source.name):
        for number, row in records(source, required, "Locust failures", allow_empty=True):
            key = f"{row['Method']} {row['Name']}: {row['Error']}".strip()
            count = to_int(row["Occurrences"], at(number, "Occurrences")) or 0
            run.errors[key] = run.errors.get(key, 0) + count
    run.errors = dict(sorted(run.errors.items(), key=lambda kv: -kv[1]))


def _read_exceptions(source: Source, run: ParsedRun) -> None:
    total = 0
    with translate_errors(source.name):
        for number, row in records(
            source, ["Count", "Message"], "Locust exceptions", allow_empty=True
        ):
            total += to_int(row["Count"], at(number, "Count")) or 0
    if total:
        run.notes.append(
            f"Locust recorded {total} exception(s) in the test code (see _exceptions.csv)."
        )


# -- JSON (--json / --json-file) -------------------------------------------------------------
def parse_json(sources: list[Source]) -> ParsedRun:
    """A Locust --json array of per-endpoint entries; raises ParseError."""
    source = _single(sources)
    entries = source.read_json()
    with translate_errors(source.name):
        items = as_list(entries, "the top level")
        if not items:
            raise ParseError("is an empty list: the Locust run made no requests.")
        parsed = [
            _json_entry(as_dict(item, f"entry {i + 1}"), i + 1) for i, item in enumerate(items)
        ]
    return _run_from_entries(parsed, source)


def _single(sources: list[Source]) -> Source:
    if len(sources) != 1:
        raise ParseError("This format is a single file; upload one file per run.")
    return sources[0]


def _json_entry(item: dict[str, Any], n: int) -> dict[str, Any]:
    where = f"entry {n}"

    def number(key: str, optional: bool = False) -> float | None:
        return to_float(item.get(key), f"{where} “{key}”", optional=optional)

    histogram = {
        _bucket_value(k, where): to_int(v, f"{where} response_times[{k!r}]") or 0
        for k, v in as_dict(item.get("response_times", {}), f"{where} “response_times”").items()
    }
    return {
        "name": as_text(item.get("name"), f"{where} “name”") or "",
        "method": as_text(item.get("method"), f"{where} “method”", optional=True),
        "requests": to_int(item.get("num_requests"), f"{where} “num_requests”") or 0,
        "none": to_int(item.get("num_none_requests", 0), f"{where} “num_none_requests”") or 0,
        "failures": to_int(item.get("num_failures"), f"{where} “num_failures”") or 0,
        "total_time": number("total_response_time") or 0.0,
        "min": number("min_response_time", True),
        "max": number("max_response_time", True),
        "start": number("start_time", True),
        "last": number("last_request_timestamp", True),
        "histogram": histogram,
        "reqs": _per_second(item.get("num_reqs_per_sec", {}), f"{where} “num_reqs_per_sec”"),
        "fails": _per_second(item.get("num_fail_per_sec", {}), f"{where} “num_fail_per_sec”"),
    }


def _bucket_value(key: str, where: str) -> float:
    value = to_float(key, f"{where} response_times key")
    assert value is not None
    return value


def _per_second(raw: Any, what: str) -> dict[int, int]:
    result: dict[int, int] = {}
    for key, value in as_dict(raw, what).items():
        second = to_int(key, f"{what} key")
        assert second is not None
        result[second] = result.get(second, 0) + (to_int(value, f"{what}[{key!r}]") or 0)
    return result


def locust_percentile(histogram: dict[float, int], total: int, q: float) -> float | None:
    """Locust's rule: the bucket value such that at most (1 − q)·N requests are slower."""
    if not histogram or total <= 0:
        return None
    allowed = int(total * q)
    processed = 0
    for value in sorted(histogram, reverse=True):
        processed += histogram[value]
        if total - processed <= allowed:
            return value
    return 0.0


def _histogram_latency(entry: dict[str, Any]) -> Latency:
    hist, total = entry["histogram"], entry["requests"]
    timed = total - entry["none"]
    return Latency(
        avg=entry["total_time"] / timed if timed > 0 else None,
        min=entry["min"],
        p50=locust_percentile(hist, total, 0.50),
        p90=locust_percentile(hist, total, 0.90),
        p95=locust_percentile(hist, total, 0.95),
        p99=locust_percentile(hist, total, 0.99),
        max=entry["max"],
    )


def _merge_entries(entries: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "requests": 0,
        "none": 0,
        "failures": 0,
        "total_time": 0.0,
        "histogram": {},
    }
    for entry in entries:
        for key in ("requests", "none", "failures", "total_time"):
            merged[key] += entry[key]
        for value, count in entry["histogram"].items():
            merged["histogram"][value] = merged["histogram"].get(value, 0) + count
    for key, pick in (("min", min), ("max", max), ("start", min), ("last", max)):
        present = [e[key] for e in entries if e[key] is not None]
        merged[key] = pick(present) if present else None
    return merged


def _run_from_entries(entries: list[dict[str, Any]], source: Source) -> ParsedRun:
    total = _merge_entries(entries)
    duration = (
        total["last"] - total["start"]
        if total["last"] is not None and total["start"] is not None
        else None
    )
    if duration is not None and duration < 0:
        raise source.fail("has a last_request_timestamp earlier than its start_time.")
    run = ParsedRun(format="locust-json", tool="locust", recomputed=True)
    run.percentile_method = (
        "computed from Locust's own rounded-response-time histograms with Locust's percentile rule "
        "(same figures Locust would report)"
    )
    run.rps_method = (
        "total requests / (latest last_request_timestamp − earliest start_time), as Locust does"
    )
    run.summary = Summary(
        requests=total["requests"],
        failures=total["failures"],
        error_rate=error_rate(total["requests"], total["failures"]),
        rps=total["requests"] / duration if duration else None,
        duration_s=duration,
        latency_ms=_histogram_latency(total),
    )
    run.endpoints = [
        Endpoint(
            method=e["method"],
            name=e["name"],
            requests=e["requests"],
            failures=e["failures"],
            rps=e["requests"] / duration if duration else None,
            latency_ms=_histogram_latency(e),
        )
        for e in entries
    ]
    if total["start"] is not None:
        run.started_at = epoch_to_datetime(total["start"], source, "start_time")
    run.timeseries = _json_series(entries, total["start"])
    return run


def _json_series(entries: list[dict[str, Any]], start: float | None) -> list[Point]:
    reqs: dict[int, int] = {}
    fails: dict[int, int] = {}
    for entry in entries:
        for second, count in entry["reqs"].items():
            reqs[second] = reqs.get(second, 0) + count
        for second, count in entry["fails"].items():
            fails[second] = fails.get(second, 0) + count
    if not reqs:
        return []
    origin = min(int(start), min(reqs)) if start is not None else min(reqs)
    return [
        Point(
            t_s=float(second - origin),
            rps=float(count),
            error_rate=error_rate(count, fails.get(second, 0)),
        )
        for second, count in sorted(reqs.items())
    ]


# -- HTML report (2.22+) ----------------------------------------------------------------
TEMPLATE_ARGS = re.compile(r"window\.templateArgs\s*=\s*")


def parse_html(sources: list[Source]) -> ParsedRun:
    """A Locust ≥ 2.22 HTML report: the JSON literal ``window.templateArgs``; raises ParseError."""
    source = _single(sources)
    text = source.read_document()
    match = TEMPLATE_ARGS.search(text)
    if match is None:
        raise source.fail(
            "has no embedded Locust data (window.templateArgs). Reports of Locust older than "
            "2.22 are not supported: upload the --csv files or the --json output instead."
        )
    line_end = text.find("\n", match.end())
    literal = text[match.end() : line_end if line_end >= 0 else len(text)].strip().rstrip(";")
    data = source.read_json(literal)
    with translate_errors(source.name):
        return _run_from_report(as_dict(data, "window.templateArgs"), source)


def _report_row(
    item: dict[str, Any], percentiles: dict[tuple[str, str], dict[str, Any]], n: int
) -> Endpoint:
    where = f"requests_statistics[{n}]"

    def number(key: str) -> float | None:
        return to_float(item.get(key), f"{where} “{key}”", optional=True)

    name = as_text(item.get("name"), f"{where} “name”") or ""
    method = as_text(item.get("method"), f"{where} “method”", optional=True) or ""
    pcts = percentiles.get((method, name), {})

    def pct(key: str, fallback: str | None = None) -> float | None:
        raw = pcts.get(key, item.get(fallback) if fallback else None)
        return to_float(raw, f"percentile {key} of {name}", optional=True)

    return Endpoint(
        method=method or None,
        name=name,
        requests=to_int(item.get("num_requests"), f"{where} “num_requests”"),
        failures=to_int(item.get("num_failures"), f"{where} “num_failures”"),
        rps=number("total_rps"),
        latency_ms=Latency(
            avg=number("avg_response_time"),
            min=number("min_response_time"),
            p50=pct("0.5", "median_response_time"),
            p90=pct("0.9"),
            p95=pct("0.95", "response_time_percentile_0.95"),
            p99=pct("0.99", "response_time_percentile_0.99"),
            max=number("max_response_time"),
        ),
    )


def _run_from_report(data: dict[str, Any], source: Source) -> ParsedRun:
    percentiles = {}
    for i, raw in enumerate(
        as_list(data.get("response_time_statistics", []), "response_time_statistics")
    ):
        item = as_dict(raw, f"response_time_statistics[{i}]")
        key = (
            as_text(item.get("method"), "method", optional=True) or "",
            as_text(item.get("name"), "name") or "",
        )
        percentiles[key] = item
    stats = as_list(data.get("requests_statistics"), "requests_statistics")
    rows = [
        _report_row(as_dict(item, f"requests_statistics[{i}]"), percentiles, i)
        for i, item in enumerate(stats)
    ]
    aggregated = next((r for r in rows if r.name == AGGREGATED and not r.method), None)
    if aggregated is None:
        raise source.fail("has no Aggregated row in its report data; is the report complete?")
    run = ParsedRun(format="locust-html", tool="locust", percentile_method=REPORTED_PERCENTILES)
    run.rps_method = "reported by Locust: requests / (last request − start), whole run"
    run.summary = _summary_from_row(aggregated)
    run.endpoints = [r for r in rows if r is not aggregated]
    _report_times(data, run, source)
    _report_failures(data, run)
    _report_history(data, run, source)
    return run


def _report_times(data: dict[str, Any], run: ParsedRun, source: Source) -> None:
    start, end = data.get("start_time"), data.get("end_time")
    if isinstance(start, str) and start:
        run.started_at = parse_iso_datetime(start, source, "start_time")
        if isinstance(end, str) and end:
            finished = parse_iso_datetime(end, source, "end_time")
            run.summary.duration_s = max((finished - run.started_at).total_seconds(), 0.0)


def _report_failures(data: dict[str, Any], run: ParsedRun) -> None:
    for i, raw in enumerate(as_list(data.get("failures_statistics", []), "failures_statistics")):
        item = as_dict(raw, f"failures_statistics[{i}]")
        key = " ".join(
            part
            for part in (
                as_text(item.get("method"), "method", optional=True),
                as_text(item.get("name"), "name"),
            )
            if part
        )
        key = f"{key}: {as_text(item.get('error'), 'error')}"
        run.errors[key] = run.errors.get(key, 0) + (
            to_int(item.get("occurrences"), "occurrences") or 0
        )


def _pair_value(raw: Any, what: str) -> float | None:
    """History values are ``[timestamp, value]`` pairs (or plain values in some versions)."""
    if isinstance(raw, list):
        raw = raw[-1] if raw else None
    return to_float(raw, what, optional=True)


def _report_history(data: dict[str, Any], run: ParsedRun, source: Source) -> None:
    first: datetime | None = None
    for i, raw in enumerate(as_list(data.get("history", []), "history")):
        item = as_dict(raw, f"history[{i}]")
        stamp = as_text(item.get("time"), f"history[{i}] “time”")
        when = parse_iso_datetime(stamp or "", source, f"history[{i}] time")
        first = first or when
        rps = _pair_value(item.get("current_rps"), f"history[{i}] current_rps")
        fails = _pair_value(item.get("current_fail_per_sec"), f"history[{i}] current_fail_per_sec")
        users = _pair_value(item.get("user_count"), f"history[{i}] user_count")
        run.timeseries.append(
            Point(
                t_s=(when - first).total_seconds(),
                rps=rps,
                p95_ms=_pair_value(item.get("response_time_percentile_0.95"), f"history[{i}] p95"),
                error_rate=min(fails / rps, 1.0) if rps and fails is not None else None,
                users=int(users) if users is not None else None,
            )
        )
    users_seen = [p.users for p in run.timeseries if p.users is not None]
    run.summary.concurrency = max(users_seen) if users_seen else None
