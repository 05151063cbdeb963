"""Fixtures for the parser tests: sample paths, a parse helper and a loopback HTTP server.

``app.parsers`` is pure (no Flask, nothing else from ``app``). So that these tests check
exactly that and do not depend on the web app importing cleanly, ``app`` is registered as a
bare package when nothing has imported it yet; in a full-suite run where the web app's
conftest imported ``app`` first, the real package is used unchanged.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if "app" not in sys.modules:
    _bare = types.ModuleType("app")
    _bare.__path__ = [str(ROOT / "app")]  # type: ignore[attr-defined]
    sys.modules["app"] = _bare

from app.parsers import InputFile, ParsedRun, parse_run  # noqa: E402

SAMPLES = ROOT.parent / "shared" / "samples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NEEDS_SAMPLES = "needs ../shared/samples (real tool files from public projects)"


@pytest.fixture
def samples() -> Path:
    """The directory of real tool files; the test is skipped when it is absent."""
    if not SAMPLES.is_dir():
        pytest.skip(NEEDS_SAMPLES)
    return SAMPLES


def sample(name: str) -> Path:
    """Path of one real sample file (skips the test when the samples are absent)."""
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(NEEDS_SAMPLES)
    return path


def fixture(name: str) -> Path:
    """Path of one hand-written fixture."""
    return FIXTURES / name


def parse_paths(*paths: Path, fmt: str | None = None, **kwargs) -> ParsedRun:
    """Open ``paths`` and parse them as one run."""
    streams = [path.open("rb") for path in paths]
    try:
        return parse_run([InputFile(p.name, s) for p, s in zip(paths, streams, strict=True)], fmt, **kwargs)
    finally:
        for stream in streams:
            stream.close()


class _Handler(BaseHTTPRequestHandler):
    """``/`` answers 200, ``/fail`` answers 500; both with a small body."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        status = 500 if self.path.startswith("/fail") else 200
        body = b"hello from the parser tests\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 (random port); yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
