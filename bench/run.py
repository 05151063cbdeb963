"""Benchmarks: Tradeoff against the bare stack on the same machine, in the same run.

    .venv/bin/python bench/run.py            # writes bench/RESULTS.md

1. HTTP: wrk (Debian's package) against gunicorn (1 worker, 50 threads) serving
   (a) the bare Flask app (bench/bare_app.py) and (b) Tradeoff on SQLite with the demo data:
   /healthz on both, the bare page vs the review workspace and one live region (logged in).
2. Parsers: parse_run on a generated k6 NDJSON stream vs the bare loop (json.loads per line).
Loopback only; every run is bounded (-d seconds)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from app.parsers import InputFile, parse_run  # noqa: E402
from bench.pages import USER_AGENT  # noqa: E402
from tests.scaleout.cluster import free_port, http_ok, wait_for  # noqa: E402

BIN = Path(sys.executable).parent
DURATION = os.environ.get("BENCH_SECONDS", "10")


def serve(module: str, env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([str(BIN / "gunicorn"), "-w", "1", "--threads", "50", "-b", f"127.0.0.1:{port}",
                             module], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_ok(url + "/healthz"), what=module)
    return proc, url


def wrk(url: str, cookie: str | None = None) -> dict:
    """Steady state: one warm-up request first (a revealed matrix is analysed once, then cached)."""
    requests.get(url, headers={"User-Agent": USER_AGENT, **({"Cookie": cookie} if cookie else {})}, timeout=30)
    cmd = ["wrk", "-t2", "-c16", f"-d{DURATION}s", "--latency", "-H", f"User-Agent: {USER_AGENT}", url]
    if cookie:
        cmd[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    return {"rps": rps, "p50": f"{p50.group(1)}{p50.group(2)}", "p99": f"{p99.group(1)}{p99.group(2)}"}


def login_cookie(url: str) -> str:
    s = requests.Session()
    s.headers["User-Agent"] = USER_AGENT
    html = s.get(url + "/login").text
    token = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    s.post(url + "/login", data={"email": "ana@example.com", "password": "tradeoff-demo", "csrf_token": token})
    return "; ".join(f"{k}={v}" for k, v in s.cookies.items())


def http_rows() -> list[tuple[str, dict]]:
    tmp = Path(tempfile.mkdtemp())
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "TRADEOFF_INSTANCE_PATH": str(tmp / "instance"),
           "LOGIN_RATE_LIMIT": "1000 per minute", "TRADEOFF_SCHEDULER": "off"}
    for args in (["db", "upgrade"], ["demo"]):
        subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True,
                       capture_output=True)
    bare, bare_url = serve("bench.bare_app:app", env)
    app, app_url = serve("wsgi:app", env)
    try:
        cookie = login_cookie(app_url)
        return [
            ("bare Flask: /healthz", wrk(bare_url + "/healthz")),
            ("Tradeoff: /healthz (SELECT 1)", wrk(app_url + "/healthz")),
            ("bare Flask: 200-row Jinja page", wrk(bare_url + "/page")),
            ("Tradeoff: review workspace (mapping step)", wrk(app_url + "/reviews/1/steps/mapping", cookie)),
            ("Tradeoff: live region refresh (constraints)", wrk(app_url + "/reviews/1/regions/constraints", cookie)),
        ]
    finally:
        for proc in (bare, app):
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


def ndjson(path: Path, requests_: int) -> None:
    """k6 ``--out json`` lines as k6 writes them: an http_reqs and an http_req_duration point
    per request."""
    tags = {"status": "200", "method": "GET", "name": "/orders", "expected_response": "true"}
    with path.open("w") as fh:
        for i in range(requests_):
            time_ = f"2026-01-01T00:{(i // 1000) // 60 % 60:02d}:{(i // 1000) % 60:02d}.000Z"
            for metric, value in (("http_reqs", 1), ("http_req_duration", 10 + (i % 97))):
                fh.write(json.dumps({"type": "Point", "metric": metric,
                                     "data": {"time": time_, "value": value, "tags": tags}}) + "\n")


def parser_rows() -> list[tuple[str, dict]]:
    tmp = Path(tempfile.mkdtemp())
    path = tmp / "k6.ndjson"
    ndjson(path, 200_000)
    size_mb = path.stat().st_size / 1e6
    started = time.perf_counter()
    with path.open("rb") as fh:
        for line in fh:
            json.loads(line)
    bare = time.perf_counter() - started
    started = time.perf_counter()
    with path.open("rb") as fh:
        run = parse_run([InputFile(path.name, fh)], "k6-ndjson")
    ours = time.perf_counter() - started
    shutil.rmtree(tmp, ignore_errors=True)
    assert run.summary.requests == 200_000, run.summary
    return [(f"bare json.loads per line ({size_mb:.0f} MB)", {"MB/s": f"{size_mb / bare:.1f}"}),
            (f"parse_run k6 NDJSON ({size_mb:.0f} MB)", {"MB/s": f"{size_mb / ours:.1f}"})]


def http_and_parser_section() -> list[str]:
    if not shutil.which("wrk"):
        raise RuntimeError("bench needs wrk (apt-get install wrk)")
    rows = http_rows()
    parsers = parser_rows()
    lines = [f"Reproduce: `make bench` (BENCH_SECONDS={DURATION}). wrk -t2 -c16 against gunicorn -w1 --threads 50, "
             "loopback, bare stack and Tradeoff in the same run.", "",
             "| HTTP | requests/s | p50 | p99 |", "|---|---|---|---|"]
    lines += [f"| {name} | {r['rps']:.0f} | {r['p50']} | {r['p99']} |" for name, r in rows]
    lines += ["", "| Parser | throughput |", "|---|---|"]
    lines += [f"| {name} | {r['MB/s']} MB/s |" for name, r in parsers]
    return lines


def lazy(module: str, function: str = "section"):
    """A section living in another bench module, imported only when it runs."""
    def run() -> list[str]:
        import importlib
        return getattr(importlib.import_module(module), function)()
    return run


# The sections of RESULTS.md, in order: (title, function returning its Markdown lines). Each
# benchmark module adds one entry here (BENCH_ONLY=word runs only the sections whose title
# contains it). A section that fails is reported in RESULTS.md and makes the run exit 1.
SECTIONS: list[tuple[str, object]] = [
    ("HTTP and parsers (bench/run.py)", http_and_parser_section),
    ("Live fan-out and ballot throughput (bench/sockets.py)", lazy("bench.sockets")),
    ("Scale-out: sockets and fan-out over several processes (bench/sockets.py)",
     lazy("bench.sockets", "scaleout_section")),
    ("Review workspace pages (bench/pages.py)", lazy("bench.pages")),
    ("Upload parsing: large generated files (bench/uploads.py)", lazy("bench.uploads")),
    ("Dogfood: Locust against Tradeoff, imported as a run (bench/dogfood.py)", lazy("bench.dogfood")),
]


def postgres_version() -> str:
    """The server's version (the benchmarks use the server at TEST_POSTGRES_URL)."""
    try:
        import psycopg

        from tests.services import POSTGRES_URL
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            return "server " + conn.execute("SHOW server_version").fetchone()[0]
    except Exception as err:  # noqa: BLE001 - a header line, not a benchmark
        return f"not reachable ({type(err).__name__})"


def machine_lines() -> list[str]:
    """CPU, cores, RAM, date and the versions of everything measured."""
    from importlib.metadata import version

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU") if Path("/proc/cpuinfo").exists() else "unknown CPU"
    ram = next((int(line.split()[1]) / 1024 / 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0) if Path("/proc/meminfo").exists() else 0

    def tool(cmd: list[str]) -> str:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            out = (done.stdout or done.stderr).strip()  # nginx -v and wrk -v print to stderr
            return out.splitlines()[0] if out else "not found"
        except (OSError, subprocess.SubprocessError):
            return "not found"

    import sqlite3
    packages = ", ".join(f"{name} {version(name)}" for name in
                         ("flask", "flask-socketio", "python-socketio", "python-engineio", "simple-websocket",
                          "gunicorn", "sqlalchemy", "psycopg", "redis"))
    return [f"Machine: {cpu}, {os.cpu_count()} cores, {ram:.1f} GiB RAM; "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
            f"Versions: Python {sys.version.split()[0]}, {packages}, SQLite {sqlite3.sqlite_version}, "
            f"PostgreSQL: {postgres_version()}, Redis: {tool(['redis-server', '--version'])}, "
            f"nginx: {tool([shutil.which('nginx') or '/usr/sbin/nginx', '-v'])}, wrk: {tool(['wrk', '-v'])}.",
            "Everything runs on this one machine over loopback (load generators, servers, databases), "
            "so figures are noisy: other work on the machine (for example other test runs) competes for the cores."]


def previous_sections() -> dict[str, list[str]]:
    """The sections of the current RESULTS.md by title (kept by a BENCH_ONLY run)."""
    path = ROOT / "bench" / "RESULTS.md"
    found: dict[str, list[str]] = {}
    current = None
    for line in (path.read_text().splitlines() if path.exists() else []):
        if line.startswith("## "):
            current = found.setdefault(line[3:].strip(), [])
        elif current is not None:
            current.append(line)
    return {title: body[1:] if body[:1] == [""] else body for title, body in found.items()}


def main() -> None:
    only = os.environ.get("BENCH_ONLY", "").lower()
    bodies, failed = {}, []
    for title, section in SECTIONS:
        if only and only not in title.lower():
            continue
        print(f"== {title}", flush=True)
        try:
            bodies[title] = section()
        except Exception as err:  # noqa: BLE001 - reported, the other sections still run
            failed.append(title)
            bodies[title] = [f"**Failed:** `{type(err).__name__}: {err}`"]
    # Read only now: a BENCH_ONLY run keeps the other sections as RESULTS.md has them at its end.
    kept = previous_sections() if only else {}
    lines = ["# Benchmarks", "", *machine_lines()]
    if only:
        lines.append(f"Last written by a partial run (BENCH_ONLY={only}); the sections it did not run keep "
                     "the figures of an earlier run on this machine.")
    for title, _section in SECTIONS:
        body = bodies.get(title, kept.get(title))
        if body is None:
            continue
        lines += ["", f"## {title}", "", *(body or [""])]
        while lines[-1] == "":
            lines.pop()
    (ROOT / "bench" / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if failed:
        sys.exit(f"failed sections: {', '.join(failed)}")


if __name__ == "__main__":
    main()
