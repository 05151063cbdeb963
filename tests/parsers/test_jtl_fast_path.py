"""Differential tests of the vectorised CSV JTL reader (app/parsers/jtl_fast.py).

``jmeter.parse_csv`` reads plain blocks of a JTL file with numpy and hands everything else
to the row reader. Each test parses the same bytes twice — block reader on, and off
(``jtl_fast.ENABLED = False``: the row reader alone, as before) — and requires the same
ParsedRun (its full dict form) or the same error message. Files: the benchmark generator's
JTL, with small blocks so that block borders fall everywhere (sub-results after their parent
in the next block, quoted records spanning blocks), and many mutated copies of it (quoting,
commas in labels, transactions, SampleCount/ErrorCount, missing columns, ISO dates, blank
lines, CRLF, bad UTF-8, bad figures, more than MAX_ENDPOINTS labels, a time series that
widens, gzip …).
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import random
from collections.abc import Callable

import numpy as np
import pytest

from app.parsers import InputFile, ParseError, jtl_fast, parse_run
from app.parsers.samples import MAX_ENDPOINTS, MAX_TIME_BUCKETS
from bench.uploads import START, write_jmeter_csv

SIZE_MB = 0.3
SMALL_BLOCKS = (1 << 20, 4096, 700)
TRANSACTION = '"Number of samples in transaction : 3, number of failing samples : 1"'  # as JMeter quotes it
PLAIN_TRANSACTION = "Number of samples in transaction : 3"


@pytest.fixture(scope="module")
def jtl_lines(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    (path,) = write_jmeter_csv(tmp_path_factory.mktemp("jtl"), SIZE_MB)
    return path.read_text().splitlines()


def _outcome(data: bytes) -> tuple[str, object]:
    try:
        run = parse_run([InputFile("results.jtl", io.BytesIO(data))], "jmeter-csv")
    except ParseError as exc:
        return ("error", exc.message)
    return ("run", dataclasses.asdict(run))


def _both(monkeypatch: pytest.MonkeyPatch, data: bytes, block: int = 4096) -> tuple[tuple, tuple, int]:
    """(block reader outcome, row reader outcome, how many blocks the block reader took)."""
    monkeypatch.setattr(jtl_fast, "BLOCK_BYTES", block)
    original = jtl_fast._Blocks.take
    taken = 0

    def counting(self: jtl_fast._Blocks, chunk: bytes) -> int | None:
        nonlocal taken
        result = original(self, chunk)
        taken += result is not None
        return result

    monkeypatch.setattr(jtl_fast._Blocks, "take", counting)
    fast = _outcome(data)
    monkeypatch.setattr(jtl_fast._Blocks, "take", original)
    monkeypatch.setattr(jtl_fast, "ENABLED", False)
    slow = _outcome(data)
    monkeypatch.setattr(jtl_fast, "ENABLED", True)
    return fast, slow, taken


def _join(lines: list[str], ending: str = "\n") -> bytes:
    return (ending.join(lines) + ending).encode()


def _field(line: str, index: int, value: str) -> str:
    fields = line.split(",")
    fields[index] = value
    return ",".join(fields)


@pytest.mark.parametrize("block", SMALL_BLOCKS)
def test_generated_file_is_read_by_blocks_with_the_same_run(monkeypatch: pytest.MonkeyPatch,
                                                             jtl_lines: list[str], block: int) -> None:
    fast, slow, taken = _both(monkeypatch, _join(jtl_lines), block)
    assert fast[0] == "run" and fast == slow
    assert taken >= (1 if block > 100_000 else 50)
    assert fast[1]["notes"] and "sub-result" in " ".join(fast[1]["notes"])


def test_gzip_and_bom_and_crlf(monkeypatch: pytest.MonkeyPatch, jtl_lines: list[str]) -> None:
    for data in (gzip.compress(_join(jtl_lines)), b"\xef\xbb\xbf" + _join(jtl_lines),
                 _join(jtl_lines, "\r\n"), _join(jtl_lines)[:-1]):
        fast, slow, taken = _both(monkeypatch, data)
        assert fast[0] == "run" and fast == slow and taken >= 50


# Mutations of one data row (column indexes of the benchmark's 17-column header).
ROW_MUTATIONS: list[Callable[[str], str]] = [
    lambda line: _field(line, 2, '"GET /a,b"'),
    lambda line: _field(line, 2, '"GET /quoted"'),
    lambda line: _field(line, 2, '"multi\nline"'),
    lambda line: _field(line, 2, '"multi\r\nline, ""quoted"""'),
    lambda line: _field(line, 8, '"' + "long failure, text\n" * 400 + '"'),
    lambda line: _field(line, 2, '"unclosed'),
    lambda line: _field(line, 2, '"bad"x'),
    lambda line: _field(line, 2, 'mid"quote'),
    lambda line: _field(line, 4, TRANSACTION),
    lambda line: _field(_field(line, 4, TRANSACTION), 2, "Transaction 1"),
    lambda line: _field(line, 4, PLAIN_TRANSACTION),
    lambda line: _field(line, 4, PLAIN_TRANSACTION[:-3]),
    lambda line: _field(line, 0, "2025-10-09 08:53:20.123"),
    lambda line: _field(line, 0, "2025/10/09 08:53:20"),
    lambda line: _field(line, 0, "not a date"),
    lambda line: _field(line, 0, " " + line.split(",")[0]),
    lambda line: _field(line, 0, "0" + line.split(",")[0]),
    lambda line: _field(line, 0, "1" + line.split(",")[0] + "000"),  # 17 digits
    lambda line: _field(line, 0, str(START * 1000 + 5_000_000)),  # later: the series widens
    lambda line: _field(line, 0, str((START + 3 * MAX_TIME_BUCKETS) * 1000)),
    lambda line: _field(line, 0, str(START * 1000 - 90_000_000)),  # earlier than every row
    lambda line: _field(line, 1, "abc"),
    lambda line: _field(line, 1, ""),
    lambda line: _field(line, 1, "1.5"),
    lambda line: _field(line, 1, "-3"),
    lambda line: _field(line, 1, "1e3"),
    lambda line: _field(line, 1, "0"),
    lambda line: _field(line, 1, "70000"),  # beyond the latency table
    lambda line: _field(line, 1, "123456789012345"),
    lambda line: _field(line, 1, "inf"),
    lambda line: _field(line, 1, "٣"),
    lambda line: _field(line, 1, "99999999999999999999"),
    lambda line: _field(line, 2, "GET /é"),
    lambda line: _field(line, 2, "GET /٣"),
    lambda line: _field(line, 2, "GET /-0"),
    lambda line: _field(line, 2, "GET /login-12"),
    lambda line: _field(line, 2, ""),
    lambda line: _field(line, 2, "x" * 200),
    lambda line: _field(line, 3, ""),
    lambda line: _field(line, 3, "Non HTTP response code: java.net.ConnectException"),
    lambda line: _field(line, 5, ""),
    lambda line: _field(line, 5, "Thread Group 1-7"),
    lambda line: _field(line, 7, "false"),
    lambda line: _field(line, 7, " FALSE "),
    lambda line: _field(line, 7, "True"),
    lambda line: _field(line, 7, ""),
    lambda line: _field(_field(line, 7, "false"), 8, ""),
    lambda line: _field(line, 12, ""),
    lambda line: _field(_field(line, 12, ""), 11, ""),
    lambda line: _field(line, 12, "7.0"),
    lambda line: _field(line, 12, "x"),
    lambda line: line + ",",
    lambda line: line.rsplit(",", 1)[0],
    lambda line: "",
    lambda line: "   ",
    lambda line: line + "\n",
    lambda line: line + "\r",
    lambda line: line.replace(",", "\x00,", 1),
    lambda line: line + "\n" + line,
]


def _check(monkeypatch: pytest.MonkeyPatch, data: bytes, block: int = 4096) -> tuple:
    fast, slow, taken = _both(monkeypatch, data, block)
    assert fast == slow
    return fast, taken


@pytest.mark.parametrize("min_plain", [16 * 1024, 1])  # 1: every plain run beside a quoted line is a piece
@pytest.mark.parametrize("mutation", range(len(ROW_MUTATIONS)))
def test_each_mutation_of_a_row(monkeypatch: pytest.MonkeyPatch, jtl_lines: list[str], mutation: int,
                                min_plain: int) -> None:
    monkeypatch.setattr(jtl_fast, "MIN_PLAIN_BYTES", min_plain)
    lines = list(jtl_lines)
    for i in (len(lines) // 3, len(lines) // 3 + 1, len(lines) * 2 // 3 + 2):
        lines[i] = ROW_MUTATIONS[mutation](lines[i])
    _, taken = _check(monkeypatch, _join(lines))
    assert taken >= 10  # the other blocks still went through the block reader


@pytest.mark.parametrize("seed", range(40))
def test_randomly_mutated_files(monkeypatch: pytest.MonkeyPatch, jtl_lines: list[str], seed: int) -> None:
    rng = random.Random(seed)
    lines = list(jtl_lines)
    for n in range(rng.choice((1, 2, 3, 6))):
        i = rng.randrange(1, len(lines))
        mutate = ROW_MUTATIONS[(seed + n * 7) % len(ROW_MUTATIONS)] if n == 0 else rng.choice(ROW_MUTATIONS)
        lines[i] = mutate(lines[i])
    data = _join(lines, rng.choice(("\n", "\n", "\r\n")))
    if seed % 10 == 7:
        cut = len(data) * rng.choice((1, 2, 3)) // 4
        data = data[:cut] + b"\xc3(" + data[cut:]
    if seed % 10 == 8:
        data = gzip.compress(data)
    monkeypatch.setattr(jtl_fast, "MIN_PLAIN_BYTES", rng.choice((16 * 1024, 300, 1)))
    _check(monkeypatch, data, rng.choice(SMALL_BLOCKS))


@pytest.mark.parametrize("drop", ["threadName", "success", "responseCode", "responseMessage",
                                  "failureMessage", "allThreads", "grpThreads", "allThreads grpThreads",
                                  "threadName success responseCode responseMessage failureMessage "
                                  "allThreads grpThreads"])
def test_missing_optional_columns(monkeypatch: pytest.MonkeyPatch, jtl_lines: list[str], drop: str) -> None:
    header = jtl_lines[0].split(",")
    keep = [i for i, name in enumerate(header) if name not in drop.split()]
    lines = [",".join(line.split(",")[i] for i in keep) for line in jtl_lines]
    fast, taken = _check(monkeypatch, _join(lines))
    assert fast[0] == "run" and taken >= 50


def test_columns_in_another_order(monkeypatch: pytest.MonkeyPatch, jtl_lines: list[str]) -> None:
    lines = [",".join(reversed(line.split(","))) for line in jtl_lines]
    fast, taken = _check(monkeypatch, _join(lines))
    assert fast[0] == "run" and taken >= 50


@pytest.mark.parametrize("values", [("1", "0"), ("", ""), ("0", "0"), ("3", "1"), ("1", "1"), ("10", "0"),
                                    ("x", "0")])
def test_sample_and_error_count_columns(monkeypatch: pytest.MonkeyPatch, jtl_lines: list[str],
                                        values: tuple[str, str]) -> None:
    lines = [jtl_lines[0] + ",SampleCount,ErrorCount"] + [line + ",1,0" for line in jtl_lines[1:]]
    for i in range(5, len(lines), 97):
        lines[i] = lines[i].rsplit(",", 2)[0] + f",{values[0]},{values[1]}"
    fast, taken = _check(monkeypatch, _join(lines))
    assert fast[0] == "error" if values[0] == "x" else taken >= 10


@pytest.mark.parametrize("message", [TRANSACTION, PLAIN_TRANSACTION])
def test_transactions_only(monkeypatch: pytest.MonkeyPatch, jtl_lines: list[str], message: str) -> None:
    lines = [jtl_lines[0]] + [_field(line, 4, message) for line in jtl_lines[1:]]
    fast, _ = _check(monkeypatch, _join(lines))
    assert fast[0] == "run" and "Only Transaction Controller" in " ".join(fast[1]["notes"])


def test_more_endpoints_than_kept(monkeypatch: pytest.MonkeyPatch, jtl_lines: list[str]) -> None:
    lines = [jtl_lines[0]] + [_field(line, 2, f"GET /item/{i}") for i, line in enumerate(jtl_lines[1:])]
    assert len(lines) > MAX_ENDPOINTS * 2
    fast, taken = _check(monkeypatch, _join(lines))
    assert fast[0] == "run" and "(other endpoints)" in [e["name"] for e in fast[1]["endpoints"]]
    assert taken >= 5  # before the cap is reached


def test_long_run_widens_the_series(monkeypatch: pytest.MonkeyPatch, jtl_lines: list[str]) -> None:
    lines = [jtl_lines[0]] + [_field(line, 0, str((START + 3 * i) * 1000)) for i, line in enumerate(jtl_lines[1:])]
    fast, taken = _check(monkeypatch, _join(lines))
    assert fast[0] == "run" and any("-second buckets" in note for note in fast[1]["notes"])
    assert taken >= 5


@pytest.mark.parametrize("threads", [1, 2, 7])
def test_sub_result_chains_and_interleaved_threads(monkeypatch: pytest.MonkeyPatch, threads: int) -> None:
    """Labels ending in -<n> that are and are not sub-results, chains (A, A-1, A-1-2), threads
    interleaved, parents and children in different blocks."""
    rng = random.Random(threads)
    header = "timeStamp,elapsed,label,responseCode,threadName,success,allThreads"
    rows = []
    for i in range(6000):
        label = rng.choice(["A", "A-1", "A-1-2", "A-2", "B-3", "B", "B-3-0", "A-0", "C1", "C1-1", "-1", "9"])
        rows.append(f"{START * 1000 + i * 7},{rng.randrange(0, 50)},{label},{rng.choice(['200', '404'])},"
                    f"T-{rng.randrange(threads)},{rng.choice(['true', 'true', 'false'])},{threads}")
    for block in (300, 4096):
        fast, taken = _check(monkeypatch, _join([header, *rows]), block)
        assert fast[0] == "run" and taken >= 10


@pytest.mark.parametrize("data", [
    b"", b"\n", b"timeStamp,elapsed,label\n", b"timeStamp,elapsed,label", b"timeStamp,elapsed\n1,2\n",
    b"timeStamp,elapsed,label\n\n\n", b'"timeStamp",elapsed,label\n1,2,a\n', b"timeStamp,elapsed,label\r1,2,a\r",
    b"timeStamp,elapsed,label\r\n1,2,a\r\n", b" timeStamp , elapsed,label\n1,2,a\n", b"timeStamp,elapsed,label\n1,2,a",
    b"timeStamp,elapsed,label\n1,2,a\n1,2", b"timeStamp,elapsed,label\n1,2,\xff\n", b"\xfftimeStamp,elapsed,label\n1,2,a\n",
    b"timeStamp,elapsed,label,label\n1,2,a,b\n", b"timeStamp,elapsed,label\n1,2,\"a\n", b"1760000000000,2,a\n",
    b"timeStamp,elapsed,label,threadName\n1,2,a,t\n1,2,a-1,t\n1,2,a-1,u\n",
    b"timeStamp,elapsed,label\n1,2,a\n\n1,2\n1,2,a\n", b"timeStamp,elapsed,label\n1,2,a\n1,2,b\r",
    b"timeStamp,elapsed,label\n1,2,a\n1,2,\"b\n", b"timeStamp,elapsed,label\n1,2,a\n1,2,\"b\nc\"\n",
    b"timeStamp,elapsed,label\n1,2,a\r1,2,b\n", b"timeStamp,elapsed,label\n1,2,a\r\n\r\n1,2,b\r\n",
])
def test_small_files(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    for block in (1 << 20, 5):
        _check(monkeypatch, data, block)


def test_line_longer_than_a_block(monkeypatch: pytest.MonkeyPatch, jtl_lines: list[str]) -> None:
    lines = list(jtl_lines)
    lines[100] = _field(lines[100], 8, "f" * 10_000)
    _check(monkeypatch, _join(lines), 4096)


@pytest.mark.parametrize("depth", [3, 12])
def test_long_sub_result_chains(monkeypatch: pytest.MonkeyPatch, depth: int) -> None:
    """A, A-1, A-1-1, A-1-1-1 …: every other one is a sub-result, which the vectorised guess
    only settles one link per round; long chains are decided row by row."""
    header = "timeStamp,elapsed,label,threadName"
    rows = [f"{START * 1000 + i},{i % 9},A{'-1' * (i % depth)},T-{i // 50 % 3}" for i in range(3000)]
    fast, taken = _check(monkeypatch, _join([header, *rows]))
    assert fast[0] == "run" and taken >= 10


def test_empty_thread_names_in_a_whole_block(monkeypatch: pytest.MonkeyPatch, jtl_lines: list[str]) -> None:
    lines = [jtl_lines[0]] + [_field(line, 5, "") if i < 1000 else line for i, line in enumerate(jtl_lines[1:])]
    fast, taken = _check(monkeypatch, _join(lines))
    assert fast[0] == "run" and taken >= 50


@pytest.mark.parametrize("where", [0.3, 0.999])
def test_unclosed_quote(monkeypatch: pytest.MonkeyPatch, jtl_lines: list[str], where: float) -> None:
    lines = list(jtl_lines)
    i = int(len(lines) * where)
    lines[i] = _field(lines[i], 8, '"no end')
    _check(monkeypatch, _join(lines))
    monkeypatch.setattr(jtl_fast, "MAX_CARRY_BYTES", 10_000)
    _check(monkeypatch, _join(lines))


def test_quoted_fields_shorter_than_the_field_limit_spanning_many_blocks(monkeypatch: pytest.MonkeyPatch,
                                                                         jtl_lines: list[str]) -> None:
    lines = list(jtl_lines)
    lines[200] = _field(lines[200], 8, '"' + "x\n" * 30_000 + '"')
    for carry in (8 << 20, 20_000):
        monkeypatch.setattr(jtl_fast, "MAX_CARRY_BYTES", carry)
        fast, _ = _check(monkeypatch, _join(lines))
        assert fast[0] == "run"


def test_damaged_gzip(monkeypatch: pytest.MonkeyPatch, jtl_lines: list[str]) -> None:
    packed = gzip.compress(_join(jtl_lines))
    for data in (packed[: len(packed) * 2 // 3], packed[:-3], packed[:100] + b"junk" + packed[104:]):
        fast, _ = _check(monkeypatch, data)
        assert fast[0] == "error"


@pytest.mark.parametrize("every", [400, 37, 3])
def test_quoted_messages_here_and_there(monkeypatch: pytest.MonkeyPatch, jtl_lines: list[str], every: int) -> None:
    """JMeter quotes a failure message with a comma: the lines with one go to the row reader
    (with the short runs of plain lines between them), long plain runs around them do not."""
    lines = list(jtl_lines)
    for i in range(3, len(lines), every):
        lines[i] = _field(_field(lines[i], 7, "false"), 8, '"The operation lasted too long: It took 1,234 ms"')
    lines[50] = _field(lines[50], 8, '"two\nlines, ""quoted"""')
    fast, slow, taken = _both(monkeypatch, _join(lines), 1 << 20)
    assert fast[0] == "run" and fast == slow
    monkeypatch.setattr(jtl_fast, "MIN_PLAIN_BYTES", 1)
    assert _both(monkeypatch, _join(lines), 4096)[:2] == (fast, slow)
    if every == 400:  # plain runs of ~48 KB between quoted lines
        assert taken >= len(lines) // every - 2


def test_string_fields_that_share_a_hash(monkeypatch: pytest.MonkeyPatch, jtl_lines: list[str]) -> None:
    """Distinct values are found by a hash of each field's 8-byte words, then checked: with a
    hash that collides on purpose (only the last word counts) the fields are compared whole."""
    monkeypatch.setattr(jtl_fast, "HASH_MULTIPLIER", np.uint64(0))
    lines = [jtl_lines[0]] + [_field(line, 2, f"{i % 7}-prefix GET /same/tail/{i % 3}") for i, line in
                              enumerate(jtl_lines[1:])]
    fast, taken = _check(monkeypatch, _join(lines))
    assert fast[0] == "run" and len(fast[1]["endpoints"]) == 21 and taken >= 50
