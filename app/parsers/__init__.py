"""Pure, streaming parsers for load-testing tool output (benchmark step of Tradeoff).

File-like objects in, one normalized :class:`ParsedRun` out; no Flask, nothing else from
``app``. The web layer only needs::

    from app.parsers import parse_run, detect_format, ParseError, ParsedRun, InputFile, FORMATS

and only ever has to catch :class:`ParseError` (its ``message`` is meant for people).
Formats and units are specified in ``../shared/samples/FORMATS.md``.
"""

from app.parsers.api import parse_run
from app.parsers.detect import detect_format
from app.parsers.formats import FORMATS
from app.parsers.model import (
    Endpoint,
    InputFile,
    Latency,
    ParsedRun,
    ParseError,
    Point,
    Summary,
)

__all__ = [
    "FORMATS",
    "Endpoint",
    "InputFile",
    "Latency",
    "ParseError",
    "ParsedRun",
    "Point",
    "Summary",
    "detect_format",
    "parse_run",
]
