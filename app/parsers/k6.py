"""k6: the three summary JSON shapes and the two raw-sample outputs (--out json, --out csv).

Summaries carry k6's own figures (k6 keeps every sample and interpolates percentiles), used
as they are. Raw samples are aggregated in bounded memory by :mod:`app.parsers.samples`.
All k6 time metrics are milliseconds (FORMATS.md §2).
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any

from app.parsers.model import Latency, ParsedRun, ParseError, Summary, error_rate
from app.parsers.samples import RunAccumulator
from app.parsers.streams import Source, translate_errors
from app.parsers.tables import at, epoch_to_datetime, records
from app.parsers.values import as_dict, as_list, as_text, to_float, to_fraction, to_int

REPORTED_PERCENTILES = "reported by k6: all samples kept, linear interpolation between ranks"
REPORTED_RPS = "reported by k6: http_reqs / whole test run duration (incl. setup/teardown)"
SAMPLE_RPS = "recomputed: requests / (last sample time − first sample time)"


# -- summaries -----------------------------------------------------------------------------
def parse_summary_export(sources: list[Source]) -> ParsedRun:
    """Legacy ``--summary-export`` JSON (flat metric objects); raises ParseError."""
    source = _single(sources)
    data = as_dict(source.read_json(), "the top level")
    metrics = as_dict(data.get("metrics"), "“metrics”")
    values = {name: as_dict(m, f"metric {name}") for name, m in metrics.items()}
    reqs = _required(values, "http_reqs")
    count = to_int(reqs.get("count"), "http_reqs count")
    rate = to_float(reqs.get("rate"), "http_reqs rate", optional=True)
    failed = values.get("http_req_failed")
    run = _summary_run(
        "k6-summary-export",
        values,
        requests=count,
        failures=to_int(failed.get("passes"), "http_req_failed passes") if failed else None,
        fail_rate=to_fraction(failed.get("value"), "http_req_failed value") if failed else None,
        rps=rate,
        duration=count / rate if count and rate else None,
    )
    if run.summary.duration_s is not None:
        run.notes.append("duration_s = http_reqs count ÷ rate (k6's test run duration).")
    _legacy_thresholds(metrics, run)
    _checks_note(values.get("checks"), run)
    return run


def parse_handle_summary(sources: list[Source]) -> ParsedRun:
    """The ``data`` object given to ``handleSummary`` (typed metrics with ``values``)."""
    source = _single(sources)
    data = as_dict(source.read_json(), "the top level")
    metrics = as_dict(data.get("metrics"), "“metrics”")
    values = {
        name: as_dict(as_dict(m, f"metric {name}").get("values"), f"metric {name} values")
        for name, m in metrics.items()
    }
    reqs = _required(values, "http_reqs")
    state = as_dict(data.get("state", {}), "“state”")
    duration_ms = to_float(state.get("testRunDurationMs"), "state.testRunDurationMs", optional=True)
    failed = values.get("http_req_failed")
    run = _summary_run(
        "k6-handle-summary",
        values,
        requests=to_int(reqs.get("count"), "http_reqs count"),
        failures=to_int(failed.get("passes"), "http_req_failed passes") if failed else None,
        fail_rate=to_fraction(failed.get("rate"), "http_req_failed rate") if failed else None,
        rps=to_float(reqs.get("rate"), "http_reqs rate", optional=True),
        duration=duration_ms / 1000 if duration_ms is not None else None,
    )
    _typed_thresholds(metrics, run)
    _checks_note(values.get("checks"), run)
    return run


def parse_summary_v1(sources: list[Source]) -> ParsedRun:
    """k6 ≥ 1.5 new machine-readable summary (``version`` 1.0.0, metrics as an array)."""
    source = _single(sources)
    data = as_dict(source.read_json(), "the top level")
    results = as_dict(data.get("results"), "“results”")
    values: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(as_list(results.get("metrics"), "results.metrics")):
        metric = as_dict(raw, f"results.metrics[{i}]")
        name = as_text(metric.get("name"), f"results.metrics[{i}] name") or ""
        values[name] = as_dict(metric.get("values"), f"metric {name} values")
    reqs = _required(values, "http_reqs")
    count = to_int(reqs.get("count"), "http_reqs count")
    config = as_dict(data.get("config", {}), "“config”")
    duration = to_float(config.get("duration"), "config.duration", optional=True)
    failed = values.get("http_req_failed")
    run = _summary_run(
        "k6-summary-v1",
        values,
        requests=count,
        failures=to_int(failed.get("matches"), "http_req_failed matches") if failed else None,
        fail_rate=to_fraction(failed.get("rate"), "http_req_failed rate") if failed else None,
        rps=count / duration if count is not None and duration else None,
        duration=duration,
    )
    run.rps_method = "http_reqs count ÷ config.duration (this summary has no rate)"
    metadata = as_dict(data.get("metadata", {}), "“metadata”")
    run.tool_version = as_text(metadata.get("k6Version"), "metadata.k6Version", optional=True)
    return run


def _single(sources: list[Source]) -> Source:
    if len(sources) != 1:
        raise ParseError("This format is a single file; upload one file per run.")
    return sources[0]


def _required(values: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    if name not in values:
        raise ParseError(
            f"has no “{name}” metric, so it holds no HTTP requests to compare "
            "(is it the summary of an HTTP test?)."
        )
    return values[name]


def _summary_run(
    fmt: str,
    values: dict[str, dict[str, Any]],
    *,
    requests: int | None,
    failures: int | None,
    fail_rate: float | None,
    rps: float | None,
    duration: float | None,
) -> ParsedRun:
    run = ParsedRun(
        format=fmt, tool="k6", percentile_method=REPORTED_PERCENTILES, rps_method=REPORTED_RPS
    )
    run.summary = Summary(
        requests=requests,
        failures=failures,
        error_rate=fail_rate if fail_rate is not None else error_rate(requests, failures),
        rps=rps,
        duration_s=duration,
        concurrency=_peak_vus(values),
        latency_ms=_trend_latency(values.get("http_req_duration"), "http_req_duration"),
    )
    if run.summary.latency_ms.p99 is None:
        run.notes.append(
            "No p(99) in this summary (k6 exports it only with --summary-trend-stats)."
        )
    if "http_req_failed" not in values:
        run.notes.append("No http_req_failed metric (k6 older than v0.31): failures are unknown.")
    return run


def _trend_latency(trend: dict[str, Any] | None, what: str) -> Latency:
    if trend is None:
        return Latency()

    def get(key: str) -> float | None:
        return to_float(trend.get(key), f"{what} “{key}”", optional=True)

    return Latency(
        avg=get("avg"),
        min=get("min"),
        p50=get("med"),
        p90=get("p(90)"),
        p95=get("p(95)"),
        p99=get("p(99)"),
        max=get("max"),
    )


def _peak_vus(values: dict[str, dict[str, Any]]) -> int | None:
    for name, key in (("vus", "max"), ("vus_max", "max"), ("vus_max", "value")):
        if name in values and values[name].get(key) is not None:
            return to_int(values[name][key], f"{name} {key}")
    return None


def _legacy_thresholds(metrics: dict[str, Any], run: ParsedRun) -> None:
    """Legacy thresholds are ``{expr: bool}`` where true means the threshold FAILED."""
    for name, metric in metrics.items():
        for expr, failed in as_dict(metric.get("thresholds", {}), f"{name} thresholds").items():
            run.notes.append(
                f"Threshold {name} {expr}: {'FAILED' if failed is True else 'passed'}."
            )


def _typed_thresholds(metrics: dict[str, Any], run: ParsedRun) -> None:
    """handleSummary thresholds are ``{expr: {"ok": bool}}`` where ok means passed."""
    for name, metric in metrics.items():
        for expr, state in as_dict(metric.get("thresholds", {}), f"{name} thresholds").items():
            ok = isinstance(state, dict) and state.get("ok") is True
            run.notes.append(f"Threshold {name} {expr}: {'passed' if ok else 'FAILED'}.")


def _checks_note(checks: dict[str, Any] | None, run: ParsedRun) -> None:
    if checks is None:
        return
    passes = to_int(checks.get("passes"), "checks passes", optional=True)
    fails = to_int(checks.get("fails"), "checks fails", optional=True)
    if passes is not None and fails is not None:
        run.notes.append(f"Checks: {passes} passed, {fails} failed.")


# -- raw samples -----------------------------------------------------------------------------
class _K6Samples:
    """Feeds k6 samples (one metric value with tags) into a RunAccumulator."""

    def __init__(self) -> None:
        self.acc = RunAccumulator()
        self.saw_failed_metric = False
        self.requests = 0
        self.first: float | None = None

    def seen(self, t_s: float) -> None:
        """Any sample's time extends the run (first sample = start of the run)."""
        self.acc.span(t_s)
        self.first = t_s if self.first is None or t_s < self.first else self.first

    def add(self, metric: str, t_s: float, value: float, tags: dict[str, str], where: str) -> None:
        self.seen(t_s)
        key = (tags.get("method") or None, tags.get("name") or tags.get("url") or "(unnamed)")
        if metric == "http_reqs":
            self.requests += 1
            self.acc.request(t_s, key, status=tags.get("status") or None)
        elif metric == "http_req_duration":
            self.acc.latency(t_s, key, _non_negative(value, where))
        elif metric == "http_req_failed":
            self.saw_failed_metric = True
            if value >= 0.5:
                self.acc.failure(t_s, key, message=_failure_message(tags))
        elif metric == "vus":
            self.acc.users(t_s, int(_non_negative(value, where)))

    def build(self, fmt: str, source: Source) -> ParsedRun:
        if not self.requests:
            raise source.fail("holds no http_reqs samples: the k6 test made no HTTP requests.")
        run = ParsedRun(format=fmt, tool="k6", rps_method=SAMPLE_RPS)
        self.acc.fill(run)
        if self.first is not None:
            run.started_at = epoch_to_datetime(self.first, source, "the first sample time")
        if not self.saw_failed_metric:
            _failures_from_status(run)
        run.notes.append(
            "duration_s spans the first to the last sample; k6's own summary uses the "
            "whole test run."
        )
        return run


def _non_negative(value: float, where: str) -> float:
    if not 0 <= value < math.inf:  # also NaN; 1e309 in a line reads as inf
        raise ParseError(f"{where} has the value {value!r}; it must be >= 0 and finite.")
    return value


def _failure_message(tags: dict[str, str]) -> str:
    if tags.get("error"):
        return tags["error"]
    status = tags.get("status") or "?"
    code = f" (error_code {tags['error_code']})" if tags.get("error_code") else ""
    return f"HTTP {status}{code}"


def _failures_from_status(run: ParsedRun) -> None:
    """Old k6 (< v0.31) has no http_req_failed: count status 0 and >= 400 as failures."""
    failed = sum(
        n
        for code, n in run.status_codes.items()
        if code.isdigit() and len(code) <= 3 and (int(code) >= 400 or int(code) == 0)
    )
    run.summary.failures = failed
    run.summary.error_rate = error_rate(run.summary.requests, failed)
    for endpoint in run.endpoints:
        endpoint.failures = None
    for point in run.timeseries:
        point.error_rate = None
    run.notes.append(
        "No http_req_failed samples (k6 < v0.31): failures = responses with status 0 or >= 400."
    )


SAMPLE_METRICS = frozenset({"http_reqs", "http_req_duration", "http_req_failed", "vus"})


def parse_ndjson(sources: list[Source]) -> ParsedRun:
    """k6 ``--out json`` NDJSON, one line at a time; raises ParseError.

    Every Point line is checked and extends the run's time span; only the metrics in
    SAMPLE_METRICS are aggregated. This is the hot path of the biggest uploads (k6 writes
    about 14 lines per request, 3 of them aggregated): see :func:`_plain_batch` for how
    most lines are checked without being decoded, and :func:`_decode_lines` for the rest.
    """
    source = _single(sources)
    samples = _K6Samples()
    times = _TimeCache(source)
    tails = _TailCache()
    last_stamp = None
    with translate_errors(source.name):
        for first, block in source.line_blocks():
            done = None
            if type(block) is str:  # lines, each followed by "\n"
                done = _plain_batch(block, first, source, samples, times, tails, last_stamp)
                block = block.split("\n")[:-1] if done is None else block
            if done is None:
                last_stamp = _decode_lines(block, first, source, samples, times, last_stamp)
            else:
                last_stamp = done[0]
    return samples.build("k6-ndjson", source)


# A Point line exactly as k6 writes it, of a metric that is not aggregated. Every character of
# a matching line is accounted for: the fixed keys in k6's order, a metric name and a time
# without escapes or control characters (so the text is the decoded string), a JSON number,
# and the tags, which must be valid JSON on their own (checked apart). Such a line is the
# object {"metric": name, "type": "Point", "data": {"time": time, "value": number, "tags": ...}}
# and all that decoding it would do is extend the run's time span by its time.
_JSON_TEXT = r'[^"\\\x00-\x1f]*'
_PLAIN_POINTS = re.compile(
    r'\n\{"metric":"(?!(?:' + "|".join(sorted(SAMPLE_METRICS)) + r')")' + _JSON_TEXT
    + r'","type":"Point","data":\{"time":"(' + _JSON_TEXT + r')",'
    + r'"value":-?(?:0|[1-9][0-9]{0,30})(?:\.[0-9]{1,40})?(?:[eE][+-]?[0-9]{1,4})?,'
    + r'"tags":([^\n]*)\}\}(?=\n)'
)


def _plain_batch(text: str, first: int, source: Source, samples: _K6Samples,
                 times: _TimeCache, tails: _TailCache, last_stamp: Any) -> tuple[Any] | None:
    """Record a batch of lines (``text``: each followed by "\\n") with the same result as
    :func:`_decode_lines`, without decoding the plain Point lines of metrics that are not
    aggregated (``_PLAIN_POINTS``, found by one regular-expression pass over the batch):
    only the earliest and the latest of their (distinct) times are needed, as they only
    extend the time span, whose bounds do not depend on the order of the samples. The other
    lines are decoded in order.

    Returns ``(last_stamp,)``; None, having changed nothing, when a plain line's tags are not
    plain JSON or its time does not parse (the caller then reads the batch line by line). An
    error in the other lines makes it read the batch line by line too, so the error is the
    one, at the line, that reading line by line meets first."""
    parts = _PLAIN_POINTS.split("\n" + text)
    if len(parts) == 1:
        return None
    try:
        if not tails.all_valid(parts[2::3]):
            return None
        moments = [times.parse(stamp, "a line") for stamp in set(parts[1::3])]
    except ParseError:
        return None
    others = list(filter(None, "".join(parts[0::3]).split("\n")))  # "" lines: skipped anyway
    try:
        last_stamp = _decode_lines(others, first, source, samples, times, last_stamp)
    except ParseError as exc:  # the line number in it is not right: the slow path tells
        _decode_lines(text.split("\n")[:-1], first, source, samples, times, None)
        raise exc  # pragma: no cover - reading line by line meets an error too
    samples.seen(min(moments))
    samples.seen(max(moments))
    return (last_stamp,)


# A Point line exactly as k6 writes it of an aggregated metric other than vus, with a value
# that float() reads as the decoder does (no sign: "-0" would differ; bounded digits) and tags
# that are a JSON object of text values (checked apart, once per distinct text): the decoding
# path would call _sample_point with these very figures.
_PLAIN_SAMPLE = re.compile(
    r'\{"metric":"(http_reqs|http_req_duration|http_req_failed)","type":"Point","data":\{"time":"('
    + _JSON_TEXT + r')","value":((?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,17})?(?:[eE][+-]?[0-9]{1,2})?),'
    + r'"tags":(\{[^\n]*\})\}\}'
).fullmatch
_TAGS: dict[str, dict[str, str]] = {}  # tag texts -> the tags, or {} when not all text


def _text_tags(text: str) -> dict[str, str]:
    """The tags a plain sample line's tag text decodes to when they are all text, else {}
    (the line is then decoded); remembered, a bounded number of short ones."""
    try:
        tags = _fast_loads(text)
    except Exception:  # noqa: BLE001 - the line is decoded instead, which decides
        tags = {}
    if type(tags) is not dict or not set(map(type, tags.values())) <= _TEXT:
        tags = {}
    if len(text) <= MAX_TAIL_CHARS:
        if len(_TAGS) >= MAX_GOOD_TAILS:
            _TAGS.clear()
        _TAGS[text] = tags
    return tags


MAX_TAIL_CHARS = 4096
MAX_GOOD_TAILS = 256


class _TailCache:
    """Tags of plain Point lines known to be valid JSON (k6 repeats a request's tags on each
    of its lines, so most are checked once). Bounded: short ones only, cleared when full."""

    def __init__(self) -> None:
        self.good: set[str] = set()

    def all_valid(self, tails: list[str]) -> bool:
        good = self.good
        for tail in set(tails).difference(good):
            try:
                _fast_loads(tail)
            except Exception:  # noqa: BLE001 - not plain: the batch is read line by line
                return False
            if len(tail) <= MAX_TAIL_CHARS:
                if len(good) >= MAX_GOOD_TAILS:
                    good.clear()
                good.add(tail)
        return True


def _decode_lines(batch: list[str], first: int, source: Source, samples: _K6Samples,
                  times: _TimeCache, last_stamp: Any) -> Any:
    """Decode and record lines one by one; returns the time text of the last Point recorded.

    JSON is decoded by orjson when it is installed (any line it refuses goes through the
    standard decoder, so what is accepted and every message stay the same), and a Point of
    another metric with the same time as the line before (k6 writes a request's metrics
    together) needs no time parsing."""
    loads, sample_metrics, plain_sample, tag_cache = _fast_loads, SAMPLE_METRICS, _PLAIN_SAMPLE, _TAGS
    for number, line in enumerate(batch, first):
        match = plain_sample(line)
        if match is not None:  # as below for such a line, without decoding it all
            metric, stamp, value, text = match.groups()
            tags = tag_cache.get(text)
            if tags is None:
                tags = _text_tags(text)
            if tags:
                samples.add(metric, times.parse(stamp, f"line {number}"), float(value), tags,
                            f"line {number}")
                last_stamp = stamp
                continue
        try:
            obj = loads(line)
        except Exception:  # noqa: BLE001 - whatever it refuses, the standard decoder decides
            obj = _decode_line(line, number, source)
            if obj is None:
                continue
        if type(obj) is not dict:
            if not line.strip():
                continue
            raise source.fail(f"line {number} is not a JSON object.")
        if obj.get("type") != "Point":
            continue
        data, metric = obj.get("data"), obj.get("metric")
        if type(data) is dict and type(metric) is str:
            if metric not in sample_metrics:
                stamp, value = data.get("time"), data.get("value")
                if stamp == last_stamp and type(stamp) is str and (
                        type(value) is float or type(value) is int):
                    continue  # checked, and its time seen, on the line before
            else:
                tags = data.get("tags")
                kinds = set(map(type, tags.values())) if type(tags) is dict else None
                if kinds is not None and kinds <= _TEXT:  # k6 writes text tags
                    _sample_point(data, metric, number, samples, times, tags)
                    last_stamp = data.get("time")
                    continue
                if kinds and float in kinds and loads is not _DECODER.decode:
                    # orjson reads an integer beyond 64 bits as a float, which would
                    # print differently as a tag: the standard decoder reads this line
                    obj = _decode_line(line, number, source)
        _ndjson_point(obj, number, samples, times)
        last_stamp = data.get("time")
    return last_stamp


_TEXT = frozenset({str})

def _sample_point(data: dict, metric: str, number: int, samples: _K6Samples, times: _TimeCache,
                  tags: dict[str, str]) -> None:
    """:func:`_ndjson_point` for a sample metric whose tags are all text (no copy needed)."""
    value, stamp = data.get("value"), data.get("time")
    if type(value) is not float and type(value) is not int or type(stamp) is not str:
        raise ParseError(f"line {number} has no numeric “value” and textual “time”.")
    where = f"line {number}"
    t_s = times.parse(stamp, where)
    try:
        number_value = float(value)
    except OverflowError:  # an integer with hundreds of digits
        raise ParseError(f"{where} has a “value” too large to be a figure.") from None
    samples.add(metric, t_s, number_value, tags, where)


def _decode_line(line: str, number: int, source: Source) -> Any:
    """The standard decoder's verdict on one line: the object, None for a blank line, or
    ParseError."""
    if not line.strip():
        return None
    try:
        return _DECODER.decode(line)
    except (ValueError, RecursionError):  # ValueError: also an integer beyond 4300 digits
        raise source.fail(
            f"line {number} is not valid JSON; k6 --out json writes one JSON object per line."
        ) from None


def _ndjson_point(obj: dict[str, Any], number: int, samples: _K6Samples, times: _TimeCache) -> None:
    data = obj.get("data")
    metric = obj.get("metric")
    if not isinstance(data, dict) or not isinstance(metric, str):
        raise ParseError(f"line {number} is a Point without “metric” and “data”.")
    value, stamp = data.get("value"), data.get("time")
    if isinstance(value, bool) or not isinstance(value, int | float) or not isinstance(stamp, str):
        raise ParseError(f"line {number} has no numeric “value” and textual “time”.")
    t_s = times.parse(stamp, f"line {number}")
    if metric in SAMPLE_METRICS:
        where = f"line {number}"
        try:
            number_value = float(value)
        except OverflowError:  # an integer with hundreds of digits
            raise ParseError(f"{where} has a “value” too large to be a figure.") from None
        samples.add(metric, t_s, number_value, _tags(data.get("tags"), where), where)
    else:
        samples.seen(t_s)


_DECODER = json.JSONDecoder(parse_constant=lambda token: _no_constants(token))
try:  # optional: about four times faster; refuses NaN/Infinity and oversized integers too
    import orjson

    _fast_loads: Any = orjson.loads
except ImportError:  # pragma: no cover - depends on what is installed
    _fast_loads = _DECODER.decode


def _no_constants(token: str) -> Any:
    raise json.JSONDecodeError(f"{token} is not allowed", token, 0)


def _tags(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    tags = as_dict(raw, f"{where} tags")
    return {k: v if isinstance(v, str) else str(v) for k, v in tags.items()}


class _TimeCache:
    """RFC 3339 → epoch seconds; k6 writes many samples with the same time string."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._last_text = ""
        self._last_value = 0.0

    def parse(self, text: str, where: str) -> float:
        if text != self._last_text:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise ParseError(
                    f"{where} has the time {text[:40]!r}, which is not RFC 3339."
                ) from None
            if moment.tzinfo is None:
                raise ParseError(f"{where} has the time {text[:40]!r} without a time zone.")
            self._last_text, self._last_value = text, moment.timestamp()
        return self._last_value


K6_CSV_COLUMNS = ["metric_name", "timestamp", "metric_value"]


def parse_csv(sources: list[Source]) -> ParsedRun:
    """k6 ``--out csv`` rows (any tag columns, any timestamp format); raises ParseError."""
    source = _single(sources)
    samples = _K6Samples()
    times = _TimeCache(source)
    tag_names = ("method", "name", "url", "status", "error", "error_code")
    with translate_errors(source.name):
        for number, row in records(source, K6_CSV_COLUMNS, "k6 CSV"):
            metric = row["metric_name"]
            if metric not in ("http_reqs", "http_req_duration", "http_req_failed", "vus"):
                continue
            value = to_float(row["metric_value"], at(number, "metric_value"))
            assert value is not None
            t_s = _csv_time(row["timestamp"], number, times)
            tags = {name: row[name] for name in tag_names if row.get(name)}
            samples.add(metric, t_s, value, tags, f"row {number}")
    return samples.build("k6-csv", source)


def _csv_time(text: str, number: int, times: _TimeCache) -> float:
    """Unix s/ms/µs/ns (told apart by magnitude) or RFC 3339 text."""
    text = text.strip()
    if text.isdigit() and len(text) <= 20:
        value = int(text)
        for limit, divisor in ((1e11, 1), (1e14, 1e3), (1e17, 1e6)):
            if value < limit:
                return value / divisor
        return value / 1e9
    return times.parse(text, at(number, "timestamp"))
