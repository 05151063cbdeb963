"""Text reports printed by wrk, wrk2, ApacheBench and hey, plus hey's per-request CSV.

These reports are small, so they are read whole (capped) and matched line by line with
anchored regexes; figures the tool does not print stay None (wrk has no p95, hey no
concurrency). Units are converted to milliseconds (FORMATS.md §5–7).
"""

from __future__ import annotations

import math
import re

from app.parsers.model import Latency, ParsedRun, ParseError, Summary, error_rate
from app.parsers.samples import RunAccumulator
from app.parsers.streams import Source, translate_errors
from app.parsers.tables import at, records
from app.parsers.values import req_float, scaled, to_float, to_int

TIME_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
NAN_TOKENS = {"nan", "-nan", "NaN", "-NaN"}
_TIME = re.compile(r"^(?P<value>\d+(?:\.\d+)?)(?P<unit>us|ms|s|m|h)$")


def _single(sources: list[Source]) -> Source:
    if len(sources) != 1:
        raise ParseError("This format is a single file; upload one file per run.")
    return sources[0]


def _search(pattern: str, text: str) -> re.Match[str] | None:
    return re.search(pattern, text, re.M)


def _duration_ms(token: str, what: str) -> float | None:
    """``1.73s`` / ``17.00us`` / ``-nan`` → milliseconds (None for nan); raises ParseError."""
    token = token.strip()
    if token in NAN_TOKENS:
        return None
    match = _TIME.match(token)
    if match is None:
        raise ParseError(f"{what} is {token[:20]!r}, not a duration such as 1.5ms.")
    return scaled(float(match["value"]), TIME_UNITS_MS[match["unit"]])


# -- wrk / wrk2 ---------------------------------------------------------------------------------
def parse_wrk(sources: list[Source]) -> ParsedRun:
    """wrk 4.x or wrk2 output with ``--latency``; raises ParseError."""
    source = _single(sources)
    text = source.read_document()
    with translate_errors(source.name):
        return _wrk_run(text)


def _wrk_run(text: str) -> ParsedRun:
    if "unable to connect to" in text:
        raise ParseError("says wrk was unable to connect to the server, so the run has no results.")
    done = _search(r"^[ \t]*(\d+) requests in (\S+?), ", text)
    rate = _search(r"^Requests/sec:\s*(\S+)", text)
    if done is None or rate is None:
        raise ParseError(
            "has no “N requests in T” and “Requests/sec:” lines; the wrk output is incomplete "
            "(paste everything wrk printed)."
        )
    wrk2 = "HdrHistogram" in text or "Percentile spectrum" in text or "Thread calibration" in text
    requests = to_int(done[1], "the request count") or 0
    run = ParsedRun(format="wrk2" if wrk2 else "wrk", tool="wrk2" if wrk2 else "wrk")
    errors = _wrk_errors(text)
    run.errors = errors
    connect = errors.get("socket errors: connect", 0)
    failures = sum(errors.values())
    threads = _search(r"^[ \t]*(\d+) threads and (\d+) connections", text)
    duration = _duration_ms(done[2], "the run time")
    run.summary = Summary(
        requests=requests,
        failures=failures,
        error_rate=min(failures / (requests + connect), 1.0) if requests + connect else None,
        rps=to_float(rate[1], "Requests/sec", optional=True) if rate[1] not in NAN_TOKENS else None,
        duration_s=duration / 1000 if duration is not None else None,
        concurrency=to_int(threads[2], "connections") if threads else None,
        latency_ms=_wrk_latency(text, wrk2),
    )
    run.rps_method = "reported by wrk: requests / runtime"
    run.percentile_method = (
        "reported by wrk2: HdrHistogram of latency from the intended send time (corrected)"
        if wrk2
        else "reported by wrk: 1 µs histogram with coordinated-omission correction; no p95 printed"
    )
    run.notes.append(
        "error_rate ≈ (socket errors + non-2xx/3xx) ÷ (requests + connect errors), "
        "as wrk counts them apart."
    )
    return run


def _wrk_errors(text: str) -> dict[str, int]:
    errors: dict[str, int] = {}
    socket = _search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if socket:
        for name, value in zip(
            ("connect", "read", "write", "timeout"), socket.groups(), strict=True
        ):
            if count := to_int(value, f"the {name} socket error count"):
                errors[f"socket errors: {name}"] = count
    non_2xx = _search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non_2xx and (count := to_int(non_2xx[1], "the non-2xx or 3xx count")):
        errors["non-2xx or 3xx responses"] = count
    return errors


def _wrk_latency(text: str, wrk2: bool) -> Latency:
    row = _search(r"^[ \t]*Latency[ \t]+(\S+)[ \t]+(\S+)[ \t]+(\S+)[ \t]+\S+[ \t\r]*$", text)
    percentiles = _wrk_percentiles(text)
    spectrum = _wrk2_spectrum(text) if wrk2 else {}
    return Latency(
        avg=_duration_ms(row[1], "the average latency") if row else None,
        min=spectrum.get(0.0),
        p50=percentiles.get(50.0),
        p90=percentiles.get(90.0),
        p95=percentiles.get(95.0, spectrum.get(0.95)),
        p99=percentiles.get(99.0),
        max=_duration_ms(row[3], "the maximum latency") if row else None,
    )


def _wrk_percentiles(text: str) -> dict[float, float]:
    """The first "Latency Distribution" block (wrk2 -U prints an uncorrected second one)."""
    start = text.find("Latency Distribution")
    if start < 0:
        return {}
    result: dict[float, float] = {}
    for line in text[start:].splitlines()[1:]:
        match = re.match(r"^\s*(\d+(?:\.\d+)?)%\s+(\S+)\s*$", line)
        if match is None:
            break
        value = _duration_ms(match[2], f"the {match[1]}% latency")
        if value is not None:
            result[float(match[1])] = value
    return result


def _wrk2_spectrum(text: str) -> dict[float, float]:
    """Rows ``value(ms) percentile count 1/(1-p)`` of the first detailed spectrum."""
    start = text.find("Detailed Percentile spectrum")
    if start < 0:
        return {}
    rows: dict[float, float] = {}
    for line in text[start:].splitlines()[1:]:
        if line.startswith("#[") or line.startswith("----"):
            break
        match = re.match(r"^\s*(\d+\.\d+)\s+(\d\.\d+)\s+\d+\s+(?:\d+\.\d+|inf)\s*$", line)
        if match:
            rows.setdefault(round(float(match[2]), 6), float(match[1]))
    return rows


# -- ApacheBench ------------------------------------------------------------------------------
def parse_ab(sources: list[Source]) -> ParsedRun:
    """ab 2.3 output; raises ParseError."""
    source = _single(sources)
    text = source.read_document()
    with translate_errors(source.name):
        return _ab_run(text)


def _ab_field(text: str, label: str) -> str | None:
    match = _search(rf"^{re.escape(label)}:\s+(\S+)", text)
    return match[1] if match else None


def _ab_count(text: str, label: str) -> int:
    return to_int(_ab_field(text, label), f"“{label}”", optional=True) or 0


def _ab_run(text: str) -> ParsedRun:
    complete = _ab_field(text, "Complete requests")
    taken = _ab_field(text, "Time taken for tests")
    if complete is None or taken is None:
        raise ParseError(
            "has no “Complete requests:” line; the ab output is incomplete "
            "(paste everything ab printed)."
        )
    version = _search(r"This is ApacheBench, Version (\S+)", text)
    run = ParsedRun(format="ab", tool="ab", tool_version=version[1] if version else None)
    requests = to_int(complete, "“Complete requests”") or 0
    failures = _ab_failures(text, run)
    rps = _ab_field(text, "Requests per second")
    level = _ab_field(text, "Concurrency Level")
    run.summary = Summary(
        requests=requests,
        failures=failures,
        error_rate=error_rate(requests, failures),
        rps=to_float(rps, "“Requests per second”", optional=True),
        duration_s=to_float(taken, "“Time taken for tests”"),
        concurrency=to_int(level, "“Concurrency Level”", optional=True),
        latency_ms=_ab_latency(text),
    )
    run.rps_method = "reported by ab: complete requests / time taken"
    run.percentile_method = "reported by ab: sorted request times, whole milliseconds"
    return run


def _ab_failures(text: str, run: ParsedRun) -> int:
    """(Failed − Length) + Non-2xx, as FORMATS.md §6 derives it; fills ``run.errors``."""
    kinds = ("connect", "receive", "length", "exceptions")
    breakdown = _search(
        r"\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)", text
    )
    parts = (
        {kind: to_int(n, f"the {kind} failure count") or 0
         for kind, n in zip(kinds, breakdown.groups(), strict=True)}
        if breakdown
        else {}
    )
    non_2xx = _ab_count(text, "Non-2xx responses")
    run.errors = {f"failed ({name})": n for name, n in parts.items() if n}
    if non_2xx:
        run.errors["non-2xx responses"] = non_2xx
    if _ab_count(text, "Write errors"):
        run.errors["write errors"] = _ab_count(text, "Write errors")
    if parts.get("length"):
        run.notes.append(
            "Length failures are not counted: ab flags any body-length change, "
            "normal for dynamic pages."
        )
    return max(_ab_count(text, "Failed requests") - parts.get("length", 0), 0) + non_2xx


def _ab_latency(text: str) -> Latency:
    """The Total row of "Connection Times" (by column name) and the percentage table."""
    header = _search(r"^[ \t]+min[ \t]+(.*)$", text)
    total = _search(r"^Total:\s+(.*)$", text)
    columns: dict[str, float] = {}
    if header and total:
        names = ["min"]
        for token in header[1].split():
            names += ["mean", "sd"] if token.startswith("mean[") else [token]
        for name, value in zip(names, total[1].split(), strict=False):
            columns[name] = req_float(value, f"the Total {name} connection time")
    served = _ab_served(text)
    return Latency(
        avg=columns.get("mean", columns.get("avg")),
        min=columns.get("min"),
        p50=served.get(50, columns.get("median")),
        p90=served.get(90),
        p95=served.get(95),
        p99=served.get(99),
        max=columns.get("max", served.get(100)),
    )


def _ab_served(text: str) -> dict[int, float]:
    start = text.find("Percentage of the requests")
    if start < 0:
        return {}
    rows = re.finditer(r"^[ \t]*(\d+)%[ \t]+(\d+(?:\.\d+)?)", text[start:], re.M)
    return {
        int(m[1]): req_float(m[2], f"the {m[1]}% time") for m in rows if len(m[1]) <= 3
    }


# -- hey ---------------------------------------------------------------------------------------
def _is_error_status(code: str) -> bool:
    """An HTTP status text that counts as a failure (>= 400, or not a status number at all)."""
    return not (code.isascii() and code.isdigit() and len(code) <= 3) or int(code) >= 400


def parse_hey(sources: list[Source]) -> ParsedRun:
    """hey's default text summary; raises ParseError."""
    source = _single(sources)
    text = source.read_document()
    with translate_errors(source.name):
        return _hey_run(text)


def _hey_seconds(text: str, label: str) -> float | None:
    match = _search(rf"^[ \t]*{re.escape(label)}:[ \t]*(\S+)", text)
    if match is None or match[1] in NAN_TOKENS:
        return None
    return to_float(match[1], f"“{label}”")


def _hey_section(text: str, title: str) -> list[str]:
    start = text.find(title)
    if start < 0:
        return []
    lines = []
    for line in text[start + len(title) :].splitlines()[1:]:
        if not line.strip():
            break
        lines.append(line)
    return lines


def _hey_run(text: str) -> ParsedRun:
    if "Summary:" not in text or _search(r"^[ \t]*Total:", text) is None:
        raise ParseError("has no “Summary:” block with “Total:”; the hey output is incomplete.")
    if "Status code distribution:" not in text and "Error distribution:" not in text:
        raise ParseError(
            "has no “Status code distribution:” (or “Error distribution:”) block; the hey "
            "output is incomplete or the run made no requests."
        )
    run = ParsedRun(format="hey", tool="hey")
    requests, failures = _hey_counts(text, run)
    run.summary = Summary(
        requests=requests,
        failures=failures,
        error_rate=error_rate(requests, failures),
        rps=_hey_seconds(text, "Requests/sec"),
        duration_s=_hey_seconds(text, "Total"),
        latency_ms=_hey_latency(text),
    )
    run.rps_method = "reported by hey: all results including errors / total time"
    run.percentile_method = (
        "reported by hey: sorted latencies of successful requests (first 1,000,000)"
    )
    return run


def _hey_counts(text: str, run: ParsedRun) -> tuple[int, int]:
    """Requests = responses + transport errors; failures = errors + status >= 400."""
    for line in _hey_section(text, "Status code distribution:"):
        match = re.match(r"^\s*\[(\d+)\]\s+(\d+) responses", line)
        if match:
            count = to_int(match[2], f"the count of status {match[1][:10]}") or 0
            run.status_codes[match[1]] = run.status_codes.get(match[1], 0) + count
    for line in _hey_section(text, "Error distribution:"):
        match = re.match(r"^\s*\[(\d+)\]\s+(.*)$", line)
        if match:
            count = to_int(match[1], "an error count") or 0
            run.errors[match[2].strip()] = run.errors.get(match[2].strip(), 0) + count
    transport = sum(run.errors.values())
    http_errors = sum(n for code, n in run.status_codes.items() if _is_error_status(code))
    if http_errors:
        run.errors["HTTP status >= 400"] = http_errors
    return sum(run.status_codes.values()) + transport, http_errors + transport


def _hey_latency(text: str) -> Latency:
    """Summary seconds and the "Latency distribution" lines, in milliseconds."""
    percentiles = {
        int(m[1]): scaled(req_float(m[2], f"the {m[1][:3]}% latency"), 1000.0)
        for m in re.finditer(r"^[ \t]*(\d{1,3})%+ in (\d+(?:\.\d+)?) secs", text, re.M)
    }

    def ms(label: str) -> float | None:
        value = _hey_seconds(text, label)
        return scaled(value, 1000.0)

    return Latency(
        avg=ms("Average"),
        min=ms("Fastest"),
        p50=percentiles.get(50),
        p90=percentiles.get(90),
        p95=percentiles.get(95),
        p99=percentiles.get(99),
        max=ms("Slowest"),
    )


def parse_hey_csv(sources: list[Source]) -> ParsedRun:
    """hey ``-o csv``: one row per successful response (seconds); raises ParseError."""
    source = _single(sources)
    acc = RunAccumulator()
    with translate_errors(source.name):
        for number, row in records(source, ["response-time", "status-code", "offset"], "hey CSV"):
            latency = req_float(row["response-time"], at(number, "response-time"))
            offset = req_float(row["offset"], at(number, "offset"))
            status = row["status-code"].strip()
            key = (None, "(all requests)")
            end, ms = offset + latency, latency * 1000
            if end == math.inf or ms == math.inf:
                raise source.fail(f"row {number} has a time too large to be a measurement.")
            acc.span(offset, end)
            acc.request(offset, key, status=status)
            acc.latency(offset, key, ms)
            if _is_error_status(status):
                acc.failure(offset, key, message=f"HTTP {status}")
    run = ParsedRun(
        format="hey-csv", tool="hey", rps_method="recomputed: responses / (last end − first start)"
    )
    acc.fill(run)
    run.endpoints = []
    run.notes.append("hey's CSV lists successful responses only: transport errors are not in it.")
    return run
