"""Differential tests of the parsers' fast lanes against the paths they stand in for.

k6 ``--out json``: plain Point lines of metrics that are not aggregated are found by one
regular-expression pass per batch instead of being decoded (``k6._plain_batch``). Locust
stats history: plain lines are counted and only the Aggregated ones split
(``locust._plain_history_lines``). Each is compared, on generated files and on many mutated
copies of them (hostile lines, escapes, odd numbers and times, quoting, blank lines, CRLF,
bad UTF-8 …), with the same parser whose fast lane is switched off: the same run, or the
same error message, every time.
"""

from __future__ import annotations

import dataclasses
import io
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from app.parsers import InputFile, ParseError, parse_run
from app.parsers import k6 as k6_module
from app.parsers import locust as locust_module
from bench.uploads import LOCUST_STATS, write_k6_ndjson, write_locust_csv

SIZE_MB = 0.25  # several 64 KiB text chunks, so batches and their borders are exercised


def _outcome(fmt: str, files: list[tuple[str, bytes]]) -> tuple[str, object]:
    try:
        run = parse_run([InputFile(name, io.BytesIO(data)) for name, data in files], fmt)
    except ParseError as exc:
        return ("error", exc.message)
    return ("run", dataclasses.asdict(run))


def _both(monkeypatch: pytest.MonkeyPatch, fmt: str, files: list[tuple[str, bytes]],
          target: object, name: str, off: Callable) -> tuple[tuple, tuple, int]:
    """(fast outcome, reference outcome, how many batches the fast lane took)."""
    original = getattr(target, name)
    taken = 0

    def counting(*args: object) -> object:
        nonlocal taken
        result = original(*args)
        taken += result is not None and result is not False
        return result

    monkeypatch.setattr(target, name, counting)
    fast = _outcome(fmt, files)
    monkeypatch.setattr(target, name, off)
    slow = _outcome(fmt, files)
    monkeypatch.setattr(target, name, original)
    return fast, slow, taken


# -- k6 ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def k6_lines(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    (path,) = write_k6_ndjson(tmp_path_factory.mktemp("k6"), SIZE_MB)
    return path.read_text().splitlines()


def _plain_indexes(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines)
            if line.startswith('{"metric":"') and '"type":"Point"' in line
            and not any(f'"metric":"{m}"' in line for m in k6_module.SAMPLE_METRICS)]


STAMP = '"time":"'
K6_MUTATIONS: list[Callable[[str], str]] = [
    lambda line: line.replace('"value":', '"value":1e309,"x":', 1),
    lambda line: _set_value(line, "1e309"),
    lambda line: _set_value(line, "99999999999999999999999999"),
    lambda line: _set_value(line, "9" * 5000),
    lambda line: _set_value(line, "NaN"),
    lambda line: _set_value(line, "-0"),
    lambda line: _set_value(line, "01"),
    lambda line: _set_value(line, "1."),
    lambda line: _set_value(line, "true"),
    lambda line: _set_value(line, '"5"'),
    lambda line: _set_value(line, "-12.5e-3"),
    lambda line: _set_time(line, "not a time"),
    lambda line: _set_time(line, "2025-10-09T08:53:20"),
    lambda line: _set_time(line, "2031-01-01T00:00:00Z"),  # later than every request
    lambda line: _set_time(line, "2001-01-01T00:00:00+02:00"),  # earlier than every request
    lambda line: _set_time(line, "2025\\u002d10-09T08:53:20Z"),
    lambda line: _set_time(line, "2025-10-09T08:53:20\x01Z"),
    lambda line: _set_metric(line, "http_req\\u0073"),  # an escaped sample metric
    lambda line: _set_metric(line, "http_reqs"),
    lambda line: _set_metric(line, "vus"),
    lambda line: _set_metric(line, "my\\\"metric"),
    lambda line: _set_metric(line, "caf\u00e9\u2028"),
    lambda line: _set_tags(line, '{"a":1}'),
    lambda line: _set_tags(line, '{"a":99999999999999999999999}'),
    lambda line: _set_tags(line, "[1,2"),
    lambda line: _set_tags(line, '{"a":"\\u0000"}'),
    lambda line: _set_tags(line, "null"),
    lambda line: _set_tags(line, "{}}"),
    lambda line: _set_tags(line, "[" * 3000 + "]" * 3000),
    lambda line: _set_tags(line, " {} "),
    lambda line: _set_tags(line, '{"a":NaN}'),
    lambda line: line + " ",
    lambda line: line[:-1] + ',"metric":"http_reqs"}',
    lambda line: line[:-2] + '},"type":"Metric"}',
    lambda line: line[: len(line) // 2],
    lambda line: line.replace('"type":"Point"', '"type":"Metric"'),
    lambda line: line.replace('{"metric"', '{ "metric"'),
    lambda line: "[" + line + "]",
    lambda line: "",
    lambda line: "   ",
    lambda line: line + "\n" + line,
    lambda line: line.replace("}}", "}}\r"),
]


def _set_value(line: str, value: str) -> str:
    start = line.index('"value":') + 8
    return line[:start] + value + line[line.index(',"tags":', start):]


def _set_time(line: str, stamp: str) -> str:
    start = line.index(STAMP) + len(STAMP)
    return line[:start] + stamp + line[line.index('"', start):]


def _set_metric(line: str, name: str) -> str:
    return '{"metric":"' + name + line[line.index('","type"'):]


def _set_tags(line: str, tags: str) -> str:
    return line[: line.index(',"tags":') + 8] + tags + "}}"


def _k6_check(monkeypatch: pytest.MonkeyPatch, data: bytes) -> tuple[tuple, tuple, int]:
    """(fast, with the plain-line lane off, batches the plain-line lane took)."""
    return _both(monkeypatch, "k6-ndjson", [("out.json", data)], k6_module, "_plain_batch",
                 lambda *args: None)


def test_k6_fast_lane_is_taken_and_gives_the_same_run(monkeypatch: pytest.MonkeyPatch,
                                                      k6_lines: list[str]) -> None:
    fast, slow, taken = _k6_check(monkeypatch, ("\n".join(k6_lines) + "\n").encode())
    assert fast[0] == "run" and fast == slow
    assert taken >= 3  # every batch of the generated file went through the fast lane


def test_k6_span_includes_times_of_skipped_lines(monkeypatch: pytest.MonkeyPatch,
                                                k6_lines: list[str]) -> None:
    """A later iteration_duration line (k6 writes it when the iteration ends) must lengthen
    the run: the skipped lines' times count."""
    lines = list(k6_lines)
    last = _plain_indexes(lines)[-1]
    lines[last] = _set_time(lines[last], "2031-01-01T00:00:00Z")
    data = ("\n".join(lines) + "\n").encode()
    fast, slow, _ = _k6_check(monkeypatch, data)
    assert fast == slow
    base, _, _ = _k6_check(monkeypatch, ("\n".join(k6_lines) + "\n").encode())
    assert fast[1]["summary"]["duration_s"] > base[1]["summary"]["duration_s"]


@pytest.mark.parametrize("seed", range(40))
def test_k6_mutated_files_match_the_line_by_line_path(monkeypatch: pytest.MonkeyPatch,
                                                      k6_lines: list[str], seed: int) -> None:
    rng = random.Random(seed)
    lines = list(k6_lines)
    plain = _plain_indexes(lines)
    for _ in range(rng.choice((1, 1, 2, 5))):
        i = rng.choice(plain) if rng.random() < 0.8 else rng.randrange(len(lines))
        mutate = K6_MUTATIONS[(seed * 7 + _) % len(K6_MUTATIONS)] if _ == 0 else rng.choice(K6_MUTATIONS)
        try:
            lines[i] = mutate(lines[i])
        except ValueError:  # not a Point line: leave it
            pass
    ending = rng.choice(("\n", "\n", "\r\n"))
    data = (ending.join(lines) + ending).encode()
    if seed % 10 == 9:  # bytes that are not UTF-8 in the middle
        cut = len(data) * 2 // 3
        data = data[:cut] + b"\xff" + data[cut:]
    fast, slow, _ = _k6_check(monkeypatch, data)
    assert fast == slow


@pytest.mark.parametrize("mutation", range(len(K6_MUTATIONS)))
def test_k6_each_mutation_of_a_plain_line(monkeypatch: pytest.MonkeyPatch, k6_lines: list[str],
                                          mutation: int) -> None:
    lines = list(k6_lines)
    i = _plain_indexes(lines)[len(lines) // 3 % 50 + 40]
    lines[i] = K6_MUTATIONS[mutation](lines[i])
    fast, slow, _ = _k6_check(monkeypatch, ("\n".join(lines) + "\n").encode())
    assert fast == slow


def _sample_indexes(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines)
            if any(line.startswith(f'{{"metric":"{m}","type":"Point"') for m in k6_module.SAMPLE_METRICS)]


SAMPLE_MUTATIONS: list[Callable[[str], str]] = [
    *K6_MUTATIONS,
    lambda line: _set_value(line, "-0"),
    lambda line: _set_value(line, "0.30000000000000004441"),
    lambda line: _set_value(line, "123456789012345.12345678901234567"),
    lambda line: _set_value(line, "1.5e99"),
    lambda line: _set_value(line, "1E-7"),
    lambda line: _set_value(line, "-1"),
    lambda line: _set_tags(line, "{}"),
    lambda line: _set_tags(line, '{"method":"GET","name":"/x","status":200}'),
    lambda line: _set_tags(line, '{"method":"GET","name":"/x","name":"/y","status":"500"}'),
    lambda line: _set_tags(line, '{"name":"/\\u00e9","status":"0","error":"dial: refused"}'),
    lambda line: _set_tags(line, '{"name":"/a","status":"503","error_code":"1500"}'),
]


@pytest.mark.parametrize("mutation", range(len(SAMPLE_MUTATIONS)))
@pytest.mark.parametrize("metric", ["http_reqs", "http_req_duration", "http_req_failed", "vus"])
def test_k6_each_mutation_of_a_sample_line(monkeypatch: pytest.MonkeyPatch, k6_lines: list[str],
                                           mutation: int, metric: str) -> None:
    """Sample lines have a fast lane of their own (k6._PLAIN_SAMPLE): compared with decoding."""
    lines = list(k6_lines)
    found = [i for i in _sample_indexes(lines) if f'"metric":"{metric}"' in lines[i]]
    i = found[min(7, len(found) - 1)]
    lines[i] = SAMPLE_MUTATIONS[mutation](lines[i])
    data = ("\n".join(lines) + "\n").encode()
    fast, _, _ = _k6_check(monkeypatch, data)
    monkeypatch.setattr(k6_module, "_PLAIN_SAMPLE", lambda line: None)
    k6_module._TAGS.clear()
    fast_plain_lines_only, decoded, _ = _k6_check(monkeypatch, data)
    assert fast == fast_plain_lines_only == decoded


def test_k6_real_sample_unchanged(monkeypatch: pytest.MonkeyPatch, samples: Path) -> None:
    data = (samples / "k6_out_json_first600lines.ndjson").read_bytes()
    fast, slow, taken = _k6_check(monkeypatch, data)
    assert fast[0] == "run" and fast == slow and taken


# -- Locust stats history -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def history_lines(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    _, history = write_locust_csv(tmp_path_factory.mktemp("locust"), SIZE_MB)
    return history.read_bytes().decode().split("\r\n")[:-1]


def _field(line: str, index: int, value: str) -> str:
    fields = line.split(",")
    fields[index] = value
    return ",".join(fields)


HISTORY_MUTATIONS: list[Callable[[str], str]] = [
    lambda line: _field(line, 2, '"GET"'),
    lambda line: _field(line, 3, '"/a,b"'),
    lambda line: _field(line, 3, '"multi\nline"'),
    lambda line: _field(line, 3, '"bad"x'),
    lambda line: line + ",",
    lambda line: line.rsplit(",", 1)[0],
    lambda line: "",
    lambda line: _field(line, 0, "not a number"),
    lambda line: _field(line, 0, "1e400"),
    lambda line: _field(line, 1, "12.5"),
    lambda line: _field(line, 1, "-3"),
    lambda line: _field(line, 4, "N/A"),
    lambda line: _field(line, 11, "N/A"),
    lambda line: _field(line, 11, ""),
    lambda line: _field(line, 5, "nan"),
    lambda line: _field(line, 3, "Aggregated"),
    lambda line: _field(line, 3, "/Aggregated-things"),
    lambda line: _field(line, 2, "GET") if ",Aggregated," in line else line,
    lambda line: _field(line, 3, "aggregated"),
    lambda line: _field(line, 3, "Aggr\x00egated"),
    lambda line: line.replace(",", ", "),
]


def _history_check(monkeypatch: pytest.MonkeyPatch, history: bytes) -> tuple[tuple, tuple, int]:
    files = [("run_stats.csv", LOCUST_STATS.encode()), ("run_stats_history.csv", history)]
    return _both(monkeypatch, "locust-csv", files, locust_module, "_plain_history_lines",
                 lambda *args: False)


def test_locust_fast_lane_is_taken_and_gives_the_same_run(monkeypatch: pytest.MonkeyPatch,
                                                          history_lines: list[str]) -> None:
    fast, slow, taken = _history_check(monkeypatch, ("\r\n".join(history_lines) + "\r\n").encode())
    assert fast[0] == "run" and fast == slow
    assert taken >= 3


@pytest.mark.parametrize("seed", range(40))
def test_locust_mutated_histories_match_the_csv_reader(monkeypatch: pytest.MonkeyPatch,
                                                       history_lines: list[str], seed: int) -> None:
    rng = random.Random(seed)
    lines = list(history_lines)
    for n in range(rng.choice((1, 1, 2, 4))):
        i = rng.randrange(1, len(lines)) if rng.random() < 0.9 else 0  # 0: the header
        mutate = HISTORY_MUTATIONS[(seed + n) % len(HISTORY_MUTATIONS)] if n == 0 else rng.choice(
            HISTORY_MUTATIONS)
        lines[i] = mutate(lines[i])
    if seed % 5 == 4:  # a long history: the time series thins out (stride)
        lines += [_field(line, 0, str(2_000_000_000 + k // 6)) for k, line in
                  enumerate(history_lines[1:] * 2)]
    ending = rng.choice(("\r\n", "\n", "\r"))
    data = (ending.join(lines) + ending).encode()
    if seed % 10 == 7:
        data = data[: len(data) // 2] + b"\xc3(" + data[len(data) // 2:]
    if seed % 10 == 8:
        data = b"\xef\xbb\xbf" + data
    fast, slow, _ = _history_check(monkeypatch, data)
    assert fast == slow


@pytest.mark.parametrize("mutation", range(len(HISTORY_MUTATIONS)))
@pytest.mark.parametrize("where", ["aggregated row", "endpoint row", "header"])
def test_locust_each_mutation(monkeypatch: pytest.MonkeyPatch, history_lines: list[str],
                              mutation: int, where: str) -> None:
    lines = list(history_lines)
    rows = [i for i, line in enumerate(lines) if i and (",Aggregated," in line) == (where == "aggregated row")]
    i = 0 if where == "header" else rows[len(rows) // 2]
    lines[i] = HISTORY_MUTATIONS[mutation](lines[i])
    fast, slow, _ = _history_check(monkeypatch, ("\r\n".join(lines) + "\r\n").encode())
    assert fast == slow


def test_locust_real_sample_unchanged(monkeypatch: pytest.MonkeyPatch, samples: Path) -> None:
    files = [(name, (samples / name).read_bytes()) for name in
             ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv")]
    fast = _outcome("locust-csv", files)
    monkeypatch.setattr(locust_module, "_plain_history_lines", lambda *args: False)
    assert fast[0] == "run" and fast == _outcome("locust-csv", files)
