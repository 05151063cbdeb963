"""A real scale-out deployment on loopback: PostgreSQL, Redis, N gunicorn processes and nginx
with the repository's own configuration (deploy/nginx). Everything talks to 127.0.0.1 only
and is torn down by the fixture."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests
import socketio

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


class OwnRedis:
    """A throwaway redis-server on a free loopback port that a test may stop and restart."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.port, self.proc = tmp, free_port(), None

    def start(self) -> str:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.tmp)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        url = f"redis://127.0.0.1:{self.port}/0"
        wait_for(lambda: self._ping(), what="redis-server")
        return url

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


@dataclass
class Cluster:
    env: dict
    tmp: Path
    app_ports: list[int] = field(default_factory=list)
    procs: dict = field(default_factory=dict)  # port -> Popen
    nginx: subprocess.Popen | None = None
    nginx_port: int = 0
    redis: OwnRedis | None = None
    voters: list = field(default_factory=list)  # (email, name) of seeded voting members
    worker_connections: int = 256  # nginx; bench/sockets.py raises it for hundreds of sockets
    threads: int = 20  # gunicorn --threads of each app process

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    def flask(self, *args: str) -> str:
        out = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=self.env,
                             capture_output=True, text=True, timeout=300, check=True)
        return out.stdout

    def seed_voters(self, count: int) -> list[tuple[str, str]]:
        """Add ``count`` voting members to the demo team (tests/scaleout/seed.py); returns their
        (email, name)."""
        from tests.scaleout.seed import voters

        subprocess.run([str(VENV_BIN / "python"), "-m", "tests.scaleout.seed", str(count)], cwd=ROOT,
                       env=self.env | {"TRADEOFF_SCHEDULER": "off"}, capture_output=True, text=True,
                       timeout=300, check=True)
        return voters(count)

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        """Ask the cluster's PostgreSQL database directly (what is really committed)."""
        with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def node_of(self, port: int) -> str:
        """The X-Tradeoff-Node name (host:pid) of the process on ``port``."""
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).headers["X-Tradeoff-Node"]

    def port_of(self, node: str) -> int:
        for port in self.procs:
            if self.node_of(port) == node:
                return port
        raise AssertionError("no running process answers as " + node)

    def start_app(self, port: int) -> None:
        log = open(self.tmp / f"app-{port}.log", "w")  # noqa: SIM115 - closed with the process
        self.procs[port] = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "--workers", "1", "--threads", str(self.threads), "--bind",
             f"127.0.0.1:{port}", "--graceful-timeout", "2", "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        # Generous: on a loaded machine importing the app and its first database round trip
        # can take far longer than on a quiet one.
        wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), timeout=120, interval=0.25,
                 what=f"app on {port}")

    def kill_app(self, port: int) -> None:
        """A crash: SIGKILL to the gunicorn master and its worker at once."""
        proc = self.procs.pop(port)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def start_nginx(self) -> None:
        self.nginx_port = free_port()
        servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in self.app_ports)
        upstream = (ROOT / "deploy/nginx/upstream.conf").read_text()
        upstream = re.sub(r"(?m)^    server 127\.0\.0\.1:\d+[^\n]*\n", "", upstream)
        upstream = upstream.replace("    keepalive", servers + "\n    keepalive")
        conf = self.tmp / "nginx.conf"
        conf.write_text(f"""
daemon off;
worker_processes 1;
pid {self.tmp}/nginx.pid;
error_log {self.tmp}/nginx-error.log warn;
worker_rlimit_nofile {4 * self.worker_connections};
events {{ worker_connections {self.worker_connections}; }}
http {{
    access_log {self.tmp}/nginx-access.log;
    client_body_temp_path {self.tmp}/body;
    proxy_temp_path {self.tmp}/proxy;
    fastcgi_temp_path {self.tmp}/fastcgi;
    uwsgi_temp_path {self.tmp}/uwsgi;
    scgi_temp_path {self.tmp}/scgi;
{upstream}
    server {{
        listen 127.0.0.1:{self.nginx_port};
        include {ROOT}/deploy/nginx/locations.conf;
    }}
}}
""")
        self.nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(self.tmp)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for(lambda: http_ok(f"{self.url}/healthz"), timeout=60, what="nginx")

    def stop(self) -> None:
        for port in list(self.procs):
            proc = self.procs.pop(port)
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.nginx:
            self.nginx.terminate()
            self.nginx.wait(timeout=10)


class Browser:
    """A person's browser as the app sees it: a cookie jar pinned (through the tradeoff_lb
    cookie) to one app process behind nginx, plus a Socket.IO client sharing the cookies."""

    def __init__(self, cluster: Cluster, lb: str) -> None:
        self.cluster = cluster
        self.http = requests.Session()
        self.http.cookies.set("tradeoff_lb", lb, domain="127.0.0.1")
        self.sio: socketio.Client | None = None
        self.events: list[tuple[str, dict]] = []
        self.connections: list[tuple[str, float]] = []  # ("connect"/"disconnect", monotonic)
        self._token: str | None = None

    @property
    def node(self) -> str:
        return self.http.get(f"{self.cluster.url}/healthz").headers["X-Tradeoff-Node"]

    def csrf(self, path: str) -> str:
        html = self.http.get(self.cluster.url + path).text
        return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)  # what htmx sends

    def login(self, email: str, password: str) -> requests.Response:
        self._token = None
        token = self.csrf("/login")
        return self.http.post(f"{self.cluster.url}/login", allow_redirects=False,
                              data={"email": email, "password": password, "csrf_token": token})

    def post(self, path: str, data: dict, page: str) -> requests.Response:
        token = self.csrf(page)
        return self.http.post(self.cluster.url + path, data=data, allow_redirects=False,
                              headers={"X-CSRFToken": token, "HX-Request": "true"})

    def token(self) -> str:
        """The session's CSRF token (fetched once after login, as a page load would)."""
        if self._token is None:
            self._token = self.csrf("/")
        return self._token

    def cast(self, review_id: int, session_id: int, order: list[int]) -> requests.Response:
        """Submit a ranked ballot (candidate ids, first choice first) as the vote form does."""
        ballot = {f"ballot-c{cid}": str(rank) for rank, cid in enumerate(order, 1)}
        return self.http.post(f"{self.cluster.url}/reviews/{review_id}/votes/{session_id}/ballot",
                              data=ballot, allow_redirects=False, timeout=30,
                              headers={"X-CSRFToken": self.token(), "HX-Request": "true"})

    def upload(self, review_id: int, candidate_id: int, path: Path) -> requests.Response:
        """Upload one benchmark file with the page's form (htmx), streamed from disk: the
        multipart body is written next to it first, so a large file never sits in memory."""
        boundary = "tradeoff-" + os.urandom(8).hex()
        body = path.with_name(path.name + ".multipart")
        with body.open("wb") as out:
            out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="upload-candidate"'
                      f'\r\n\r\n{candidate_id}\r\n--{boundary}\r\nContent-Disposition: form-data; '
                      f'name="upload-files"; filename="{path.name}"\r\n'
                      f"Content-Type: application/octet-stream\r\n\r\n".encode())
            with path.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            out.write(f"\r\n--{boundary}--\r\n".encode())
        try:
            with body.open("rb") as data:
                return self.http.post(
                    f"{self.cluster.url}/reviews/{review_id}/benchmarks", data=data, timeout=300,
                    allow_redirects=False,
                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                             "X-CSRFToken": self.token(), "HX-Request": "true"})
        finally:
            body.unlink(missing_ok=True)

    def live(self, review_id: int, step: str) -> str:
        """What app.js re-fetches when it notices it missed updates: GET /reviews/<id>/live."""
        r = self.http.get(f"{self.cluster.url}/reviews/{review_id}/live", params={"step": step},
                          headers={"HX-Request": "true"}, timeout=30)
        assert r.status_code == 200, r.status_code
        return r.text

    def heartbeat(self, review_id: int) -> int:
        """The revision the server reports in the heartbeat ack."""
        return self.sio.call("heartbeat", {"review_id": review_id}, timeout=10)["rev"]

    def seen_rev(self) -> int:
        """The newest revision among the pushes received (app.js keeps the same number)."""
        return max((data.get("rev", 0) for _, data in self.events), default=0)

    def join(self, review_id: int) -> None:
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=2)
        for name in ("fragment", "step", "refresh"):
            self.sio.on(name, lambda data, name=name: self.events.append((name, data)))
        for name in ("connect", "disconnect"):
            self.sio.on(name, lambda *_, name=name: self.connections.append((name, time.monotonic())))
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        self.sio.connect(self.cluster.url, transports=["websocket"], auth={"review": review_id},
                         headers={"Cookie": cookie}, wait_timeout=10)

    def received(self, name: str) -> list[dict]:
        return [data for event, data in self.events if event == name]

    def close(self) -> None:
        if self.sio and self.sio.connected:
            self.sio.disconnect()
