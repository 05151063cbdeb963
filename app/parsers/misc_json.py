"""Go/Rust load generators with summary reports: vegeta (JSON and text), oha, bombardier.

All three report aggregate figures only, used as the tool printed them after unit conversion
(vegeta: nanoseconds or Go duration strings, oha: seconds, bombardier: microseconds).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from app.parsers.model import Latency, ParsedRun, ParseError, Summary, error_rate
from app.parsers.streams import Source, check_json_size, translate_errors
from app.parsers.tables import parse_iso_datetime
from app.parsers.values import as_dict, as_list, as_text, scaled, to_float, to_fraction, to_int

NS_TO_MS = 1e-6
DEADLINE_ABORT = "aborted due to deadline"


def _single(sources: list[Source]) -> Source:
    if len(sources) != 1:
        raise ParseError("This format is a single file; upload one file per run.")
    return sources[0]


# -- vegeta ------------------------------------------------------------------------------------
def parse_vegeta_json(sources: list[Source]) -> ParsedRun:
    """``vegeta report -type=json``; durations are integer nanoseconds. Raises ParseError."""
    source = _single(sources)
    data = as_dict(source.read_json(), "the top level")
    with translate_errors(source.name):
        latencies = as_dict(data.get("latencies"), "“latencies”")

        def lat(key: str) -> float | None:
            return scaled(
                to_float(latencies.get(key), f"latencies “{key}”", optional=True), NS_TO_MS
            )

        requests = to_int(data.get("requests"), "“requests”")
        success = to_fraction(data.get("success"), "“success”", optional=True)
        failures = round((requests or 0) * (1 - success)) if success is not None else None
        run = ParsedRun(format="vegeta-json", tool="vegeta")
        run.summary = Summary(
            requests=requests,
            failures=failures,
            error_rate=round(1 - success, 12) if success is not None else None,
            rps=to_float(data.get("rate"), "“rate”", optional=True),
            duration_s=scaled(to_float(data.get("duration"), "“duration”", optional=True), 1e-9),
            latency_ms=Latency(
                avg=lat("mean"),
                min=lat("min"),
                p50=lat("50th"),
                p90=lat("90th"),
                p95=lat("95th"),
                p99=lat("99th"),
                max=lat("max"),
            ),
        )
        run.status_codes = {
            str(code): to_int(n, f"status_codes[{code!r}]") or 0
            for code, n in as_dict(data.get("status_codes", {}), "“status_codes”").items()
        }
        _vegeta_errors(as_list(data.get("errors") or [], "“errors”"), run)
        earliest = data.get("earliest")
        if isinstance(earliest, str) and earliest:
            run.started_at = parse_iso_datetime(earliest, source, "“earliest”")
    _vegeta_methods(run)
    return run


def _vegeta_methods(run: ParsedRun) -> None:
    run.percentile_method = "reported by vegeta: t-digest estimates"
    run.rps_method = "reported by vegeta: rate = requests / attack duration (offered load)"
    run.notes.append("error_rate = 1 − success (responses outside 200–399 and transport errors).")


def _vegeta_errors(errors: list[Any], run: ParsedRun) -> None:
    """vegeta lists distinct error messages without counts; they go to the notes."""
    texts = [str(e) for e in errors if e]
    if texts:
        shown = "; ".join(t[:200] for t in texts[:20])
        run.notes.append(
            f"vegeta reported {len(texts)} distinct error message(s) (no counts): {shown}"
        )


_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h)")
_GO_UNITS_MS = {
    "ns": 1e-6,
    "us": 1e-3,
    "µs": 1e-3,
    "μs": 1e-3,
    "ms": 1.0,
    "s": 1e3,
    "m": 60e3,
    "h": 3600e3,
}


def go_duration_ms(text: str, what: str) -> float:
    """A Go duration string (``1m2.5s``, ``229.4µs``, ``0s``) in milliseconds; raises ParseError."""
    text = text.strip()
    parts = _GO_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        if text == "0":
            return 0.0
        raise ParseError(f"{what} is {text[:30]!r}, not a duration such as 1.5ms.")
    total = sum(float(n) * _GO_UNITS_MS[u] for n, u in parts)
    if not math.isfinite(total):
        raise ParseError(f"{what} is {text[:30]!r}, too long to be a duration.")
    return round(total, 9)


def parse_vegeta_text(sources: list[Source]) -> ParsedRun:
    """``vegeta report`` text: bracketed labels give the order of the values. Raises ParseError."""
    source = _single(sources)
    text = source.read_document()
    with translate_errors(source.name):
        rows = _vegeta_rows(text)
        if "Requests" not in rows:
            raise ParseError(
                "has no “Requests [total, rate, …]” line; the vegeta report is incomplete."
            )
        if "Latencies" not in rows or "Error Set:" not in text:
            raise ParseError(
                "has no “Latencies” line or no “Error Set:” (vegeta prints both in every "
                "report); the vegeta report is incomplete."
            )
        requests = to_int(rows["Requests"].get("total"), "Requests total")
        success_text = rows.get("Success", {}).get("ratio", "").rstrip("%")
        success = to_float(success_text, "Success ratio", optional=True)
        success = to_fraction(success / 100, "Success ratio") if success is not None else None
        lat = rows.get("Latencies", {})
        duration = rows.get("Duration", {})

        def ms(key: str) -> float | None:
            return go_duration_ms(lat[key], f"Latencies {key}") if key in lat else None

        run = ParsedRun(format="vegeta-text", tool="vegeta")
        run.summary = Summary(
            requests=requests,
            failures=round((requests or 0) * (1 - success)) if success is not None else None,
            error_rate=round(1 - success, 12) if success is not None else None,
            rps=to_float(rows["Requests"].get("rate"), "Requests rate", optional=True),
            duration_s=go_duration_ms(duration["attack"], "Duration attack") / 1000
            if "attack" in duration
            else None,
            latency_ms=Latency(
                avg=ms("mean"),
                min=ms("min"),
                p50=ms("50"),
                p90=ms("90"),
                p95=ms("95"),
                p99=ms("99"),
                max=ms("max"),
            ),
        )
        run.status_codes = _vegeta_codes(text)
        _vegeta_errors(_vegeta_error_set(text), run)
    _vegeta_methods(run)
    return run


def _vegeta_rows(text: str) -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    for match in re.finditer(r"^(\w+(?: \w+)*)[ \t]+\[([^\]\n]+)\][ \t]+(.*)$", text, re.M):
        labels = [label.strip() for label in match[2].split(",")]
        values = [value.strip() for value in match[3].split(",")]
        rows[match[1].strip()] = dict(zip(labels, values, strict=False))
    return rows


def _vegeta_codes(text: str) -> dict[str, int]:
    line = re.search(r"^Status Codes\s+\[code:count\]\s+(.*)$", text, re.M)
    if not line:
        return {}
    return {
        code: to_int(n, f"the count of status {code[:10]}") or 0
        for code, n in re.findall(r"(\d+):(\d+)", line[1])
    }


def _vegeta_error_set(text: str) -> list[str]:
    start = text.find("Error Set:")
    if start < 0:
        return []
    return [line.strip() for line in text[start:].splitlines()[1:] if line.strip()]


# -- oha --------------------------------------------------------------------------------------
def parse_oha(sources: list[Source]) -> ParsedRun:
    """oha JSON (``-j`` / ``--output-format json``); times are seconds. Raises ParseError."""
    source = _single(sources)
    data = as_dict(source.read_json(), "the top level")
    envelope = data.get("stdout")
    if (
        "summary" not in data
        and isinstance(envelope, dict)
        and isinstance(envelope.get("value"), str)
    ):
        data = as_dict(source.read_json(envelope["value"]), "the wrapped oha output")
    with translate_errors(source.name):
        return _oha_run(data)


def _oha_run(data: dict[str, Any]) -> ParsedRun:
    summary = as_dict(data.get("summary"), "“summary”")
    percentiles = as_dict(data.get("latencyPercentiles") or {}, "“latencyPercentiles”")

    def seconds(container: dict[str, Any], key: str, what: str) -> float | None:
        return scaled(to_float(container.get(key), what, optional=True), 1000.0)

    codes = {
        str(code): to_int(n, f"statusCodeDistribution[{code!r}]") or 0
        for code, n in as_dict(
            data.get("statusCodeDistribution") or {}, "“statusCodeDistribution”"
        ).items()
    }
    errors = {
        str(msg): to_int(n, "errorDistribution count") or 0
        for msg, n in as_dict(data.get("errorDistribution") or {}, "“errorDistribution”").items()
    }
    real_errors = sum(n for msg, n in errors.items() if msg != DEADLINE_ABORT)
    requests = sum(codes.values()) + real_errors
    failures = (
        sum(
            n
            for code, n in codes.items()
            if not code.isdigit() or len(code) > 3 or int(code) >= 400
        )
        + real_errors
    )
    run = ParsedRun(format="oha-json", tool="oha", status_codes=codes, errors=errors)
    run.summary = Summary(
        requests=requests,
        failures=failures,
        error_rate=error_rate(requests, failures),
        rps=to_float(summary.get("requestsPerSec"), "summary “requestsPerSec”", optional=True),
        duration_s=to_float(summary.get("total"), "summary “total”", optional=True),
        latency_ms=Latency(
            avg=seconds(summary, "average", "summary “average”"),
            min=seconds(summary, "fastest", "summary “fastest”"),
            p50=seconds(percentiles, "p50", "latencyPercentiles p50"),
            p90=seconds(percentiles, "p90", "latencyPercentiles p90"),
            p95=seconds(percentiles, "p95", "latencyPercentiles p95"),
            p99=seconds(percentiles, "p99", "latencyPercentiles p99"),
            max=seconds(summary, "slowest", "summary “slowest”"),
        ),
    )
    run.percentile_method = "reported by oha: sorted latencies, index floor(p·n)"
    run.rps_method = "reported by oha: all results incl. errors / total time"
    if errors.get(DEADLINE_ABORT):
        run.notes.append(
            f"{errors[DEADLINE_ABORT]} request(s) aborted at the -z deadline are not "
            "counted as requests."
        )
    return run


# -- bombardier --------------------------------------------------------------------------------
def parse_bombardier(sources: list[Source]) -> ParsedRun:
    """bombardier ``-o json`` (maybe after intro lines); µs latencies. Raises ParseError."""
    source = _single(sources)
    text = source.read_document()
    start = text.find('{"spec"')
    start = start if start >= 0 else text.find("{")
    if start < 0:
        raise source.fail("has no JSON object; run bombardier with -o json (and -p r).")
    check_json_size(text, source)
    try:
        data, _ = json.JSONDecoder(parse_constant=_no_constant).raw_decode(text, start)
    except (ValueError, RecursionError):  # ValueError: also an integer beyond 4300 digits
        raise source.fail(
            "does not hold a complete bombardier JSON object; it may be cut short."
        ) from None
    with translate_errors(source.name):
        return _bombardier_run(as_dict(data, "the top level"))


def _no_constant(token: str) -> Any:
    raise json.JSONDecodeError(f"{token} is not allowed", token, 0)


def _bombardier_run(data: dict[str, Any]) -> ParsedRun:
    spec = as_dict(data.get("spec", {}), "“spec”")
    result = as_dict(data.get("result"), "“result”")
    classes = {
        key: to_int(result.get(key, 0), f"result “{key}”") or 0
        for key in ("req1xx", "req2xx", "req3xx", "req4xx", "req5xx", "others")
    }
    requests = sum(classes.values())
    failures = classes["req4xx"] + classes["req5xx"] + classes["others"]
    taken = to_float(result.get("timeTakenSeconds"), "result “timeTakenSeconds”", optional=True)
    latency = as_dict(result.get("latency", {}), "result “latency”")
    pcts = as_dict(latency.get("percentiles") or {}, "latency “percentiles”")

    def us(container: dict[str, Any], key: str) -> float | None:
        return scaled(to_float(container.get(key), f"latency “{key}”", optional=True), 1e-3)

    run = ParsedRun(format="bombardier-json", tool="bombardier")
    run.status_codes = {
        key[3:] if key.startswith("req") else key: n for key, n in classes.items() if n
    }
    for i, raw in enumerate(as_list(result.get("errors") or [], "result “errors”")):
        item = as_dict(raw, f"errors[{i}]")
        run.errors[as_text(item.get("description"), "error description") or "error"] = (
            to_int(item.get("count"), "error count") or 0
        )
    run.summary = Summary(
        requests=requests,
        failures=failures,
        error_rate=error_rate(requests, failures),
        rps=requests / taken if taken else None,
        duration_s=taken,
        concurrency=to_int(
            spec.get("numberOfConnections"), "spec “numberOfConnections”", optional=True
        ),
        latency_ms=Latency(
            avg=us(latency, "mean"),
            p50=us(pcts, "50"),
            p90=us(pcts, "90"),
            p95=us(pcts, "95"),
            p99=us(pcts, "99"),
            max=us(latency, "max"),
        ),
    )
    run.rps_method = (
        "recomputed: (1xx+2xx+3xx+4xx+5xx+others) / timeTakenSeconds "
        "(bombardier's rps block is per-interval)"
    )
    run.percentile_method = "reported by bombardier (-l): microsecond histogram"
    return run
