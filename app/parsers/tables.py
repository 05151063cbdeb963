"""Header-keyed CSV records and small shared helpers for parsers.

Columns are always looked up by header NAME: every tool has added or reordered columns
between versions (FORMATS.md §0), and unknown columns are simply ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice

from app.parsers.model import ParseError
from app.parsers.streams import Source


def records(
    source: Source, required: Iterable[str], what: str, *, allow_empty: bool = False
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(row_number, {column: value})`` for each data row (the header is row 1).

    Raises ParseError for an empty file, missing required columns, a header with no rows
    (unless ``allow_empty``) or a row whose field count differs from the header's.
    """
    rows = source.csv_rows()
    header = read_header(source, rows, required, what)
    seen = False
    for number, row in enumerate(rows, start=2):
        if is_data_row(source, number, row, len(header)):
            seen = True
            yield number, dict(zip(header, row))  # noqa: B905 (lengths checked just above)
    if not seen and not allow_empty:
        raise no_rows(source, what)


def read_header(source: Source, rows: Iterator[list[str]], required: Iterable[str], what: str
                ) -> list[str]:
    """The header row (names stripped); raises ParseError for an empty file or a missing
    required column."""
    header = next(rows, None)
    if header is None:
        raise source.fail("is empty.")
    header = [name.strip() for name in header]
    missing = [name for name in required if name not in header]
    if missing:
        raise source.fail(
            f"is missing the column(s) {', '.join(missing)}, so it is not a {what} file "
            f"(its header is: {', '.join(header)[:200]})."
        )
    return header


def is_data_row(source: Source, number: int, row: list[str], width: int) -> bool:
    """False for a blank row (skipped); raises ParseError when the field count is not the
    header's."""
    if not row or row == [""]:
        return False
    if len(row) != width:
        raise source.fail(
            f"row {number} has {len(row)} fields but the header has {width}; "
            "the file may be cut short or edited."
        )
    return True


def no_rows(source: Source, what: str) -> ParseError:
    return source.fail(f"has a header but no rows: the {what} file holds no results.")


def row_batches(rows: Iterator[list[str]], size: int) -> Iterator[tuple[list[list[str]], Exception | None]]:
    """CSV records in lists of up to ``size``, each with the error that stopped reading (or
    None): the records read before a bad one still come first, as reading one at a time."""
    while True:
        batch: list[list[str]] = []
        try:
            batch.extend(islice(rows, size))
        except Exception as exc:  # noqa: BLE001 - handed back with the rows before it
            yield batch, exc
            return
        if not batch:
            return
        yield batch, None


def at(number: int, column: str) -> str:
    """Location text for value errors: ``row 5, column “Name”``."""
    return f"row {number}, column “{column}”"


def epoch_to_datetime(seconds: float, source: Source, what: str) -> datetime:
    """A UTC datetime from epoch seconds; raises ParseError when out of range."""
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise source.fail(f"{what} ({seconds}) is not a plausible Unix timestamp.") from None


def parse_iso_datetime(text: str, source: Source, what: str) -> datetime:
    """A UTC datetime from RFC 3339 / ISO 8601 text; raises ParseError."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise source.fail(f"{what} is {text[:40]!r}, not an ISO 8601 date and time.") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def reraise_at(source: Source, exc: ParseError) -> ParseError:
    """A ParseError from a value helper, re-worded to name ``source``."""
    return source.fail(exc.message) if exc.filename is None else exc
