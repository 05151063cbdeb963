"""Raw-sample formats are parsed in bounded memory: large generated files on disk, peak
Python allocations (tracemalloc) far below the file size, and the figures still exact."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.parsers import InputFile, parse_run

pytestmark = pytest.mark.slow
MB = 1024 * 1024
PATHS = ["/", "/login", "/api/items", "/api/items/{id}", "/checkout"]
START = 1_700_000_000


def _write(path: Path, lines: Iterator[str], target_bytes: int) -> int:
    """Write generated lines until the file reaches ``target_bytes``; returns the count."""
    written = count = 0
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(line)
            written += len(line)
            count += 1
            if written >= target_bytes:
                break
    return count


def _ndjson(requests: list[int]) -> Iterator[str]:
    """k6 --out json: 5 points per request, like a real run (plus a vus gauge each second)."""
    i = 0
    while True:
        second, name = START + (i // 300), PATHS[i % len(PATHS)]
        stamp = (
            f"2023-11-14T22:{13 + second // 60 % 40:02d}:{second % 60:02d}.{i % 1000:03d}000+00:00"
        )
        tags = (
            f'{{"expected_response":"{"false" if i % 50 == 0 else "true"}","group":"",'
            '"method":"GET",'
            f'"name":"http://127.0.0.1:8099{name}","proto":"HTTP/1.1","scenario":"default",'
            f'"status":"{500 if i % 50 == 0 else 200}","url":"http://127.0.0.1:8099{name}"}}'
        )
        for metric, value in (
            ("http_reqs", 1),
            ("http_req_duration", 1 + (i % 1000) / 10),
            ("http_req_waiting", (i % 1000) / 10),
            ("http_req_failed", 1 if i % 50 == 0 else 0),
            ("data_received", 1234),
        ):
            data = f'{{"time":"{stamp}","value":{value},"tags":{tags}}}'
            yield f'{{"metric":"{metric}","type":"Point","data":{data}}}\n'
        requests[0] = i = i + 1


def _jtl(requests: list[int]) -> Iterator[str]:
    """A default 17-column JMeter CSV JTL, each sample followed by two redirect sub-results."""
    yield (
        "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,"
        "failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect\n"
    )
    i = 0
    while True:
        ts, thread = START * 1000 + i * 3, f"Thread Group 1-{i % 20 + 1}"
        ok = "false" if i % 40 == 0 else "true"
        row = f"{ts},{{e}},{{label}},200,OK,{thread},text,{ok},,39447,302,20,20,https://example.test/,15,0,3\n"
        yield row.format(e=10 + i % 500, label="HTTP Request")
        yield row.format(e=5, label="HTTP Request-0")
        yield row.format(e=5, label="HTTP Request-1")
        requests[0] = i = i + 1


def _xml(requests: list[int]) -> Iterator[str]:
    yield '<?xml version="1.0" encoding="UTF-8"?>\n<testResults version="1.2">\n'
    i = 0
    while True:
        sample = (
            f'<httpSample t="{10 + i % 500}" it="0" lt="5" ct="1" ts="{START * 1000 + i * 3}" '
            f's="{"false" if i % 40 == 0 else "true"}" lb="HTTP Request" rc="200" rm="OK" '
            f'tn="Thread Group 1-1" dt="text" by="100" sby="50" ng="20" na="20">\n'
            f'  <httpSample t="5" ts="{START * 1000 + i * 3}" s="true" lb="HTTP Request-0" '
            'rc="307"/>\n'
            "  <java.net.URL>https://example.test/</java.net.URL>\n</httpSample>\n"
        )
        yield sample
        requests[0] = i = i + 1
        if i % 50_000 == 0:
            yield "<!-- progress comment -->\n"


def _peak_while_parsing(path: Path, progress: list[int]):
    with path.open("rb") as stream:
        tracemalloc.start()
        try:
            run = parse_run([InputFile(path.name, stream)], progress=progress.append)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return run, peak


def _close_file(path: Path) -> None:
    """Finish an XML file written by a generator that was cut mid-stream."""
    with path.open("a", encoding="utf-8") as out:
        out.write("</testResults>\n")


@pytest.mark.parametrize(
    ("name", "generator", "size_mb"),
    [("big.ndjson", _ndjson, 50), ("big.jtl", _jtl, 10), ("big.xml", _xml, 5)],
)
def test_large_raw_files_parse_in_bounded_memory(tmp_path, name, generator, size_mb):
    path = tmp_path / name
    counter = [0]
    _write(path, generator(counter), size_mb * MB)
    if name.endswith(".xml"):
        _close_file(path)
    size = path.stat().st_size
    progress: list[int] = []
    run, peak = _peak_while_parsing(path, progress)
    assert run.summary.requests in (counter[0], counter[0] + 1)  # the generator stops mid-sample
    assert peak < min(size / 4, 16 * MB), f"peak {peak / MB:.1f} MB for a {size / MB:.0f} MB file"
    assert progress == sorted(progress) and progress[-1] == size and len(progress) > 10
    assert len(run.endpoints) <= len(PATHS) and run.timeseries
