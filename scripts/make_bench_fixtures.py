"""Produce benchmark files with the real tools, against a loopback server on 127.0.0.1.

    .venv/bin/python scripts/make_bench_fixtures.py [OUT_DIR]    # default: app/demo_data/benchmarks

writes the demo runs that ``flask demo`` loads (see app/demo_data/README.md): per candidate a
Locust CSV set (``--csv --csv-full-history``, 35 s) and, for two of them, an older short wrk or
hey run. The tests import the same helpers (``Simulator``, ``run_locust``, ``run_wrk``,
``run_ab``, ``run_hey``) to make small files on the fly.

The server imitates a candidate's latency profile (a log-normal delay and an error rate per
path prefix): the FILES are real tool output, the NUMBERS measure the simulator, not a
framework. Every run is bounded in time and only talks to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCUST = Path(sys.executable).with_name("locust")


@dataclass(frozen=True)
class Profile:
    """Median latency (ms), log-normal spread and error rate of one imitated candidate."""

    median_ms: float
    sigma: float
    error_rate: float

    @property
    def p95_ms(self) -> float:
        return self.median_ms * math.exp(1.645 * self.sigma)


PROFILES = {
    "fast": Profile(2.0, 0.3, 0.0),
    "django": Profile(55.0, 0.7, 0.001),
    "flask": Profile(38.0, 0.6, 0.008),
    "fastapi": Profile(14.0, 0.6, 0.0005),
    "litestar": Profile(12.0, 0.55, 0.002),
}


class Simulator:
    """``with Simulator() as sim: sim.url("django")`` — an asyncio HTTP/1.1 server (keep-alive)
    on a free loopback port, in a thread of its own; it waits without holding a thread per
    request, so the tools, not the server, set the pace."""

    def __init__(self, seed: int = 4) -> None:
        self.rng = random.Random(seed)
        self.hits = 0

    def _delay(self, path: str) -> tuple[float, bool]:
        name = path.strip("/").split("/", 1)[0]
        profile = PROFILES.get(name, PROFILES["fast"])
        delay = profile.median_ms * math.exp(self.rng.gauss(0, profile.sigma)) / 1000
        failed = self.rng.random() < profile.error_rate or path.endswith("/fail")
        return min(delay, 2.0), failed

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request_line := await reader.readline():
                length, headers = 0, []
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    headers.append(line.lower())
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                close = b"connection: close\r\n" in headers
                keep_alive = (b"HTTP/1.1" in request_line and not close
                              or b"connection: keep-alive\r\n" in headers)
                if length:
                    await reader.readexactly(length)
                parts = request_line.decode("latin-1").split()
                delay, failed = self._delay(parts[1] if len(parts) > 1 else "/")
                self.hits += 1
                await asyncio.sleep(delay)
                body = b'{"ok": false}\n' if failed else b'{"ok": true, "orders": []}\n'
                status = b"500 Internal Server Error" if failed else b"200 OK"
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    def __enter__(self) -> Simulator:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def start() -> None:
            self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
            self.base = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
            ready.set()

        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(start(), self.loop)
        if not ready.wait(10):
            raise RuntimeError("the loopback server did not start")
        return self

    def url(self, profile: str = "fast") -> str:
        return f"{self.base}/{profile}"

    def __exit__(self, *exc) -> None:
        async def stop() -> None:
            self.server.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


LOCUSTFILE = """
from locust import FastHttpUser, between, task


class Shopper(FastHttpUser):
    wait_time = between(0.01, 0.03)

    @task(3)
    def list_orders(self):
        self.client.get("/orders", name="GET /orders")

    @task(2)
    def one_order(self):
        self.client.get("/orders/42", name="GET /orders/{id}")

    @task(1)
    def create_order(self):
        self.client.post("/orders", json={"item": "book"}, name="POST /orders")
"""


def _env() -> dict[str, str]:
    """No proxies: every request stays on loopback."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def _run(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)


def have(tool: str) -> bool:
    return (LOCUST.exists() if tool == "locust" else shutil.which(tool) is not None)


def run_locust(workdir: Path, host: str, *, users: int = 10, seconds: int = 3,
               prefix: str = "run", json_file: bool = False) -> dict[str, Path]:
    """Run Locust headless with ``--csv PREFIX --csv-full-history`` (and ``--json-file``);
    returns the files by kind (stats, history, failures, exceptions, json)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "locustfile.py").write_text(LOCUSTFILE)
    args = [str(LOCUST), "-f", "locustfile.py", "--headless", "-u", str(users), "-r",
            str(users), "-t", f"{seconds}s", "-H", host, "--csv", prefix, "--csv-full-history",
            "--loglevel", "WARNING", "--stop-timeout", "2"]
    if json_file:
        args += ["--json-file", prefix]
    result = _run(args, workdir, timeout=seconds + 60)
    if result.returncode not in (0, 1):  # 1 = the run had failures
        raise RuntimeError(result.stderr[-2000:])
    files = {kind: workdir / f"{prefix}_{suffix}.csv" for kind, suffix in (
        ("stats", "stats"), ("history", "stats_history"), ("failures", "failures"),
        ("exceptions", "exceptions"))}
    if json_file:
        files["json"] = workdir / f"{prefix}.json"
    return {kind: path for kind, path in files.items() if path.exists()}


def run_wrk(url: str, *, seconds: int = 1, connections: int = 4) -> str:
    result = _run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                  Path.cwd(), timeout=seconds + 30)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return result.stdout


def run_ab(url: str, *, requests: int = 200, concurrency: int = 4) -> str:
    result = _run(["ab", "-n", str(requests), "-c", str(concurrency), url], Path.cwd(), 60)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return result.stdout


def run_hey(url: str, *, requests: int = 200, concurrency: int = 4) -> str:
    result = _run(["hey", "-n", str(requests), "-c", str(concurrency), url], Path.cwd(), 60)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return result.stdout


# candidate -> (profile, Locust users); the demo review's candidates
DEMO_RUNS = {"Django": ("django", 60), "Flask": ("flask", 60), "FastAPI": ("fastapi", 60),
             "Litestar": ("litestar", 60)}
DEMO_SECONDS = 35


def make_demo(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with Simulator() as sim, tempfile.TemporaryDirectory() as tmp:
        (out / "flask-wrk.txt").write_text(run_wrk(sim.url("flask") + "/orders", seconds=5,
                                                   connections=20))
        (out / "fastapi-hey.txt").write_text(run_hey(sim.url("fastapi") + "/orders",
                                                     requests=2000, concurrency=20))
        for candidate, (profile, users) in DEMO_RUNS.items():
            files = run_locust(Path(tmp) / profile, sim.url(profile), users=users,
                               seconds=DEMO_SECONDS, prefix=profile)
            for kind in ("stats", "history", "failures"):
                shutil.copy(files[kind], out / files[kind].name)
            print(f"{candidate}: {', '.join(p.name for p in files.values())}")


if __name__ == "__main__":
    make_demo(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "app" / "demo_data" / "benchmarks")
