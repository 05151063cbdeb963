"""Vectorised reading of CSV JTL files (numpy), for :func:`app.parsers.jmeter.parse_csv`.

A JTL file holds millions of rows; Python's csv module plus per-row conversion reads about
45-50 MB per CPU-second. Almost every block of a real file is *plain*: no quoting, every row
with the header's number of fields, plain integers. Such a block is read here as bytes at
once (over 100 MB per CPU-second): the positions of its commas and newlines give every
field's bounds, integer columns are converted by digit arithmetic, string columns are
reduced to their distinct values (a hash of their 8-byte words, checked; decoded once each),
and the block is recorded already grouped (:meth:`RunAccumulator.add_grouped`). A line with
a double quote (JMeter quotes a message holding a comma) goes to the row reader with the
short plain runs around it; long plain runs around it stay here (:func:`_pieces`).

The results must be *identical* to the row-by-row reader, so:

* a block is taken only when every check passes (ASCII digits of at most 15 digits for the
  figures — exact as floats — no transaction or multi-sample rows, no new endpoint beyond
  MAX_ENDPOINTS and no widening of the time series, which both depend on arrival order);
  any other piece goes through the row reader of jmeter.py (``handle_rows``), with the right
  row numbers, quoted records spanning pieces and blocks included;
* histogram bucket indexes use ``math.log`` once per distinct latency, as the histogram does,
  and sums are added in sample order by the histogram itself;
* sub-results (``<label>-<n>`` right after ``<label>`` on the same thread) are found by a
  guess checked against the sequential rule (a guess that satisfies the rule for every row
  is the sequential answer, by induction along each thread), else row by row;
* whatever would make the point where an error surfaces depend on how the file is read
  (bytes that are not UTF-8, a line over a block long, a damaged gzip stream, an unclosed
  quote running on) raises :class:`Restart`: the caller reads the file again from the start
  with the row reader alone, so the same message comes out.

Memory: one block (BLOCK_BYTES) and the LOOKAHEAD_BYTES after it, already read to check their
UTF-8, are held at a time, with a few arrays the size of a block.
"""

from __future__ import annotations

import codecs
import csv
import math
from collections import deque
from collections.abc import Callable, Iterator
from itertools import chain
from typing import Any

import numpy as np

from app.parsers.histogram import ZERO_THRESHOLD, LogHistogram
from app.parsers.samples import RELATIVE_ERROR, SERIES_RELATIVE_ERROR
from app.parsers.streams import CHUNK, TEXT_CHUNK, split_lines

ENABLED = True  # tests switch it off to compare with the row reader
BLOCK_BYTES = 128 * 1024  # small enough for the cache and for tracemalloc's bound (tests)
LOOKAHEAD_BYTES = 4 * TEXT_CHUNK + 2 * CHUNK
MIN_PLAIN_BYTES = 16 * 1024  # a shorter run of plain lines between quoted ones: row reader
MAX_CARRY_BYTES = 8 << 20  # a quoted record running on longer than this: read row by row
MAX_DIGITS = 15  # integers below 10**15 are exact as floats, as float(text) gives them
MAX_FIXED_WIDTH = 64  # longer string fields are told apart in Python rather than as a matrix
TABLE_LATENCIES = 1 << 16  # ms; their bucket indexes (< 600) fit an int16
UNKNOWN = -(1 << 15)
CSV_BATCH_ROWS = 512
COMMA, NEWLINE, ZERO = 44, 10, 48
UNEXPECTED_END = "unexpected end of data"
HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)

Batches = Iterator[tuple[list[list[str]], Exception | None]]


class Restart(Exception):  # noqa: N818 (a signal, not an error)
    """The file must be read from the start by the row reader alone (see module docstring)."""


def read(source: Any, aggregator: Any, *, header_of: Callable[[list[str]], list[str]],
         handle_rows: Callable[[list[str], Batches, int], tuple[int, bool]],
         parent_of: Callable[[str], str | None], transaction: str) -> bool:
    """Read the whole file into ``aggregator`` (jmeter._JtlAggregator); returns whether any
    data row was seen. ``header_of`` checks the header fields (raising as the row reader
    does), ``handle_rows(header, batches, number)`` is the row reader for the blocks this
    module does not take, ``parent_of`` gives the parent label a sub-result label names.
    Raises ParseError as the row reader would, or :class:`Restart`."""
    blocks = _checked(_raw_blocks(source.open_binary()))
    first = next(blocks, None)
    if first is None:
        raise Restart
    if first.startswith(codecs.BOM_UTF8):
        first = first[len(codecs.BOM_UTF8):]
    end = first.find(b"\n")
    line = first if end < 0 else first[:end]
    if line.endswith(b"\r"):
        line = line[:-1]
    if not line or b'"' in line or b"\r" in line or b"\x00" in line:
        raise Restart  # a header the csv module must read (or an empty file): rare
    header = header_of(line.decode("utf-8").split(","))
    fast = _Blocks(aggregator, header, parent_of, transaction)
    number, seen, carry = 2, False, []
    pending: Iterator[bytes] = iter([first[end + 1:]] if end >= 0 else [])
    del first
    for block in chain(pending, blocks):
        for piece in _pieces(block):
            if not carry:
                taken = fast.take(piece)
                if taken is not None:
                    number += taken
                    seen = True
                    continue
            lines = carry + _lines(piece.decode("utf-8"))
            carry, number, seen_here = _slow(lines, header, handle_rows, number, at_end=False)
            seen = seen or seen_here
            if sum(map(len, carry)) > MAX_CARRY_BYTES:
                raise Restart
    if carry:  # a quote still open at the end of the file: the row reader raises its error
        _slow(carry, header, handle_rows, number, at_end=True)
    return seen


def _pieces(block: bytes) -> Iterator[bytes]:
    """The block in pieces of whole lines: runs of at least MIN_PLAIN_BYTES without a double
    quote (for :meth:`_Blocks.take`), and the lines with one together with the short runs
    between them (for the row reader). JMeter quotes a message with a comma now and then:
    the rows around it stay plain; where quotes are frequent, pieces would be too small to
    gain anything, so the row reader takes those lines in one go."""
    start, size = 0, len(block)
    while start < size:
        quote = block.find(b'"', start)
        if quote < 0:
            yield block[start:] if start else block
            return
        line = block.rfind(b"\n", start, quote) + 1 or start
        if line - start >= MIN_PLAIN_BYTES:
            yield block[start:line]
            start = line
        end = block.find(b"\n", quote) + 1 or size
        while end < size:  # take in the next quoted line too when the plain run before it is short
            quote = block.find(b'"', end, end + MIN_PLAIN_BYTES)
            if quote < 0:
                break
            end = block.find(b"\n", quote) + 1 or size
        if size - end < MIN_PLAIN_BYTES:  # a short plain run left at the end: with these lines
            end = size
        yield block[start:end]
        start = end


def _lines(text: str) -> list[str]:
    """The lines of ``text`` with their ends, split as Source.line_batches splits them (the
    last line of the file may have no end)."""
    cut = max(text.rfind("\n"), text.rfind("\r")) + 1
    lines = split_lines(text[:cut], True) if cut else []
    if cut < len(text):
        lines.append(text[cut:])
    return lines


def _raw_blocks(stream: Any) -> Iterator[bytes]:
    """The content in blocks of whole lines (cut after the last ``\\n``; the last block may
    lack one). A line longer than a block, or any read error, raises Restart."""
    carry = b""
    while True:
        try:
            data = stream.read(BLOCK_BYTES)
        except Exception as exc:  # noqa: BLE001 - gzip damage, size limit: the row reader says
            raise Restart from exc
        if not data:
            if carry:
                yield carry
            return
        data = carry + data if carry else data
        cut = data.rfind(b"\n") + 1
        if not cut:
            if len(data) > BLOCK_BYTES:
                raise Restart
            carry = data
            continue
        yield data[:cut]
        carry = data[cut:]


def _checked(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """The blocks, each handed out only once the LOOKAHEAD_BYTES after it are known to be
    UTF-8: the row reader decodes a text chunk (up to 64 Ki characters, 4 bytes each at most,
    plus the byte buffers) ahead of the rows it hands out, so bad bytes that near could
    surface before an error in a row; a file with any is left to it entirely (Restart)."""
    held: deque[bytes] = deque()
    ahead = 0
    for block in blocks:
        try:
            block.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Restart from exc
        held.append(block)
        ahead += len(block)
        while ahead - len(held[0]) >= LOOKAHEAD_BYTES:
            ahead -= len(held[0])
            yield held.popleft()
    yield from held


def _slow(lines: list[str], header: list[str], handle_rows: Callable, number: int, *,
          at_end: bool) -> tuple[list[str], int, bool]:
    """Read ``lines`` with the csv module and record them with the row reader. A record
    that goes on past the last line (an open quote) is handed back as carry to be read with
    the next block. Returns (carry, next row number, whether a data row was seen)."""
    reader = csv.reader(lines, strict=True)
    records: list[list[str]] = []
    error: Exception | None = None
    done = 0
    try:
        for record in reader:
            records.append(record)
            done = reader.line_num
    except csv.Error as exc:
        if not at_end and str(exc) == UNEXPECTED_END and reader.line_num == len(lines):
            carry = lines[done:]
        else:
            error = exc
    except Exception as exc:  # noqa: BLE001 - raised after the records before it, as row_batches does
        error = exc
    else:
        carry = []
    if error is not None:
        carry = []
    batches = [(records[i:i + CSV_BATCH_ROWS], None) for i in range(0, len(records), CSV_BATCH_ROWS)]
    if error is not None:
        batches.append(([], error))
    number, seen = handle_rows(header, iter(batches), number)
    return carry, number, seen


# -- one plain block ------------------------------------------------------------------------------
class _Blocks:
    """Takes plain blocks: :meth:`take` records one, or returns None having changed nothing."""

    def __init__(self, aggregator: Any, header: list[str], parent_of: Callable[[str], str | None],
                 transaction: str) -> None:
        self.aggregator = aggregator
        self.width = len(header)
        self.columns = {name: i for i, name in enumerate(header)}
        self.parent_of = parent_of
        self.transaction = np.frombuffer(transaction.encode("utf-8"), np.uint8)
        self.log_gamma = LogHistogram(RELATIVE_ERROR).log_gamma
        self.series_log_gamma = LogHistogram(SERIES_RELATIVE_ERROR).log_gamma
        self.table = np.full((2, TABLE_LATENCIES), UNKNOWN, np.int16)  # latency -> both bucket indexes

    def take(self, block: bytes) -> int | None:
        """Record a block of whole lines if it is plain; returns its number of rows."""
        if not block.endswith(b"\n"):
            if block.endswith(b"\r"):
                return None
            block += b"\n"  # the last line: the csv module reads it the same without
        if b"\r" in block:
            if block.count(b"\r") != block.count(b"\r\n"):
                return None
            block = block.replace(b"\r\n", b"\n")
        if b'"' in block or b"\x00" in block:
            return None
        data = np.frombuffer(block, np.uint8)
        separator = data == COMMA
        separator |= data == NEWLINE
        seps = np.flatnonzero(separator)
        del separator
        rows = len(seps) // self.width
        if not rows or rows * self.width != len(seps):
            return None
        seps = seps.reshape(rows, self.width)
        if block.count(b"\n") != rows or not bool((data[seps[:, -1]] == NEWLINE).all()):
            return None  # blank lines or rows of another width: the row reader says
        starts = np.empty_like(seps)
        flat = starts.ravel()  # a view: seps is contiguous
        flat[0] = 0
        np.add(seps.ravel()[:-1], 1, out=flat[1:])
        fields = _Fields(block, data, starts, seps, self.columns)
        return self._record(fields, rows)

    def _record(self, f: _Fields, rows: int) -> int | None:
        stamps, elapsed = f.integers("timeStamp"), f.integers("elapsed")
        if stamps is None or elapsed is None:
            return None
        threads_column = "allThreads" if "allThreads" in f.columns else "grpThreads"
        users = f.integers(threads_column) if threads_column in f.columns else None
        if users is None and threads_column in f.columns:
            return None
        for name in ("SampleCount", "ErrorCount"):  # "", "0" or "1": one sample per row
            if name in f.columns and not f.is_zero_or_one(name):
                return None
        if f.starts_with("responseMessage", self.transaction):
            return None
        labels, label_texts = f.distinct("label")
        threads, thread_texts = f.distinct("threadName")
        sub_rows, last_parent = self._sub_results(labels, label_texts, threads, thread_texts)
        top = np.flatnonzero(~sub_rows)
        if len(top):
            plan = self._recorded(f, top, stamps, elapsed, users, labels, label_texts)
            if plan is None:
                return None
        self.aggregator.last_parent.update(last_parent)
        self.aggregator.sub_results += rows - len(top)
        return rows

    def _sub_results(self, labels: np.ndarray, label_texts: list[str], threads: np.ndarray,
                     thread_texts: list[str]) -> tuple[np.ndarray, dict[str, str]]:
        """(which rows are sub-results, each thread's last top-level label afterwards)."""
        names = {text: i for i, text in enumerate(label_texts)}
        parents = np.full(len(label_texts), -1, np.int64)
        for i, text in enumerate(label_texts):
            parent = self.parent_of(text)
            if parent is not None:
                parents[i] = names.setdefault(parent, len(names))
        known = self.aggregator.last_parent
        carried = np.array([names.get(known[t], -2) if t in known else -2 for t in thread_texts], np.int64)
        n = len(labels)
        order = np.argsort(threads, kind="stable")  # each thread's rows together, in file order
        thread_s, label_s = threads[order], labels[order]
        parent_s = parents[label_s]
        candidate = parent_s >= 0
        position = np.arange(n)
        group_start = np.zeros(n, np.int64)
        starts = np.flatnonzero(np.concatenate(([True], thread_s[1:] != thread_s[:-1])))
        group_start[starts] = starts
        group_start = np.maximum.accumulate(group_start)
        carried_s = carried[thread_s]

        def last_top(top: np.ndarray) -> np.ndarray:
            """Per row: the position of the last top-level row at or before it in its thread
            (or a position before the thread's rows)."""
            return np.maximum.accumulate(np.where(top, position, -1))

        def sub_results(top: np.ndarray) -> np.ndarray:
            last = last_top(top)
            before = np.empty(n, np.int64)
            before[0] = -1
            before[1:] = last[:-1]
            previous = np.where(before >= group_start, label_s[before], carried_s)
            return candidate & (parent_s == previous)

        sub = np.zeros(n, bool) if not candidate.any() else sub_results(~candidate)
        if candidate.any():
            for _ in range(4):
                again = sub_results(~sub)
                if bool((again == sub).all()):
                    break
                sub = again
            else:
                sub = self._sequential(label_s, thread_s, parent_s, carried_s)
        last = last_top(~sub)
        ends = np.append(starts[1:], n) - 1
        last_parent = {thread_texts[thread_s[e]]: label_texts[label_s[last[e]]]
                       for e in ends.tolist() if last[e] >= group_start[e]}
        in_file_order = np.empty(n, bool)
        in_file_order[order] = sub
        return in_file_order, last_parent

    @staticmethod
    def _sequential(label_s: np.ndarray, thread_s: np.ndarray, parent_s: np.ndarray,
                    carried_s: np.ndarray) -> np.ndarray:
        """The rule row by row (the rows of each thread are in file order)."""
        sub = []
        last: dict[int, int] = {}
        for label, thread, parent, carried in zip(label_s.tolist(), thread_s.tolist(), parent_s.tolist(),
                                                  carried_s.tolist(), strict=True):
            if parent >= 0 and last.get(thread, carried) == parent:
                sub.append(True)
            else:
                last[thread] = label
                sub.append(False)
        return np.array(sub, bool)

    def _recorded(self, f: _Fields, top: np.ndarray, stamps: np.ndarray, elapsed: np.ndarray,
                  users: np.ndarray | None, labels: np.ndarray, label_texts: list[str]) -> bool | None:
        """Record the top-level rows ``top``; None, having changed nothing, when the
        accumulator must see them one at a time (a new endpoint to fold, a wider series)."""
        aggregator = self.aggregator
        acc = aggregator.acc
        start_ms = stamps[top].astype(np.float64)
        latency = elapsed[top].astype(np.float64)
        start_s = start_ms / 1000
        end_s = (start_ms + latency) / 1000
        label_top = labels[top]
        seconds = np.floor(start_s).astype(np.int64)
        second_values, second_rows = _first_appearance(seconds)
        key_codes, key_rows = _first_appearance(label_top)
        keys = [(None, label_texts[code]) for code in key_codes.tolist()]
        plan = acc.can_batch([float(s) for s in second_values.tolist()], keys)
        if plan is None:
            return None
        bucket_of_second = np.array(plan[0], np.int64)
        bucket_values, bucket_rows = _first_appearance(bucket_of_second[second_rows])
        index, series_index, zero = self._latency_indexes(elapsed[top])
        values = latency.tolist()
        overall = (_counts(index[~zero]), int(np.count_nonzero(zero)), values)
        endpoints = {
            keys[g]: (counts, zeros, group_values)
            for g, (counts, zeros, group_values, _) in enumerate(
                _grouped(key_rows, len(keys), index, zero, latency, None))
        }
        user_top = None if users is None else users[top]
        buckets = {
            int(b): group
            for b, group in zip(bucket_values.tolist(), _grouped(
                bucket_rows, len(bucket_values), series_index, zero, latency, user_top), strict=True)
        }
        statuses = {}
        codes, code_texts = f.distinct("responseCode")
        code_values, code_rows = _first_appearance(codes[top])
        for code, n in zip(code_values.tolist(), np.bincount(code_rows).tolist(), strict=True):
            if code_texts[code]:
                statuses[code_texts[code]] = n
        acc.add_grouped(plan, float(start_s.min()), float(end_s.max()), overall, endpoints, buckets,
                        statuses, None if user_top is None else int(user_top.max()))
        first = float(start_ms.min())
        if aggregator.first_ms is None or first < aggregator.first_ms:
            aggregator.first_ms = first
        if "success" in f.columns:
            success, success_texts = f.distinct("success")
            failing = np.array([text.strip().lower() != "true" for text in success_texts], bool)
            for i in np.flatnonzero(failing[success[top]]).tolist():
                row = int(top[i])
                code = code_texts[codes[row]]
                message = f.text("failureMessage", row) or f"{code} {f.text('responseMessage', row)}".strip()
                acc.failure(float(start_s[i]), (None, label_texts[label_top[i]]), weight=1, message=message)
        return True

    def _latency_indexes(self, elapsed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: the histogram bucket index, the series histogram's, whether zero —
        ``math.log`` once per distinct latency, exactly as the histogram computes it (kept in
        a table for latencies below TABLE_LATENCIES ms)."""
        zero = elapsed < ZERO_THRESHOLD
        if int(elapsed.max()) < TABLE_LATENCIES:
            found = self.table[:, elapsed]
            missing = found[0] == UNKNOWN
            if missing.any():
                # (return_counts: a bare np.unique imports numpy.ma on first use, 0.5 MB)
                for value in np.unique(elapsed[missing], return_counts=True)[0].tolist():
                    self.table[:, value] = self._indexes(value)
                found = self.table[:, elapsed]
            return found[0], found[1], zero
        distinct, rows = np.unique(elapsed, return_inverse=True)
        pairs = np.array([self._indexes(value) for value in distinct.tolist()], np.int64).reshape(-1, 2)
        rows = rows.ravel()
        return pairs[rows, 0], pairs[rows, 1], zero

    def _indexes(self, value: int) -> tuple[int, int]:
        v = float(value)
        if v < ZERO_THRESHOLD:
            return (0, 0)  # counted apart (the zero mask)
        return math.ceil(math.log(v) / self.log_gamma), math.ceil(math.log(v) / self.series_log_gamma)


def _first_appearance(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values in order of first appearance, each row's position in that list)."""
    distinct, first, rows = np.unique(values, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return distinct[order], rank[rows.ravel()]


def _counts(indexes: np.ndarray) -> dict[int, int]:
    distinct, counts = np.unique(indexes, return_counts=True)
    return dict(zip(distinct.tolist(), counts.tolist(), strict=True))


def _grouped(groups: np.ndarray, size: int, index: np.ndarray, zero: np.ndarray, latency: np.ndarray,
             users: np.ndarray | None) -> list[tuple[dict[int, int], int, list[float], int | None]]:
    """Per group 0..size-1: (bucket counts, zero count, latencies in file order, most users)."""
    order = np.argsort(groups, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(groups, minlength=size)))).tolist()
    values = latency[order].tolist()
    zeros = np.bincount(groups[zero], minlength=size).tolist()
    counts: list[dict[int, int]] = [{} for _ in range(size)]
    live = ~zero
    if live.any():
        low = int(index[live].min())
        span = int(index[live].max()) - low + 1
        pairs, n = np.unique(groups[live] * span + (index[live] - low), return_counts=True)
        owners = pairs // span  # ascending, as pairs are
        buckets, how_many = (pairs - owners * span + low).tolist(), n.tolist()
        cuts = np.searchsorted(owners, np.arange(size + 1)).tolist()
        counts = [dict(zip(buckets[cuts[g]:cuts[g + 1]], how_many[cuts[g]:cuts[g + 1]], strict=True))
                  for g in range(size)]
    most = (np.maximum.reduceat(users[order], bounds[:-1]).tolist() if users is not None
            else [None] * size)
    return [(counts[g], zeros[g], values[bounds[g]:bounds[g + 1]], most[g]) for g in range(size)]


class _Fields:
    """Field access for a plain block: ``starts``/``ends`` are (rows, columns) byte bounds."""

    def __init__(self, block: bytes, data: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 columns: dict[str, int]) -> None:
        self.block, self.data, self.starts, self.ends, self.columns = block, data, starts, ends, columns

    def bounds(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        column = self.columns[name]
        return self.starts[:, column], self.ends[:, column]

    def text(self, name: str, row: int) -> str:
        if name not in self.columns:
            return ""
        column = self.columns[name]
        return self.block[int(self.starts[row, column]):int(self.ends[row, column])].decode("utf-8")

    def integers(self, name: str) -> np.ndarray | None:
        """The column as int64 when every field is 1..MAX_DIGITS ASCII digits, else None."""
        starts, ends = self.bounds(name)
        lengths = ends - starts
        if int(lengths.min()) < 1 or int(lengths.max()) > MAX_DIGITS:
            return None
        width = int(lengths.max())
        k = np.arange(width)
        inside = k >= (width - lengths)[:, None]  # right-aligned digits
        digits = self.data[np.maximum(ends[:, None] - width + k, 0)].astype(np.int64) - ZERO
        digits = np.where(inside, digits, 0)
        if bool(((digits < 0) | (digits > 9)).any()):
            return None
        return digits @ (10 ** np.arange(width - 1, -1, -1, dtype=np.int64))

    def is_zero_or_one(self, name: str) -> bool:
        starts, ends = self.bounds(name)
        lengths = ends - starts
        if int(lengths.max()) > 1:
            return False
        first = self.data[starts[lengths == 1]]
        return bool(((first == ZERO) | (first == ZERO + 1)).all())

    def starts_with(self, name: str, prefix: np.ndarray) -> bool:
        """Whether any field of the column starts with the bytes ``prefix``."""
        if name not in self.columns:
            return False
        starts, ends = self.bounds(name)
        long_enough = starts[ends - starts >= len(prefix)]
        if not len(long_enough):
            return False
        head = self.data[long_enough[:, None] + np.arange(len(prefix))]
        return bool((head == prefix).all(axis=1).any())

    def distinct(self, name: str) -> tuple[np.ndarray, list[str]]:
        """(each row's code, the distinct values decoded); a missing column is all ""."""
        rows = len(self.starts)
        if name not in self.columns:
            return np.zeros(rows, np.int64), [""]
        starts, ends = self.bounds(name)
        lengths = ends - starts
        width = int(lengths.max())
        if width == 0:
            return np.zeros(rows, np.int64), [""]
        if width <= MAX_FIXED_WIDTH:
            padded = -(-width // 8) * 8
            k = np.arange(padded)
            matrix = np.where(k < lengths[:, None],
                              self.data[np.minimum(starts[:, None] + k, len(self.data) - 1)], 0)
            # zero-padded, so equal rows are equal fields: NUL never occurs in a plain block
            words = np.ascontiguousarray(matrix, np.uint8).view(np.uint64)
            keys = words[:, 0].copy()
            for j in range(1, words.shape[1]):  # a hash of the words, checked below
                keys *= HASH_MULTIPLIER
                keys ^= words[:, j]
            _, first, codes = np.unique(keys, return_index=True, return_inverse=True)
            codes = codes.ravel()
            if words.shape[1] > 1 and not bool((words == words[first[codes]]).all()):
                keys = words.view(f"S{padded}").ravel()  # two fields share a hash: compare them whole
                _, first, codes = np.unique(keys, return_index=True, return_inverse=True)
                codes = codes.ravel()
            texts = [self.block[s:e].decode("utf-8")
                     for s, e in zip(starts[first].tolist(), ends[first].tolist(), strict=True)]
            return codes, texts
        found: dict[bytes, int] = {}
        block = self.block
        codes = np.array([found.setdefault(block[s:e], len(found))
                          for s, e in zip(starts.tolist(), ends.tolist(), strict=True)], np.int64)
        return codes, [value.decode("utf-8") for value in found]
