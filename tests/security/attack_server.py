"""A real server for the attack tests: gunicorn (one worker, threads) on 127.0.0.1 with the
production configuration, a SQLite database seeded with the test world, and clients that speak
HTTP, Engine.IO long-polling and raw WebSocket frames the way an attacker would.

Production config sets Secure cookies, which an HTTP client rightly never sends over plain
http://127.0.0.1; the clients here keep their own cookie jar and send it by hand, as a script
that stole the cookie would. Everything talks to 127.0.0.1 and the fixtures stop the server."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import psutil
import pytest
import requests
import websocket

from tests import factories
from tests.scaleout.cluster import ROOT, VENV_BIN, free_port, wait_for

PASSWORD = factories.PASSWORD
SPARES = 4  # extra members: spare0@example.com ... (bystanders, people to remove)


def seed_world(db_path: Path, instance: Path) -> dict:
    """Create the schema and the test world (conftest's personas plus spare members) in a
    SQLite file; return {"review_id", "team_id", "other_review_id", "emails": {persona: email}}."""
    from app import create_app
    from app.config import TestingConfig
    from app.extensions import db
    from app.models import Role

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRADEOFF_INSTANCE_PATH", str(instance))
        app = create_app(TestingConfig(SQLALCHEMY_DATABASE_URI=f"sqlite:///{db_path}"))
        with app.app_context():
            db.create_all()
            made = factories.make_world()
            team, review, users = made["team"], made["review"], made["users"]
            other_review = factories.make_review(made["other_team"], users["non_member"], title="Theirs")
            for n in range(SPARES):
                factories.add_member(team, Role.MEMBER, factories.make_user(
                    f"Spare {n}", f"spare{n}@example.com"))
            world = {"review_id": review.id, "team_id": team.id,
                     "other_review_id": other_review.id,
                     "emails": {p: u.email for p, u in users.items()}}
            db.session.remove()
            db.engine.dispose()
    return world


@dataclass
class LiveServer:
    tmp: Path
    threads: int = 24
    env_extra: dict = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen | None = None
    world: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/socket.io/?EIO=4&transport=websocket"

    def start(self) -> LiveServer:
        instance = self.tmp / "instance"
        db_path = self.tmp / "tradeoff.sqlite3"
        self.world = seed_world(db_path, instance)
        self.port = free_port()
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.tmp),
            "TRADEOFF_ENV": "production",
            "SECRET_KEY": "attack-tests-secret-key-" + "y" * 24,
            "DATABASE_URL": f"sqlite:///{db_path}",
            "TRADEOFF_INSTANCE_PATH": str(instance),
            "TRADEOFF_SCHEDULER": "off",
            "LOGIN_RATE_LIMIT": "1000 per minute",
            **self.env_extra,
        }
        self.log = self.tmp / "gunicorn.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [str(VENV_BIN / "gunicorn"), "--workers", "1", "--threads", str(self.threads),
                 "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "2", "--timeout", "120",
                 "wsgi:app"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(self._healthy, timeout=90, interval=0.25, what="gunicorn")
        except AssertionError:
            self.stop()
            raise AssertionError("gunicorn did not start:\n" + self.log.read_text()[-3000:]) from None
        return self

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError("gunicorn exited:\n" + self.log.read_text()[-3000:])
        try:
            with requests.Session() as http:
                http.trust_env = False
                return http.get(self.url + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def worker_pid(self) -> int:
        children = psutil.Process(self.proc.pid).children()
        assert len(children) == 1, children
        return children[0].pid

    def worker_status(self) -> dict:
        """Threads and resident memory (kB) of the worker, from /proc/<pid>/status."""
        text = Path(f"/proc/{self.worker_pid()}/status").read_text()
        fields = dict(re.findall(r"^(\w+):\s+(\d+)", text, re.M))
        return {"threads": int(fields["Threads"]), "rss_kb": int(fields["VmRSS"])}

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def serve(tmp_path_factory, **options):
    """For a module-scoped fixture: ``yield from serve(tmp_path_factory, threads=.., env_extra=..)``."""
    server = LiveServer(tmp_path_factory.mktemp("live"), **options).start()
    try:
        yield server
    finally:
        server.stop()


class Visitor:
    """A client with its own cookie jar (sent by hand, Secure or not)."""

    def __init__(self, server: LiveServer, headers: dict | None = None) -> None:
        self.server = server
        self.cookies: dict[str, str] = {}
        self.headers = dict(headers or {})
        self.http = requests.Session()
        self.http.trust_env = False

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _remember(self, response: requests.Response) -> None:
        for raw in response.raw.headers.getlist("Set-Cookie"):
            jar = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                gone = morsel["max-age"] == "0" or "1970" in (morsel["expires"] or "")
                if gone or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def request(self, method: str, path: str, **kw) -> requests.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        if self.cookies:
            headers["Cookie"] = self.cookie_header()
        kw.setdefault("timeout", 30)
        r = self.http.request(method, self.server.url + path, headers=headers,
                              allow_redirects=False, **kw)
        self._remember(r)
        return r

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    def csrf(self, path: str = "/login") -> str:
        html = self.get(path).text
        return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)

    def login(self, persona_or_email: str, password: str = PASSWORD) -> requests.Response:
        email = self.server.world["emails"].get(persona_or_email, persona_or_email)
        token = self.csrf("/login")
        return self.post("/login", data={"email": email, "password": password, "csrf_token": token})

    def logout(self) -> requests.Response:
        return self.post("/logout", data={"csrf_token": self.csrf("/account")})


def logged_in(server: LiveServer, persona: str, **kw) -> Visitor:
    v = Visitor(server, **kw)
    r = v.login(persona)
    assert r.status_code == 303, (r.status_code, r.text[:300])
    return v


class RawSocket:
    """Socket.IO v5 over a raw WebSocket (Engine.IO v4), frame by frame."""

    def __init__(self, server: LiveServer, cookie: str | None = None, origin: str | None = None,
                 timeout: float = 15, extra_headers: list[str] | None = None) -> None:
        headers = list(extra_headers or [])
        if cookie:
            headers.append(f"Cookie: {cookie}")
        kw = {"header": headers, "timeout": timeout, "suppress_origin": origin is None}
        if origin is not None:
            kw["origin"] = origin
        self.ws = websocket.create_connection(server.ws_url, **kw)
        opening = self.ws.recv()
        assert opening.startswith("0"), opening
        self.open = json.loads(opening[1:])
        self._ack = 0

    def recv(self) -> str:
        """The next Socket.IO frame; answers Engine.IO pings on the way."""
        while True:
            frame = self.ws.recv()
            if frame == "2":
                self.ws.send("3")
                continue
            return frame

    def pump(self) -> None:
        """Answer the pings that have arrived, without waiting (keeps an idle socket alive)."""
        while select.select([self.ws.sock], [], [], 0)[0]:
            if self.ws.recv() == "2":
                self.ws.send("3")

    def connect(self, review_id) -> str:
        """Send the namespace CONNECT; return "connected" or the refusal message."""
        self.ws.send("40" + json.dumps({"review": review_id}))
        return self.connect_result()

    def connect_result(self) -> str:
        while True:
            frame = self.recv()
            if frame.startswith("40"):
                return "connected"
            if frame.startswith("44"):
                return "refused: " + json.loads(frame[2:]).get("message", "")
            if frame.startswith("41") or frame == "1" or frame == "":
                return "disconnected"

    def emit(self, event: str, data, ack: bool = True) -> int | None:
        if not ack:
            self.ws.send("42" + json.dumps([event, data]))
            return None
        self._ack += 1
        self.ws.send(f"42{self._ack}" + json.dumps([event, data]))
        return self._ack

    def wait_ack(self, ack_id: int):
        while True:
            frame = self.recv()
            m = re.match(r"43(\d+)(.*)", frame, re.S)
            if m and int(m.group(1)) == ack_id:
                return json.loads(m.group(2))[0]
            if frame.startswith("41") or frame in ("1", ""):
                raise ConnectionError("disconnected: " + frame)

    def call(self, event: str, data):
        return self.wait_ack(self.emit(event, data))

    def close(self) -> None:
        try:
            self.ws.close()
        except (OSError, websocket.WebSocketException):
            pass


def polling_handshake(server: LiveServer, cookie: str | None = None, origin: str | None = None,
                      timeout: float = 15) -> requests.Response:
    """The first request of a long-polling Engine.IO connection, as a browser would send it."""
    headers = {}
    if cookie:
        headers["Cookie"] = cookie
    if origin is not None:
        headers["Origin"] = origin
    with requests.Session() as http:
        http.trust_env = False
        return http.get(server.url + "/socket.io/", params={"EIO": "4", "transport": "polling"},
                        headers=headers, timeout=timeout)


def timed(fn, *args, **kw) -> tuple[float, object]:
    start = time.monotonic()
    result = fn(*args, **kw)
    return time.monotonic() - start, result
