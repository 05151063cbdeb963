"""Property-based fuzzing: whatever bytes arrive, only ParseError may escape, and whatever is
parsed obeys the model's invariants (no NaN, no negative figures, fractions within 0..1)."""

from __future__ import annotations

import gzip
import io
import json
import math
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.parsers import FORMATS, InputFile, ParsedRun, ParseError, detect_format, parse_run

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parents[2] / "shared" / "samples"
FUZZ = settings(
    max_examples=int(os.environ.get("PARSER_FUZZ_EXAMPLES", "100")),  # raise it to hunt bugs
    deadline=None,
    database=None,  # no .hypothesis folder in the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TOKENS = [
    b"-1",
    b"nan",
    b"NaN",
    b"Infinity",
    b"\x00",
    b"\xff",
    b'"',
    b",",
    b"\t",
    b"\n",
    b"{",
    b"[",
    b"]",
    b"}",
    b"1e309",
    b"-",
    b"99999999999999999999",
    b"N/A",
    b"",
    b"<",
    b"\r\n",
    b"\x1f\x8b",
]


def _seeds() -> dict[str, list[bytes]]:
    """Every fixture and real sample, grouped by the format it is detected as."""
    paths = [p for p in (HERE / "fixtures").glob("handwritten_*")]
    if SAMPLES.is_dir():
        paths += [p for p in SAMPLES.iterdir() if p.name not in ("FORMATS.md", "README.txt")]
    seeds: dict[str, list[bytes]] = {}
    for path in sorted(paths):
        data = path.read_bytes()
        try:
            fmt = detect_format([InputFile(path.name, io.BytesIO(data))])
        except ParseError:
            continue
        seeds.setdefault(fmt, []).append(data)
    return seeds


SEEDS = _seeds()


@st.composite
def mutated(draw, seeds: list[bytes]) -> bytes:
    """A seed file damaged by a few random edits (and sometimes gzip-compressed)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, max(len(data) - 1, 0)))
        edit = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "repeat", "token"]))
        if edit == "truncate":
            del data[where:]
        elif edit == "flip" and data:
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif edit == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
        elif edit == "delete":
            del data[where : where + draw(st.integers(1, 64))]
        elif edit == "repeat":
            data[where:where] = data[where : where + draw(st.integers(1, 200))]
        else:
            data[where : where + draw(st.integers(0, 3))] = draw(st.sampled_from(TOKENS))
    raw = bytes(data)
    return gzip.compress(raw) if draw(st.integers(0, 9)) == 0 else raw


def check_invariants(run: ParsedRun) -> None:
    """What the web layer may rely on for any successfully parsed run."""
    json.dumps(run.to_dict(), allow_nan=False)  # JSON-safe, no NaN/Infinity
    s = run.summary
    figures = [
        s.requests,
        s.failures,
        s.rps,
        s.duration_s,
        s.concurrency,
        *vars(s.latency_ms).values(),
    ]
    for endpoint in run.endpoints:
        figures += [
            endpoint.requests,
            endpoint.failures,
            endpoint.rps,
            *vars(endpoint.latency_ms).values(),
        ]
    for point in run.timeseries:
        figures += [point.t_s, point.rps, point.p95_ms, point.users]
        assert point.error_rate is None or 0 <= point.error_rate <= 1
    assert all(f is None or (math.isfinite(f) and f >= 0) for f in figures)
    assert s.error_rate is None or 0 <= s.error_rate <= 1
    assert all(n >= 0 for n in [*run.status_codes.values(), *run.errors.values()])


def _parse_or_parse_error(data: bytes, fmt: str | None) -> None:
    try:
        run = parse_run([InputFile("fuzz.bin", io.BytesIO(data))], fmt)
    except ParseError as exc:
        assert exc.message.strip()
        return
    check_invariants(run)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@FUZZ
@given(data=st.data())
def test_mutated_valid_files(fmt, data):
    if fmt not in SEEDS:
        pytest.skip(f"no seed file for {fmt} (needs ../shared/samples)")
    blob = data.draw(mutated(SEEDS[fmt]))
    _parse_or_parse_error(blob, None)
    _parse_or_parse_error(blob, fmt)


@FUZZ
@given(blob=st.binary(max_size=4096), fmt=st.sampled_from([None, *sorted(FORMATS)]))
def test_random_bytes(blob, fmt):
    _parse_or_parse_error(blob, fmt)


@FUZZ
@given(
    text=st.text(max_size=2000),
    prefix=st.sampled_from(["", "{", "[", "RUN\t", "Summary:\n", "<testResults>"]),
)
def test_random_text(text, prefix):
    _parse_or_parse_error((prefix + text).encode(), None)


@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_seeds_themselves_satisfy_the_invariants(fmt):
    for seed in SEEDS[fmt]:
        try:
            run = parse_run([InputFile("seed", io.BytesIO(seed))])
        except ParseError:
            continue  # e.g. the legacy Locust report is refused on purpose
        check_invariants(run)
