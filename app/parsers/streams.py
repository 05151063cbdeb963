"""Reading uploaded files: gzip, size limits, progress, decoding, bounded lines.

Every parser reads through a :class:`Source`, so the rules live in one place:

* gzip input (magic bytes 1f 8b) is decompressed on the fly, never into memory at once;
* the decompressed byte count of a whole run is capped (``max_decompressed_bytes``);
* ``progress(raw_bytes_read)`` is called every :data:`PROGRESS_STEP` raw bytes and at the end;
* text must be UTF-8 (a BOM is accepted), lines are capped at :data:`MAX_LINE_CHARS`;
* whole-document formats (JSON summaries, HTML reports) are capped at :data:`MAX_DOCUMENT_BYTES`;
* low-level failures (bad UTF-8, damaged gzip, CSV quoting, XML syntax) become ParseError
  naming the file, so parsers only ever let ParseError escape.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import json
import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO
from xml.etree.ElementTree import ParseError as XMLParseError

from app.parsers.model import InputFile, ParseError

GZIP_MAGIC = b"\x1f\x8b"
HEAD_BYTES = 64 * 1024
PROGRESS_STEP = 256 * 1024
MAX_LINE_CHARS = 4 * 1024 * 1024
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
# json.loads turns a few bytes into a much larger Python object ("[]," is a 56-byte list):
# whole JSON documents may hold at most this many objects/arrays and values (","), which
# bounds the memory of parsing one far below what the document cap alone would allow.
MAX_JSON_CONTAINERS = 500_000
MAX_JSON_VALUES = 4_000_000
CHUNK = 64 * 1024
TEXT_CHUNK = 64 * 1024  # characters decoded and split into lines at a time


class ReadContext:
    """State shared by all files of one ``parse_run`` call: progress and the size budget.

    A parser may open a file more than once (e.g. to look at its header first), so each
    file contributes the furthest position it reached, not the sum of all its reads.
    """

    def __init__(self, progress: Callable[[int], None] | None, max_decompressed_bytes: int) -> None:
        self._progress = progress
        self._limit = max_decompressed_bytes
        self.raw_bytes = 0
        self.decompressed_bytes = 0
        self._last_reported = 0

    def advance_raw(self, delta: int) -> None:
        """Account ``delta`` more bytes of an upload and report progress now and then."""
        self.raw_bytes += delta
        if self._progress and self.raw_bytes - self._last_reported >= PROGRESS_STEP:
            self._last_reported = self.raw_bytes
            self._progress(self.raw_bytes)

    def advance_content(self, delta: int, name: str, gzipped: bool) -> None:
        """Account ``delta`` more bytes of content; raises ParseError past the budget."""
        self.decompressed_bytes += delta
        if self.decompressed_bytes > self._limit:
            what = "decompresses to" if gzipped else "is"
            raise ParseError(
                f"“{name}” {what} more than {self._limit:,} bytes, the limit for one "
                "benchmark run. Upload a smaller file (for example a shorter run or the "
                "tool's summary report instead of raw samples).",
                filename=name,
            )

    def finish(self) -> None:
        """Report the final byte count once parsing is done."""
        if self._progress:
            self._progress(self.raw_bytes)


class _Furthest:
    """Turns per-open byte counts into increases of a file's furthest position."""

    def __init__(self, on_advance: Callable[[int], None]) -> None:
        self.furthest = 0
        self._on_advance = on_advance

    def opener(self) -> Callable[[int], None]:
        """A counter for one fresh read from the start of the file."""
        position = 0

        def on_bytes(n: int) -> None:
            nonlocal position
            position += n
            if position > self.furthest:
                delta, self.furthest = position - self.furthest, position
                self._on_advance(delta)

        return on_bytes


class _CountingReader(io.RawIOBase):
    """A raw stream that reports how many bytes pass through it."""

    def __init__(self, inner: BinaryIO, on_bytes: Callable[[int], None]) -> None:
        super().__init__()
        self._inner = inner
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if n:
            self._on_bytes(n)
        return n


def _is_gzip(stream: BinaryIO) -> bool:
    stream.seek(0)
    magic = stream.read(2)
    stream.seek(0)
    return magic == GZIP_MAGIC


_VERBS = frozenset(
    "is are has holds contains does declares ends refers says looks lists decompresses".split()
)


def about(name: str, message: str) -> str:
    """Attach a file name to a message: "“a.csv” has no rows." or "In “a.csv”, row 2 ..."."""
    first_word = message.split(" ", 1)[0]
    if first_word in _VERBS:
        return f"“{name}” {message}"
    return f"In “{name}”, {message}"


@contextmanager
def translate_errors(name: str) -> Iterator[None]:
    """Turn the low-level errors that bad content causes into a ParseError naming the file."""
    try:
        yield
    except ParseError as exc:
        if exc.filename is None:
            raise ParseError(about(name, exc.message), filename=name) from exc
        raise
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"“{name}” is not UTF-8 text (it contains bytes that are not valid UTF-8). "
            "Benchmark results are accepted as UTF-8 text, gzip-compressed text, or Gatling's "
            "binary simulation.log.",
            filename=name,
        ) from exc
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ParseError(
            f"“{name}” looks gzip-compressed but is damaged or cut short ({exc}). "
            "Compress it again or upload it uncompressed.",
            filename=name,
        ) from exc
    except csv.Error as exc:
        raise ParseError(f"“{name}” is not well-formed CSV ({exc}).", filename=name) from exc
    except XMLParseError as exc:
        raise ParseError(
            f"“{name}” is not well-formed XML ({exc}); the file may be cut short.",
            filename=name,
        ) from exc


class Source:
    """One input file opened for parsing; see the module docstring for the rules applied."""

    def __init__(self, file: InputFile, ctx: ReadContext) -> None:
        self.name = file.name or "upload"
        self._stream = file.stream
        self._ctx = ctx
        self.gzipped = _is_gzip(self._stream)
        self._raw = _Furthest(ctx.advance_raw)
        self._content = _Furthest(lambda n: ctx.advance_content(n, self.name, self.gzipped))

    def fail(self, message: str) -> ParseError:
        """A ParseError about this file (``raise source.fail("...")``)."""
        return ParseError(about(self.name, message), filename=self.name)

    def open_binary(self) -> io.BufferedReader:
        """The decompressed content as a buffered binary stream, counted and size-capped."""
        self._stream.seek(0)
        raw: BinaryIO = _CountingReader(self._stream, self._raw.opener())  # type: ignore[assignment]
        if self.gzipped:
            raw = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        return io.BufferedReader(_CountingReader(raw, self._content.opener()), buffer_size=CHUNK)

    def open_text(self) -> io.TextIOWrapper:
        """UTF-8 text (BOM accepted, strict), line endings kept as written."""
        return io.TextIOWrapper(
            self.open_binary(), encoding="utf-8-sig", errors="strict", newline=""
        )

    def lines(self, keep_ends: bool = False) -> Iterator[str]:
        """Yield the file's lines one by one (bounded length); raises ParseError."""
        for _, batch in self.line_batches(keep_ends):
            yield from batch

    def line_batches(self, keep_ends: bool = False) -> Iterator[tuple[int, list[str]]]:
        """The file's lines in batches: ``(number of the batch's first line, [lines])``.

        The same lines as reading one line at a time (``\\n``, ``\\r\\n`` and ``\\r`` end a
        line; at most MAX_LINE_CHARS characters each), split from large decoded chunks by
        str methods instead of one readline call per line (raw-sample files have millions).
        Bytes that are not UTF-8 make it read again from the start line by line, so the
        lines before them come first and the error surfaces exactly where a line-by-line
        reader meets it. Raises ParseError."""
        yield from self.line_blocks(keep_ends, as_text=False)  # type: ignore[misc]

    def line_blocks(self, keep_ends: bool = False, *, as_text: bool = True
                    ) -> Iterator[tuple[int, list[str] | str]]:
        """:meth:`line_batches`, except that (``as_text``) a batch whose lines hold no ``\\r``
        may come as its text instead of a list: the lines, each followed by ``\\n`` — for
        parsers that search many lines at once; ``text.split("\\n")[:-1]`` are its lines."""
        with translate_errors(self.name):
            done = 1  # the number of the first line not yet handed out
            try:
                for number, batch in self._split_chunks(keep_ends, as_text):
                    yield number, batch
                    done = number + (batch.count("\n") if type(batch) is str else len(batch))
                return
            except UnicodeDecodeError:
                pass  # not plain UTF-8 in byte chunks: re-read line by line through open_text
            text, number = self.open_text(), 0
            while True:
                line = text.readline(MAX_LINE_CHARS + 1)
                if not line:
                    return
                number += 1
                if len(line) > MAX_LINE_CHARS:
                    raise self._too_long(number)
                if number >= done:
                    yield number, [line if keep_ends else line.rstrip("\r\n")]

    def _split_chunks(self, keep_ends: bool, as_text: bool = False
                      ) -> Iterator[tuple[int, list[str] | str]]:
        text = self.open_text()
        number, carry = 1, ""
        while True:
            chunk = text.read(TEXT_CHUNK)
            if not chunk:
                break
            if chunk[-1] == "\r":  # keep a \r\n that straddles two chunks together
                chunk += text.read(1)
            cut = max(chunk.rfind("\n"), chunk.rfind("\r")) + 1
            if cut:
                body, carry = carry + chunk[:cut], chunk[cut:]
                if as_text and len(body) <= MAX_LINE_CHARS and "\r" not in body:
                    yield number, body  # no line in it can be too long
                    number += body.count("\n")
                else:
                    batch = split_lines(body, keep_ends)
                    if len(body) > MAX_LINE_CHARS:  # else no line in it can be too long
                        bad = _first_too_long(body)
                        if bad is not None:  # the lines before it first, as one by one
                            if bad:
                                yield number, batch[:bad]
                            raise self._too_long(number + bad)
                    yield number, batch
                    number += len(batch)
            else:  # no line ends in this chunk: the line goes on
                carry += chunk
            if len(carry) > MAX_LINE_CHARS:
                raise self._too_long(number)
        if carry:
            yield number, [carry]

    def _too_long(self, number: int) -> ParseError:
        return self.fail(f"line {number} is longer than {MAX_LINE_CHARS:,} characters.")

    def csv_rows(self, delimiter: str = ",") -> Iterator[list[str]]:
        """Yield CSV records (quoted newlines allowed); raises ParseError."""
        with translate_errors(self.name):
            yield from self.csv_reader(delimiter)

    def csv_reader(self, delimiter: str = ",") -> Iterator[list[str]]:
        """The CSV records as a bare ``csv.reader`` (no generator in between, for hot loops
        that read many records at a time): read it inside ``translate_errors``."""
        lines = itertools.chain.from_iterable(batch for _, batch in self.line_batches(keep_ends=True))
        return csv.reader(lines, delimiter=delimiter, strict=True)

    def read_document(self, limit: int = MAX_DOCUMENT_BYTES) -> str:
        """The whole file as text, for small whole-document formats; raises ParseError.

        ``limit`` counts bytes, read before anything is decoded: a file over it costs no
        more memory than the limit (decoding through a text stream held three copies)."""
        chunks: list[bytes] = []
        size = 0
        with translate_errors(self.name):
            stream = self.open_binary()
            while size <= limit and (chunk := stream.read(16 * CHUNK)):
                chunks.append(chunk)
                size += len(chunk)
        if size > limit:
            raise self.fail(
                f"is larger than {limit // (1024 * 1024)} MiB, too large for a summary or "
                "report file. Raw-sample formats (JTL, k6 --out json) have no such limit."
            )
        data = b"".join(chunks)
        chunks.clear()
        with translate_errors(self.name):
            return data.decode("utf-8-sig")

    def read_json(self, text: str | None = None) -> Any:
        """Parse the whole file (or ``text``) as JSON; NaN/Infinity are rejected."""
        document = self.read_document() if text is None else text
        return loads_json(document, self)

    def head(self, size: int = HEAD_BYTES) -> bytes:
        """The first ``size`` decompressed bytes, for sniffing; not counted for progress."""
        with translate_errors(self.name):
            self._stream.seek(0)
            try:
                if self.gzipped:
                    with gzip.GzipFile(fileobj=self._stream, mode="rb") as unzipped:
                        return _read_up_to(unzipped, size)
                return _read_up_to(self._stream, size)
            finally:
                self._stream.seek(0)


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")


def split_lines(body: str, keep_ends: bool) -> list[str]:
    """Complete lines of ``body`` (which ends with a line end), split where readline splits:
    at \\n, \\r\\n and \\r. str.splitlines also splits at a few other characters (\\v, \\f,
    \\x1c-\\x1e, \\x85, \\u2028, \\u2029); when it found more lines than those three line
    ends make, a regular expression splits instead."""
    lines = body.splitlines(keep_ends)
    if len(lines) == body.count("\n") + body.count("\r") - body.count("\r\n"):
        return lines
    lines = _LINE.findall(body)
    return lines if keep_ends else [line.rstrip("\r\n") for line in lines]


def _first_too_long(body: str) -> int | None:
    """Index of the first line longer than MAX_LINE_CHARS counting its line end (as
    ``readline(MAX_LINE_CHARS + 1)`` sees it), or None."""
    lines = split_lines(body, True)
    return next((i for i, line in enumerate(lines) if len(line) > MAX_LINE_CHARS), None)


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _reject_constant(token: str) -> Any:
    raise ParseError(f"contains {token}, which is not a number; figures must be finite.")


def check_json_size(text: str, source: Source) -> None:
    """ParseError when a JSON document holds more objects/arrays or values than any real
    summary (see MAX_JSON_CONTAINERS); counted on the text, before anything is built."""
    containers = text.count("{") + text.count("[")
    if containers > MAX_JSON_CONTAINERS or text.count(",") > MAX_JSON_VALUES:
        raise source.fail(
            f"holds more than {MAX_JSON_CONTAINERS:,} JSON objects or {MAX_JSON_VALUES:,} "
            "values, far more than a summary report has. Upload the tool's summary output."
        )


def loads_json(text: str, source: Source) -> Any:
    """json.loads with person-readable errors naming ``source``; raises ParseError."""
    if not text.strip():
        raise source.fail("is empty.")
    check_json_size(text, source)
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ParseError as exc:
        raise source.fail(exc.message) from exc
    except json.JSONDecodeError as exc:
        hint = " — it seems cut short" if exc.pos >= len(text.rstrip()) else ""
        raise source.fail(
            f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}){hint}."
        ) from exc
    except RecursionError as exc:
        raise source.fail("is JSON nested too deeply to be a benchmark report.") from exc
    except ValueError as exc:  # an integer literal beyond Python's digit limit (4300)
        raise source.fail(
            "contains a number with thousands of digits, which is not a plausible figure."
        ) from exc


def decode_head(head: bytes) -> str | None:
    """Decode a sniffed head as UTF-8 (a cut multi-byte character at the end is fine).

    Returns None when the bytes are not UTF-8 text or contain NUL bytes (binary data).
    """
    if b"\x00" in head:
        return None
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    try:
        return decoder.decode(head, final=False)
    except UnicodeDecodeError:
        return None
