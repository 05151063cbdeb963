"""The app served by a real gunicorn on 127.0.0.1 for the upload attacks: a fresh SQLite
instance (migrated with Alembic), one member with a login and an API token, one review, and
helpers to stream request bodies, look at the worker process in /proc and at what is stored.

Everything talks to 127.0.0.1 only; the server is stopped by ``stop()`` (the fixtures call it).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import sqlite3
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.scaleout.cluster import ROOT, VENV_BIN, free_port

PASSWORD = "correct horse battery staple"
SEED = """
import json, sys
from app import create_app
from app.extensions import db
from app.models import Membership, Role
from app.services import accounts, reviews, teams, tokens
app = create_app()
with app.app_context():
    member = accounts.register("member@example.com", "Mia Member", sys.argv[1])
    owner = accounts.register("owner@example.com", "Otto Owner", sys.argv[1])
    team = teams.create_team(owner, "Attack team")
    db.session.add(Membership(team=team, user=member, role=Role.MEMBER.value))
    db.session.commit()
    review = reviews.create_review(owner, team, title="Under attack", question="",
                                   template="python-web-framework")
    _, secret = tokens.create_token(member, "ci")
    print(json.dumps({"review": review.id, "candidate": review.candidates[0].id,
                      "token": secret}))
"""


@dataclass
class LiveApp:
    """A running gunicorn (one worker, threads) and what the tests need to talk to it."""

    root: Path
    port: int
    proc: subprocess.Popen
    review: int
    candidate: int
    token: str
    log_path: Path
    env: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def instance(self) -> Path:
        return self.root / "instance"

    @property
    def uploads(self) -> Path:
        return self.instance / "uploads"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    # --- the worker process, from /proc ----------------------------------------------------

    def worker_pid(self) -> int:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        assert len(children) == 1, f"expected one gunicorn worker, found {children}"
        return int(children[0])

    def worker_memory_kib(self) -> dict[str, int]:
        """VmRSS (now) and VmHWM (peak resident set since the worker started), in KiB."""
        status = Path(f"/proc/{self.worker_pid()}/status").read_text()
        return {key: int(re.search(rf"^{key}:\s+(\d+) kB", status, re.M)[1])
                for key in ("VmRSS", "VmHWM")}

    def healthy(self) -> bool:
        try:
            return requests.get(self.url + "/healthz", timeout=10).status_code == 200
        except requests.RequestException:
            return False

    # --- what is stored ----------------------------------------------------------------------

    def blobs(self) -> list[Path]:
        """Every file under the upload folder (content-addressed blobs and leftovers in tmp/)."""
        return sorted(p for p in self.uploads.rglob("*") if p.is_file()) if self.uploads.exists() else []

    def rows(self, table: str) -> int:
        with sqlite3.connect(f"file:{self.instance / 'tradeoff.sqlite3'}?mode=ro", uri=True) as db:
            return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608

    # --- clients -------------------------------------------------------------------------------

    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def page_session(self) -> tuple[requests.Session, str]:
        """A logged-in browser-like session and the CSRF token the benchmarks page carries."""
        session = requests.Session()
        login = session.get(self.url + "/login", timeout=30).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login)[1]
        r = session.post(self.url + "/login", data={"email": "member@example.com",
                                                     "password": PASSWORD, "csrf_token": token},
                         allow_redirects=False, timeout=60)
        assert r.status_code in (302, 303), r.status_code
        page = session.get(f"{self.url}/reviews/{self.review}/steps/benchmarks", timeout=30).text
        csrf = re.search(r'"X-CSRFToken": "([^"]+)"', page)[1]
        return session, csrf


def start(root: Path, **env_overrides: str) -> LiveApp:
    """Migrate a fresh instance, seed it and start gunicorn; waits until /healthz answers."""
    instance = root / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}
    env |= {"TRADEOFF_INSTANCE_PATH": str(instance), "TRADEOFF_SCHEDULER": "off",
            "LOGIN_RATE_LIMIT": "1000 per minute", "PYTHONDONTWRITEBYTECODE": "1",
            **env_overrides}
    flask = [str(VENV_BIN / "flask"), "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True,
                   timeout=300)
    seeded = subprocess.run([str(VENV_BIN / "python"), "-c", SEED, PASSWORD], cwd=ROOT, env=env,
                            check=True, capture_output=True, text=True, timeout=300)
    ids = json.loads(seeded.stdout.strip().splitlines()[-1])
    port = free_port()
    log_path = root / "gunicorn.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "--workers", "1", "--threads", "8", "--timeout", "300",
             "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    app = LiveApp(root=root, port=port, proc=proc, log_path=log_path, env=env, **ids)
    deadline = time.monotonic() + 120
    while not app.healthy():
        if proc.poll() is not None or time.monotonic() > deadline:
            app.stop()
            raise AssertionError("gunicorn did not start:\n" + log_path.read_text()[-3000:])
        time.sleep(0.2)
    return app


# --- streamed multipart bodies ---------------------------------------------------------------

class Multipart:
    """A multipart/form-data body that is generated while it is sent (never built in memory):
    fields are (name, value) pairs, files are (field name, file name, chunk iterable factory,
    size). ``len()`` is known up front, so the request carries a Content-Length."""

    def __init__(self, fields: Iterable[tuple[str, str]], files: Iterable[tuple]) -> None:
        self.boundary = "----tradeoff-attack-" + secrets.token_hex(8)
        self._fields = list(fields)
        self._files = list(files)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _field_head(self, name: str) -> bytes:
        return (f"--{self.boundary}\r\nContent-Disposition: form-data; "
                f'name="{name}"\r\n\r\n').encode()

    def _file_head(self, name: str, filename: bytes) -> bytes:
        return (f"--{self.boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                ).encode() + b'filename="' + filename + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'

    def __len__(self) -> int:
        total = sum(len(self._field_head(n)) + len(v.encode()) + 2 for n, v in self._fields)
        total += sum(len(self._file_head(n, _b(f))) + size + 2 for n, f, _, size in self._files)
        return total + len(f"--{self.boundary}--\r\n")

    def __iter__(self) -> Iterator[bytes]:
        for name, value in self._fields:
            yield self._field_head(name) + value.encode() + b"\r\n"
        for name, filename, chunks, size in self._files:
            yield self._file_head(name, _b(filename))
            sent = 0
            for chunk in chunks():
                sent += len(chunk)
                yield chunk
            assert sent == size, (filename, sent, size)
            yield b"\r\n"
        yield f"--{self.boundary}--\r\n".encode()


def _b(name: str | bytes) -> bytes:
    return name if isinstance(name, bytes) else name.encode()


def post_stream(app: LiveApp, path: str, body: Multipart, headers: dict[str, str],
                timeout: float = 600) -> tuple[int, str]:
    """POST a streamed body with http.client (Content-Length, no chunking); (status, text).

    If the server answers before the whole body is sent (413, or a 4xx after reading only
    part of it) and closes the connection, the answer is still read."""
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=timeout)
    try:
        conn.putrequest("POST", path)
        for key, value in {**headers, "Content-Type": body.content_type,
                           "Content-Length": str(len(body))}.items():
            conn.putheader(key, value)
        conn.endheaders()
        try:
            for chunk in body:
                conn.send(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early; read that answer below
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()
