"""The entry point the web layer calls: detect, pick the parser, enforce the contract.

Contract: whatever the files contain, only ParseError leaves :func:`parse_run`.
"""

from __future__ import annotations

from collections.abc import Callable

from app.parsers import detect, gatling, jmeter, k6, locust, misc_json, textual
from app.parsers.formats import FORMATS, accepted_list
from app.parsers.model import InputFile, ParsedRun, ParseError
from app.parsers.streams import ReadContext, Source

Parser = Callable[[list[Source]], ParsedRun]

PARSERS: dict[str, Parser] = {
    "locust-csv": locust.parse_csv,
    "locust-json": locust.parse_json,
    "locust-html": locust.parse_html,
    "k6-summary-export": k6.parse_summary_export,
    "k6-handle-summary": k6.parse_handle_summary,
    "k6-summary-v1": k6.parse_summary_v1,
    "k6-ndjson": k6.parse_ndjson,
    "k6-csv": k6.parse_csv,
    "jmeter-csv": jmeter.parse_csv,
    "jmeter-xml": jmeter.parse_xml,
    "jmeter-dashboard": jmeter.parse_dashboard,
    "gatling-log": gatling.parse_text_log,
    "gatling-binary-log": gatling.parse_binary_log,
    "gatling-json": gatling.parse_report_json,
    "wrk": textual.parse_wrk,
    "wrk2": textual.parse_wrk,
    "ab": textual.parse_ab,
    "hey": textual.parse_hey,
    "hey-csv": textual.parse_hey_csv,
    "vegeta-json": misc_json.parse_vegeta_json,
    "vegeta-text": misc_json.parse_vegeta_text,
    "oha-json": misc_json.parse_oha,
    "bombardier-json": misc_json.parse_bombardier,
}
assert PARSERS.keys() == FORMATS.keys()


def parse_run(
    files: list[InputFile],
    fmt: str | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    max_decompressed_bytes: int = 2 * 1024**3,
) -> ParsedRun:
    """Parse the files of one benchmark run into a :class:`ParsedRun`.

    ``fmt`` forces a format id (see FORMATS); by default it is detected from the content.
    ``progress(bytes_read_so_far)`` is called every 256 KiB of input and once at the end.
    Raises ParseError (only) when the files are not a readable run of a supported format.
    """
    if fmt is not None and fmt not in PARSERS:
        raise ParseError(f"“{fmt}” is not a known format id. {accepted_list()}")
    ctx = ReadContext(progress, max_decompressed_bytes)
    sources = [Source(file, ctx) for file in files]
    fmt = _checked_format(sources, fmt)
    try:
        run = PARSERS[fmt](sources)
    except ParseError as exc:
        if exc.filename is None and len(sources) == 1:
            raise sources[0].fail(exc.message) from exc
        raise
    ctx.finish()
    return run


def _checked_format(sources: list[Source], fmt: str | None) -> str:
    """The detected format, or ``fmt`` if the content does not clearly contradict it."""
    if fmt is None:
        return detect.detect_sources(sources)
    if not sources:
        raise ParseError("No file was given. " + accepted_list())
    for source in sources:
        kind = detect.sniff(source)
        found = detect.kind_to_format(kind) if kind else None
        if found is not None and found != fmt and {found, fmt} != {"wrk", "wrk2"}:
            raise ParseError(
                f"“{source.name}” looks like {FORMATS[found]}, not {FORMATS[fmt]}. "
                "Choose the matching format or let it be detected.",
                filename=source.name,
            )
    return fmt
