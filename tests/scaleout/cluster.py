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

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    def flask(self, *args: str) -> str:
        out = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=self.env,
                             capture_output=True, text=True, timeout=120, check=True)
        return out.stdout

    def start_app(self, port: int) -> None:
        log = open(self.tmp / f"app-{port}.log", "w")  # noqa: SIM115 - closed with the process
        self.procs[port] = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "--workers", "1", "--threads", "20", "--bind",
             f"127.0.0.1:{port}", "--graceful-timeout", "2", "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), what=f"app on {port}")

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
events {{ worker_connections 256; }}
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
        wait_for(lambda: http_ok(f"{self.url}/healthz"), what="nginx")

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

    @property
    def node(self) -> str:
        return self.http.get(f"{self.cluster.url}/healthz").headers["X-Tradeoff-Node"]

    def csrf(self, path: str) -> str:
        html = self.http.get(self.cluster.url + path).text
        return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)  # what htmx sends

    def login(self, email: str, password: str) -> requests.Response:
        token = self.csrf("/login")
        return self.http.post(f"{self.cluster.url}/login", allow_redirects=False,
                              data={"email": email, "password": password, "csrf_token": token})

    def post(self, path: str, data: dict, page: str) -> requests.Response:
        token = self.csrf(page)
        return self.http.post(self.cluster.url + path, data=data, allow_redirects=False,
                              headers={"X-CSRFToken": token, "HX-Request": "true"})

    def join(self, review_id: int) -> None:
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=2)
        for name in ("fragment", "step", "refresh"):
            self.sio.on(name, lambda data, name=name: self.events.append((name, data)))
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        self.sio.connect(self.cluster.url, transports=["websocket"], auth={"review": review_id},
                         headers={"Cookie": cookie}, wait_timeout=10)

    def received(self, name: str) -> list[dict]:
        return [data for event, data in self.events if event == name]

    def close(self) -> None:
        if self.sio and self.sio.connected:
            self.sio.disconnect()
