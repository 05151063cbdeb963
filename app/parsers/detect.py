"""Which tool wrote a file, decided from its content (the name is never trusted).

Each file's first 64 KiB (after gunzip) is matched against the signatures listed in
FORMATS.md §11. A run may consist of several files (Locust's CSV set), so files sniff to a
*kind* and kinds map to one format id; files of different formats in one run are refused.
"""

from __future__ import annotations

import re
import struct

from app.parsers.formats import FORMATS, accepted_list
from app.parsers.model import InputFile, ParseError
from app.parsers.streams import ReadContext, Source, decode_head

#: kinds that are parts of one Locust CSV run; every other kind is its own format id
LOCUST_CSV_KINDS = {
    "locust-stats": "Type,Name,Request Count,Failure Count",
    "locust-history": "Timestamp,User Count,Type,Name",
    "locust-failures": "Method,Name,Error,Occurrences",
    "locust-exceptions": "Count,Message,Traceback,Nodes",
}

_JSON_KEY = r'"{}"\s*:'
_K6_LINE = re.compile(r'"type"\s*:\s*"(?:Metric|Point)"')
_K6_TYPED_METRIC = re.compile(r'"type"\s*:\s*"(?:trend|counter|rate|gauge)"')
_JMETER_EPOCH_ROW = re.compile(r"^\d{13},")
_GATLING_VERSION = re.compile(rb"\d+\.\d+")


def kind_to_format(kind: str) -> str:
    """The format id a sniffed kind belongs to."""
    return "locust-csv" if kind in LOCUST_CSV_KINDS else kind


def sniff(source: Source) -> str | None:
    """The kind of one file, or None if no signature matches; raises ParseError (bad gzip)."""
    head = source.head()
    if _is_gatling_binary(head):
        return "gatling-binary-log"
    text = decode_head(head)
    if text is None:
        return None
    text = text.lstrip("\ufeff \t\r\n")
    first_line = text.split("\n", 1)[0].rstrip("\r")
    for sniffer in (_sniff_csv_header, _sniff_json, _sniff_markup, _sniff_text):
        kind = sniffer(text, first_line)
        if kind:
            return kind
    return None


def _is_gatling_binary(head: bytes) -> bool:
    """Gatling 3.13+ binary log: record 0x00, then an int32 length and a version string."""
    if len(head) < 9 or head[0] != 0:
        return False
    (length,) = struct.unpack(">i", head[1:5])
    return 3 <= length <= 32 and _GATLING_VERSION.match(head[5 : 5 + length]) is not None


def _sniff_csv_header(text: str, first_line: str) -> str | None:
    for kind, prefix in LOCUST_CSV_KINDS.items():
        if first_line.startswith(prefix):
            return kind
    if first_line.startswith("metric_name,timestamp,metric_value"):
        return "k6-csv"
    if first_line.startswith("response-time,DNS+dialup,"):
        return "hey-csv"
    columns = {c.strip().strip('"') for c in first_line.split(",")}
    if {"timeStamp", "elapsed", "label"} <= columns or _JMETER_EPOCH_ROW.match(first_line):
        return "jmeter-csv"
    if first_line.startswith(("RUN\t", "ASSERTION\t")) or re.search(r"^REQUEST\t", text, re.M):
        return "gatling-log"
    return None


def _has(text: str, *keys: str) -> bool:
    return all(re.search(_JSON_KEY.format(re.escape(k)), text) for k in keys)


def _sniff_json(text: str, first_line: str) -> str | None:
    if text.startswith("["):
        return "locust-json" if _has(text, "num_requests") else None
    if text.startswith("var stats") and _has(text, "numberOfRequests"):
        return "gatling-json"
    if not text.startswith("{"):
        return (
            "bombardier-json" if '{"spec":' in text and _has(text, "numberOfConnections") else None
        )
    if _K6_LINE.search(first_line) and _has(first_line, "metric"):
        return "k6-ndjson"
    return _sniff_json_object(text)


def _sniff_json_object(text: str) -> str | None:
    if _has(text, "k6Version") or (_has(text, "version", "results") and _has(text, "metrics")):
        return "k6-summary-v1"
    if _has(text, "metrics") and (_has(text, "root_group") or "http_req" in text):
        typed = _has(text, "testRunDurationMs") or _K6_TYPED_METRIC.search(text)
        return "k6-handle-summary" if typed else "k6-summary-export"
    checks = [
        ("gatling-json", ("numberOfRequests",)),
        ("jmeter-dashboard", ("sampleCount", "errorPct")),
        ("vegeta-json", ("latencies", "status_codes")),
        ("oha-json", ("latencyPercentiles",)),
        ("oha-json", ("successRate",)),
        ("bombardier-json", ("numberOfConnections",)),
        ("bombardier-json", ("req2xx",)),
    ]
    for kind, keys in checks:
        if _has(text, *keys):
            return kind
    if '\\"successRate\\"' in text:  # oha JSON wrapped in an envelope as an escaped string
        return "oha-json"
    return None


def _sniff_markup(text: str, first_line: str) -> str | None:
    if not text.startswith("<"):
        return None
    if "<testResults" in text:
        return "jmeter-xml"
    lowered = text[:4096].lower()
    if "window.templateArgs" in text or ("<html" in lowered and "locust" in lowered):
        return "locust-html"
    return None


def _sniff_text(text: str, first_line: str) -> str | None:
    if re.search(r"Running \S+ test @", text) and "Thread Stats" in text:
        wrk2 = (
            "HdrHistogram" in text or "Thread calibration" in text or "Percentile spectrum" in text
        )
        return "wrk2" if wrk2 else "wrk"
    if "This is ApacheBench" in text or (
        "Complete requests:" in text and "Requests per second:" in text
    ):
        return "ab"
    if (
        "Summary:" in text
        and "Requests/sec:" in text
        and (
            "Latency distribution:" in text
            or "Status code distribution:" in text
            or "Error distribution:" in text
        )
    ):
        return "hey"
    if re.search(r"^Requests\s+\[total, rate", text, re.M):
        return "vegeta-text"
    return None


def describe_unknown(source: Source) -> str:
    """Why a file matched no signature, as the start of a sentence."""
    head = source.head()
    if not head.removeprefix(b"\xef\xbb\xbf").strip():  # nothing, or only a BOM
        return f"“{source.name}” is empty."
    if decode_head(head) is None:
        return f"“{source.name}” is a binary file or not UTF-8 text, and not a recognised format."
    return (
        f"“{source.name}” is not output of a supported load-testing tool "
        "(no known signature found)."
    )


def detect_sources(sources: list[Source]) -> str:
    """The one format id shared by ``sources``; raises ParseError otherwise."""
    if not sources:
        raise ParseError("No file was given. " + accepted_list())
    formats: dict[str, list[str]] = {}
    for source in sources:
        kind = sniff(source)
        if kind is None:
            raise ParseError(describe_unknown(source) + " " + accepted_list(), filename=source.name)
        formats.setdefault(kind_to_format(kind), []).append(source.name)
    if len(formats) > 1:
        found = "; ".join(f"{FORMATS[f]}: {', '.join(names)}" for f, names in formats.items())
        raise ParseError(
            f"These files are not from one run of one tool ({found}). Upload the files of one "
            "run together (several files are only needed for Locust's CSV set)."
        )
    return next(iter(formats))


def detect_format(files: list[InputFile]) -> str:
    """Public: the format id of a run's files, from their content; raises ParseError."""
    ctx = ReadContext(None, max_decompressed_bytes=2**62)
    return detect_sources([Source(f, ctx) for f in files])
