"""Fixtures for the parser tests: sample paths, a parse helper and a loopback HTTP server.

``app.parsers`` is pure (no Flask, nothing else from ``app``; test_parse_api checks that in a
subprocess).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from app.parsers import InputFile, ParsedRun, parse_run

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT.parent / "shared" / "samples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NEEDS_SAMPLES = "needs ../shared/samples (real tool files from public projects)"


@pytest.fixture
def samples() -> Path:
    """The directory of real tool files; the test is skipped when it is absent."""
    if not SAMPLES.is_dir():
        pytest.skip(NEEDS_SAMPLES)
    return SAMPLES


@pytest.fixture
def fixtures() -> Path:
    """The directory of hand-written fixtures (see fixtures/README.md)."""
    return FIXTURES


def parse_paths(*paths: Path, fmt: str | None = None, **kwargs: Any) -> ParsedRun:
    """Open ``paths`` and parse them as one run."""
    streams = [path.open("rb") for path in paths]
    try:
        files = [InputFile(p.name, s) for p, s in zip(paths, streams, strict=True)]
        return parse_run(files, fmt, **kwargs)
    finally:
        for stream in streams:
            stream.close()


@pytest.fixture
def parse() -> Callable[..., ParsedRun]:
    """``parse(*paths, fmt=None, **kwargs)``: open the files and parse them as one run."""
    return parse_paths


@dataclass
class LoopbackServer:
    """A test HTTP server on 127.0.0.1: its base URL and how many requests each path got."""

    url: str
    hits: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, path: str) -> int:
        with self.lock:
            return self.hits[path]


class _Handler(BaseHTTPRequestHandler):
    """``/`` answers 200, ``/fail`` answers 500; both with a small body. Counts hits."""

    protocol_version = "HTTP/1.1"
    state: LoopbackServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        with self.state.lock:
            self.state.hits[path] += 1
        status = 500 if path == "/fail" else 200
        body = b"hello from the parser tests\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    """A threaded HTTP server on 127.0.0.1 (random port), stopped after the test."""
    state = LoopbackServer(url="")
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
