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
    requests.get(url, headers={"Cookie": cookie} if cookie else {}, timeout=30)
    cmd = ["wrk", "-t2", "-c16", f"-d{DURATION}s", "--latency", url]
    if cookie:
        cmd[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    return {"rps": rps, "p50": f"{p50.group(1)}{p50.group(2)}", "p99": f"{p99.group(1)}{p99.group(2)}"}


def login_cookie(url: str) -> str:
    s = requests.Session()
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


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("bench needs wrk (apt-get install wrk)")
    rows = http_rows()
    parsers = parser_rows()
    lines = ["# Benchmarks", "", f"Machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
             f"Reproduce: `make bench` (BENCH_SECONDS={DURATION}). wrk -t2 -c16 against gunicorn -w1 --threads 50, "
             "loopback, bare stack and Tradeoff in the same run.", "",
             "| HTTP | requests/s | p50 | p99 |", "|---|---|---|---|"]
    lines += [f"| {name} | {r['rps']:.0f} | {r['p50']} | {r['p99']} |" for name, r in rows]
    lines += ["", "| Parser | throughput |", "|---|---|"]
    lines += [f"| {name} | {r['MB/s']} MB/s |" for name, r in parsers]
    (ROOT / "bench" / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
