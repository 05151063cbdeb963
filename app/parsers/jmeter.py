"""Apache JMeter: CSV and XML JTL result files (raw samples) and dashboard statistics.json.

JTL files hold one row per sample but also *sub-results* (redirect hops, embedded resources,
written as ``<label>-<n>`` rows after their parent, or as nested XML elements) and
*Transaction Controller* rows that sum their children. Counting either would double count,
so both are left out of the totals (FORMATS.md §3.1, pitfalls 1 and 2).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from itertools import repeat
from operator import add, itemgetter, methodcaller, truediv
from typing import Any

from app.parsers import jtl_fast
from app.parsers.model import Endpoint, Latency, ParsedRun, ParseError, Summary
from app.parsers.samples import RunAccumulator
from app.parsers.streams import Source, translate_errors
from app.parsers.tables import at, epoch_to_datetime, is_data_row, no_rows, read_header, row_batches
from app.parsers.values import as_dict, fast_float, req_float, to_float, to_fraction, to_int

SUB_RESULT = re.compile(r"^(?P<parent>.*)-\d+$")
TRANSACTION_MESSAGE = "Number of samples in transaction"
JTL_RPS = "recomputed: top-level samples / (last end − first start), as JMeter's dashboard does"
SAMPLE_TAGS = ("httpSample", "sample")
# JMeter nests sub-results a few levels and writes a handful of elements per sample; more is
# a crafted file that would otherwise be held in memory whole (elements are freed per sample).
MAX_XML_DEPTH = 64
MAX_SAMPLE_ELEMENTS = 100_000
MAX_OTHER_ELEMENTS = 1_000  # children of <testResults> that are not samples (JMeter writes none)


@dataclass
class _Sample:
    """One JTL sample, whatever the file layout."""

    start_ms: float
    elapsed_ms: float
    label: str
    success: bool
    code: str
    message: str
    failure: str
    threads: int | None
    thread_name: str
    count: int = 1
    errors: int = 0

    @property
    def is_transaction(self) -> bool:
        return self.message.startswith(TRANSACTION_MESSAGE)


class _JtlAggregator:
    """Skips sub-results and transaction rows, feeds the rest into a RunAccumulator."""

    def __init__(self) -> None:
        self.acc = RunAccumulator()
        self.transactions = RunAccumulator()
        self.last_parent: dict[str, str] = {}
        self.sub_results = 0
        self.first_ms: float | None = None

    def is_sub_result(self, label: str, thread: str) -> bool:
        """CSV rows ``<parent>-<n>`` right after their parent (same thread) are sub-results."""
        parent = _sub_result_parent(label)
        if parent is not None and self.last_parent.get(thread) == parent:
            self.sub_results += 1
            return True
        self.last_parent[thread] = label
        return False

    def add(self, sample: _Sample) -> None:
        """Count one top-level sample (transaction rows are kept apart)."""
        target = self.transactions if sample.is_transaction else self.acc
        self._record(target, sample)

    def _record(self, acc: RunAccumulator, s: _Sample) -> None:
        start_s, key = s.start_ms / 1000, (None, s.label)
        self.first_ms = (
            s.start_ms if self.first_ms is None or s.start_ms < self.first_ms else self.first_ms
        )
        acc.span(start_s, (s.start_ms + s.elapsed_ms) / 1000)
        acc.request(start_s, key, weight=s.count, status=s.code or None)
        acc.latency(start_s, key, s.elapsed_ms, weight=s.count)
        failures = s.errors if s.count > 1 else (0 if s.success else 1)
        if failures:
            acc.failure(
                start_s, key, weight=failures, message=s.failure or f"{s.code} {s.message}".strip()
            )
        if s.threads is not None:
            acc.users(start_s, s.threads)

    def build(self, fmt: str, source: Source) -> ParsedRun:
        run = ParsedRun(format=fmt, tool="jmeter", rps_method=JTL_RPS)
        counted = self.acc
        if not counted.overall.requests and self.transactions.overall.requests:
            counted = self.transactions
            run.notes.append(
                "Only Transaction Controller samples were found; they are counted as requests."
            )
        elif self.transactions.overall.requests:
            run.notes.append(
                f"{self.transactions.overall.requests} Transaction Controller sample(s) left out "
                "(their child samples are counted)."
            )
        if not counted.overall.requests:
            raise source.fail("holds no samples: the JMeter test recorded no results.")
        counted.fill(run)
        if self.sub_results:
            run.notes.append(
                f"{self.sub_results} sub-result(s) (redirects, embedded resources) left out."
            )
        if self.first_ms is not None:
            run.started_at = epoch_to_datetime(self.first_ms / 1000, source, "the first timeStamp")
        return run


# -- CSV JTL ----------------------------------------------------------------------------------
CSV_BATCH_ROWS = 512  # bounded memory: a batch of parsed records is held at once
CSV_REQUIRED = ("timeStamp", "elapsed", "label")
CSV_WHAT = "JMeter JTL"


def parse_csv(sources: list[Source]) -> ParsedRun:
    """A CSV JTL with a header row (columns found by name); raises ParseError.

    Plain blocks of the file (no quoting, every row complete, plain numbers) are read
    vectorised by :mod:`app.parsers.jtl_fast`; everything else goes through
    :func:`_csv_rows`, the reader used before, with the same result either way. Files the
    block reader cannot start on, or that need it to give up part way (bytes that are not
    UTF-8, a damaged gzip stream …), are read again from the start by :func:`_parse_csv_rows`
    alone, so messages come out exactly as that reader gives them.
    """
    source = _single(sources)
    _require_header(source)
    if jtl_fast.ENABLED:
        aggregator = _JtlAggregator()
        try:
            with translate_errors(source.name):
                seen = jtl_fast.read(
                    source, aggregator,
                    header_of=lambda fields: read_header(source, iter([fields]), CSV_REQUIRED, CSV_WHAT),
                    handle_rows=partial(_csv_rows, source, aggregator),
                    parent_of=_sub_result_parent, transaction=TRANSACTION_MESSAGE)
        except jtl_fast.Restart:  # the block reader gave up: the row reader reads it all again
            return _parse_csv_rows(source)
        if not seen:
            raise no_rows(source, CSV_WHAT)
        return aggregator.build("jmeter-csv", source)
    return _parse_csv_rows(source)


def _parse_csv_rows(source: Source) -> ParsedRun:
    """The CSV reader alone: rows in batches of CSV_BATCH_ROWS (see :func:`_csv_rows`)."""
    aggregator = _JtlAggregator()
    with translate_errors(source.name):
        rows = source.csv_reader()
        header = read_header(source, rows, CSV_REQUIRED, CSV_WHAT)
        _, seen = _csv_rows(source, aggregator, header, row_batches(rows, CSV_BATCH_ROWS), 2)
        if not seen:
            raise no_rows(source, CSV_WHAT)
    return aggregator.build("jmeter-csv", source)


def _csv_rows(source: Source, aggregator: _JtlAggregator, header: list[str],
              batches: Iterator[tuple[list[list[str]], Exception | None]], number: int
              ) -> tuple[int, bool]:
    """Record CSV records given in batches (each with the error that stopped reading, as
    :func:`row_batches` gives them); ``number`` is the first record's row number. A batch of
    ordinary rows (every figure a plain number, no transaction or multi-sample rows) is
    recorded at once by :func:`_csv_batch`, any other batch row by row, so results and
    messages do not depend on the path. Returns (the next row number, whether any data row
    was seen); raises the batch's error after recording the rows before it."""
    columns = {name: i for i, name in enumerate(header)}
    seen = False
    for batch, error in batches:
        if error is None and batch and _csv_batch(aggregator, batch, columns, len(header)):
            seen = True
        else:
            for offset, row in enumerate(batch):
                if is_data_row(source, number + offset, row, len(header)):
                    seen = True
                    fields = dict(zip(header, row))  # noqa: B905 (lengths checked)
                    if not aggregator.is_sub_result(fields["label"], fields.get("threadName", "")):
                        aggregator.add(_csv_sample(fields, number + offset))
        if error is not None:
            raise error
        number += len(batch)
    return number, seen


def _sub_result_parent(label: str) -> str | None:
    """The parent label a ``<parent>-<n>`` label names, or None (the check for a digit first
    keeps the regular expression off almost every label)."""
    if label[-1:].isdigit():
        match = SUB_RESULT.match(label)
        if match:
            return match["parent"]
    return None


def _column(rows: list[list[str]], columns: dict[str, int], name: str) -> list[str] | None:
    index = columns.get(name)
    return None if index is None else list(map(itemgetter(index), rows))


def _finite_non_negative(values: list[float]) -> bool:
    return all(map((0.0).__le__, values)) and all(map(math.inf.__gt__, values))


def _csv_batch(aggregator: _JtlAggregator, rows: list[list[str]], columns: dict[str, int],
               width: int) -> bool:
    """Record a batch of CSV rows at once, with the same result as row by row; False,
    having changed nothing, when any row needs the row-by-row path (a blank or short row,
    a figure that is not a plain number, a transaction or multi-sample row, a count of
    endpoints or time buckets that changes how later samples are grouped)."""
    if len(set(map(len, rows))) != 1 or len(rows[0]) != width:
        return False
    column = partial(_column, rows, columns)
    stamps, elapsed_text, labels = column("timeStamp"), column("elapsed"), column("label")
    if not all(map(str.isdigit, stamps)):
        return False
    try:
        starts = list(map(float, stamps))
        elapsed = list(map(float, elapsed_text))
    except ValueError:
        return False
    if not _finite_non_negative(elapsed):
        return False
    messages = column("responseMessage") or [""] * len(rows)
    if any(map(methodcaller("startswith", TRANSACTION_MESSAGE), messages)):
        return False
    for name in ("SampleCount", "ErrorCount"):  # one sample per row: kept apart by the slow path
        if name in columns and not set(column(name)) <= {"", "0", "1"}:
            return False
    users: list[int] | None = None
    all_threads, group_threads = column("allThreads"), column("grpThreads")
    if all_threads is not None or group_threads is not None:
        texts = (all_threads if group_threads is None else group_threads if all_threads is None
                 else [a or g for a, g in zip(all_threads, group_threads, strict=True)])
        if not all(texts):
            return False
        try:
            counts = list(map(float, texts))
        except ValueError:
            return False
        if not _finite_non_negative(counts):
            return False
        users = list(map(int, counts))
    threads = column("threadName") or [""] * len(rows)
    last_parent = dict(aggregator.last_parent)
    top, sub_results = [], 0
    for i, label, thread in zip(range(len(rows)), labels, threads, strict=False):
        parent = _sub_result_parent(label)
        if parent is not None and last_parent.get(thread) == parent:
            sub_results += 1
            continue
        last_parent[thread] = label
        top.append(i)
    acc = aggregator.acc
    if top:
        pick = partial(_pick, top)
        starts, elapsed, labels = pick(starts), pick(elapsed), pick(labels)
        times_s = list(map(truediv, starts, repeat(1000)))
        keys = list(zip(repeat(None), labels))
        plan = acc.can_batch(times_s, keys)
        if plan is None:
            return False
        ends_s = list(map(truediv, map(add, starts, elapsed), repeat(1000)))
        codes = pick(column("responseCode") or [""] * len(rows))
        acc.add_batch(plan, times_s, ends_s, keys, elapsed, codes,
                      None if users is None else pick(users))
        first = min(starts)
        if aggregator.first_ms is None or first < aggregator.first_ms:
            aggregator.first_ms = first
        success = column("success")
        if success is not None:
            success, messages = pick(success), pick(messages)
            failures = column("failureMessage")
            failures = pick(failures) if failures is not None else [""] * len(top)
            for i in [i for i, text in enumerate(success) if text.strip().lower() != "true"]:
                message = failures[i] or f"{codes[i]} {messages[i]}".strip()
                acc.failure(times_s[i], keys[i], weight=1, message=message)
    aggregator.last_parent = last_parent
    aggregator.sub_results += sub_results
    return True


def _pick(rows: list[int], values: list) -> list:
    return [values[rows[0]]] if len(rows) == 1 else list(itemgetter(*rows)(values))


def _single(sources: list[Source]) -> Source:
    if len(sources) != 1:
        raise ParseError("This format is a single file; upload one file per run.")
    return sources[0]


def _require_header(source: Source) -> None:
    first = next(source.lines(), "")
    if re.match(r"^\d{13},", first):
        raise source.fail(
            "has no header row, so its columns cannot be told apart. Save results with "
            "jmeter.save.saveservice.print_field_names=true (the default) and upload again."
        )


def _csv_sample(row: dict[str, str], number: int) -> _Sample:
    def count(column: str, default: int) -> int:
        text = row.get(column)
        return default if not text else (to_int(text, at(number, column)) or 0)

    threads = row.get("allThreads") or row.get("grpThreads")
    return _Sample(
        start_ms=_timestamp_ms(row["timeStamp"], number),
        elapsed_ms=_number(row["elapsed"], number, "elapsed"),
        label=row["label"],
        success=row.get("success", "true").strip().lower() == "true",
        code=row.get("responseCode", ""),
        message=row.get("responseMessage", ""),
        failure=row.get("failureMessage", ""),
        threads=int(_number(threads, number, "allThreads")) if threads else None,
        thread_name=row.get("threadName", ""),
        count=max(count("SampleCount", 1), 1),
        errors=count("ErrorCount", 0),
    )


def _number(text: str, number: int, column: str) -> float:
    """Fast path for the hot loop; the slow path only builds the error message."""
    value = fast_float(text)
    return value if value is not None else req_float(text, at(number, column))


def _timestamp_ms(text: str, number: int) -> float:
    """Epoch milliseconds, or a date string when ``timestamp_format`` was changed."""
    if text.isdigit():
        return float(text)
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        raise ParseError(
            f"{at(number, 'timeStamp')} is {text[:30]!r}: expected epoch milliseconds "
            "(jmeter.save.saveservice.timestamp_format=ms) or an ISO date."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000


# -- XML JTL ----------------------------------------------------------------------------------
def parse_xml(sources: list[Source]) -> ParsedRun:
    """An XML JTL, streamed with iterparse; nested samples are sub-results. Raises ParseError."""
    source = _single(sources)
    _refuse_dtd(source)
    aggregator = _JtlAggregator()
    with translate_errors(source.name), _unknown_encoding_is_parse_error():
        depth = held = others = 0
        root = None
        for event, element in ET.iterparse(source.open_binary(), events=("start", "end")):
            if event == "start":
                depth += 1
                held += 1
                if root is None:
                    root = _checked_root(element)
                elif held > MAX_SAMPLE_ELEMENTS or depth > MAX_XML_DEPTH:
                    raise ParseError(
                        f"has a sample with more than {MAX_SAMPLE_ELEMENTS:,} elements or nested "
                        f"more than {MAX_XML_DEPTH} deep, which JMeter never writes."
                    )
                continue
            depth -= 1
            if depth == 1:  # a child of <testResults> ended: count it if a sample, then free it
                if element.tag in SAMPLE_TAGS:
                    aggregator.add(_xml_sample(element))
                    aggregator.sub_results += (
                        sum(1 for _ in element.iter() if _.tag in SAMPLE_TAGS) - 1
                    )
                else:
                    others += 1
                    if others > MAX_OTHER_ELEMENTS:
                        raise ParseError(
                            f"has more than {MAX_OTHER_ELEMENTS:,} elements in <testResults> "
                            "that are not samples, so it is not a JMeter result file."
                        )
                root.clear()  # type: ignore[union-attr]
                held = 0
        if root is None:
            raise ParseError("is empty XML, not a JMeter result file.")
    return aggregator.build("jmeter-xml", source)


@contextmanager
def _unknown_encoding_is_parse_error() -> Iterator[None]:
    """expat raises a bare LookupError for an XML declaration naming an unknown encoding."""
    try:
        yield
    except LookupError as exc:
        if type(exc) is not LookupError:  # KeyError/IndexError are bugs, not bad files
            raise
        raise ParseError(f"declares a text encoding Python does not know ({exc}).") from exc


def _checked_root(element: ET.Element) -> ET.Element:
    if element.tag != "testResults":
        raise ParseError(
            f"is XML with a <{element.tag[:40]}> root, not a JMeter result file (<testResults>)."
        )
    return element


def _refuse_dtd(source: Source) -> None:
    """JTL files never declare a DTD; refusing one rules out entity-expansion tricks."""
    head = source.head().decode("utf-8", "replace")
    if "<!DOCTYPE" in head or "<!ENTITY" in head:
        raise source.fail("declares a DTD or entities, which JMeter result files never do.")


def _xml_sample(element: ET.Element) -> _Sample:
    attrs = element.attrib
    label = attrs.get("lb", "")
    where = f"sample “{label[:60]}”"

    def number(name: str, default: float | None = 0.0) -> float | None:
        if name not in attrs:
            return default
        return to_float(attrs[name], f"{where} attribute {name}")

    threads = number("na", None)
    return _Sample(
        start_ms=number("ts") or 0.0,
        elapsed_ms=number("t") or 0.0,
        label=label,
        success=attrs.get("s", "true").lower() == "true",
        code=attrs.get("rc", attrs.get("rs", "")),
        message=attrs.get("rm", ""),
        failure=_assertion_failure(element),
        threads=int(threads) if threads is not None else None,
        thread_name=attrs.get("tn", ""),
        count=max(int(number("sc", 1) or 1), 1),
        errors=int(number("ec") or 0),
    )


def _assertion_failure(element: ET.Element) -> str:
    for assertion in element.findall("assertionResult"):
        if (assertion.findtext("failure") or assertion.findtext("error") or "").strip() == "true":
            return (
                assertion.findtext("failureMessage") or assertion.findtext("name") or ""
            ).strip()
    return ""


# -- dashboard statistics.json ------------------------------------------------------------------
def parse_dashboard(sources: list[Source]) -> ParsedRun:
    """The dashboard's statistics.json (JMeter's own aggregate figures); raises ParseError."""
    source = _single(sources)
    data = as_dict(source.read_json(), "the top level")
    if "Total" not in data:
        raise ParseError("has no “Total” entry, so it is not a complete JMeter statistics.json.")
    rows = {
        label: _dashboard_row(label, as_dict(item, f"entry {label!r}"))
        for label, item in data.items()
    }
    total = rows.pop("Total")
    run = ParsedRun(format="jmeter-dashboard", tool="jmeter")
    run.percentile_method = (
        "reported by JMeter's dashboard; pct1/2/3 assumed to be the default 90/95/99th"
    )
    run.rps_method = "reported by JMeter: samples / (last end − first start)"
    run.summary = Summary(
        requests=total.requests,
        failures=total.failures,
        error_rate=_dashboard_error_rate(data["Total"]),
        rps=total.rps,
        duration_s=total.requests / total.rps if total.requests and total.rps else None,
        latency_ms=total.latency_ms,
    )
    run.endpoints = list(rows.values())
    return run


def _dashboard_row(label: str, item: dict[str, Any]) -> Endpoint:
    def num(key: str) -> float | None:
        return to_float(item.get(key), f"entry {label!r} “{key}”", optional=True)

    return Endpoint(
        method=None,
        name=str(item.get("transaction") or label),
        requests=to_int(item.get("sampleCount"), f"entry {label!r} “sampleCount”"),
        failures=to_int(item.get("errorCount"), f"entry {label!r} “errorCount”", optional=True),
        rps=num("throughput"),
        latency_ms=Latency(
            avg=num("meanResTime"),
            min=num("minResTime"),
            p50=num("medianResTime"),
            p90=num("pct1ResTime"),
            p95=num("pct2ResTime"),
            p99=num("pct3ResTime"),
            max=num("maxResTime"),
        ),
    )


def _dashboard_error_rate(total: dict[str, Any]) -> float | None:
    percent = to_float(total.get("errorPct"), "Total “errorPct”", optional=True)
    return to_fraction(percent / 100, "Total errorPct / 100") if percent is not None else None
