"""The public API contract: gzip input, the decompressed-size limit, progress, format
overrides, JSON-safe results and the purity of the package (no Flask, nothing from app)."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.parsers import FORMATS, InputFile, ParsedRun, ParseError, detect_format, parse_run
from app.parsers.api import PARSERS

ROOT = Path(__file__).resolve().parents[2]
K6_LINE = (
    b'{"metric":"http_reqs","type":"Point","data":{"time":"2025-03-01T12:00:00Z","value":1,'
    b'"tags":{"method":"GET","name":"/","status":"200"}}}\n'
)


def _gz(data: bytes) -> io.BytesIO:
    return io.BytesIO(gzip.compress(data))


def test_gzip_input_gives_the_same_run_as_plain(fixtures):
    raw = (fixtures / "handwritten_jmeter_results.xml").read_bytes()
    plain = parse_run([InputFile("r.xml", io.BytesIO(raw))])
    zipped = parse_run([InputFile("r.xml.gz", _gz(raw))])
    assert zipped.to_dict() == plain.to_dict()
    assert detect_format([InputFile("r.gz", _gz(raw))]) == "jmeter-xml"


def test_gzip_locust_csv_set_mixed_with_plain_files(fixtures):
    stats = (fixtures / "handwritten_locust_stats.csv").read_bytes()
    failures = (fixtures / "handwritten_locust_failures.csv").read_bytes()
    files = [InputFile("stats.csv.gz", _gz(stats)), InputFile("failures.csv", io.BytesIO(failures))]
    assert detect_format(files) == "locust-csv"
    assert parse_run(files).summary.requests == 25


def test_decompressed_size_limit_stops_a_gzip_bomb():
    bomb = _gz(K6_LINE * 200_000)  # ~26 MB of text, a few hundred KB compressed
    assert len(bomb.getvalue()) < 1024 * 1024
    with pytest.raises(ParseError, match="decompresses to more than 1,048,576 bytes"):
        parse_run([InputFile("out.json.gz", bomb)], max_decompressed_bytes=1024 * 1024)


def test_size_limit_also_counts_plain_files_and_the_whole_run():
    data = K6_LINE * 10_000
    assert parse_run([InputFile("out.json", io.BytesIO(data))]).summary.requests == 10_000
    with pytest.raises(ParseError, match="is more than 100,000 bytes"):
        parse_run([InputFile("out.json", io.BytesIO(data))], max_decompressed_bytes=100_000)


def test_progress_reports_raw_bytes_read(fixtures):
    raw = (fixtures / "handwritten_k6_out.ndjson").read_bytes()
    big = raw + b"".join(K6_LINE for _ in range(20_000))
    seen: list[int] = []
    parse_run([InputFile("out.json", io.BytesIO(big))], progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == len(big) and len(seen) >= len(big) // (256 * 1024)
    compressed = gzip.compress(big)
    seen.clear()
    parse_run([InputFile("out.json.gz", io.BytesIO(compressed))], progress=seen.append)
    assert seen[-1] == len(compressed)  # progress is about the upload, not the content


def test_stream_position_does_not_matter(fixtures):
    stream = io.BytesIO((fixtures / "handwritten_hey.csv").read_bytes())
    stream.seek(37)
    assert parse_run([InputFile("hey.csv", stream)]).summary.requests == 4


def test_forced_format_matches_detection_and_wrk_variants_are_interchangeable(fixtures):
    path = fixtures / "handwritten_wrk2_uncorrected.txt"
    detected = parse_run([InputFile("a", io.BytesIO(path.read_bytes()))])
    forced = parse_run([InputFile("a", io.BytesIO(path.read_bytes()))], "wrk")
    assert detected.format == forced.format == "wrk2"


def test_formats_registry_is_complete():
    assert set(FORMATS) == set(PARSERS)
    assert all(label.strip() for label in FORMATS.values())


def test_parse_error_contract():
    with pytest.raises(ValueError) as info:  # ParseError is a ValueError
        parse_run([InputFile("x.csv", io.BytesIO(b""))])
    error = info.value
    assert isinstance(error, ParseError) and error.filename == "x.csv"
    assert error.message == str(error) and "x.csv" in error.message


def test_to_dict_is_plain_json(fixtures):
    run = parse_run(
        [InputFile("k6.csv", io.BytesIO((fixtures / "handwritten_k6_out.csv").read_bytes()))]
    )
    assert isinstance(run, ParsedRun)
    data = json.loads(json.dumps(run.to_dict(), allow_nan=False))
    assert data["started_at"] == "2023-11-14T22:13:20+00:00"
    assert data["summary"]["latency_ms"]["max"] == 100
    assert data["timeseries"][0] == {
        "t_s": 0.0,
        "rps": 1.0,
        "p95_ms": 10.0,
        "error_rate": 0.0,
        "users": 2,
    }
    assert set(data) == {
        "format", "tool", "tool_version", "started_at", "summary", "endpoints", "timeseries",
        "status_codes", "errors", "recomputed", "percentile_method", "rps_method", "notes",
    }  # fmt: skip


def test_package_is_pure():
    """Importing app.parsers loads neither Flask nor any other part of app."""
    code = (
        "import sys, types\n"
        "pkg = types.ModuleType('app')\n"
        f"pkg.__path__ = [{str(ROOT / 'app')!r}]\n"
        "sys.modules['app'] = pkg\n"
        "import app.parsers\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug', 'sqlalchemy')\n"
        "       or (m.startswith('app.') and not m.startswith('app.parsers'))]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
