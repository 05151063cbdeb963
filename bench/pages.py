"""Benchmark 3 — the review workspace with realistic data (bench/seed.py).

In-process (Flask test client): the SQL statements each page issues (a SQLAlchemy
``before_cursor_execute`` listener) for the seeded world and for the doubled one (members,
candidates, runs and notes doubled: the count must not change, no N+1), and the bytes of each
full step page, each step's htmx fragment and each live region. Under gunicorn (the same
settings as bench/run.py: 1 worker, 50 threads): wrk requests/s and p95 of every step's full
page against the bare Flask "hello" route (bench/bare_app.py), on the same machine, in the
same run.

    .venv/bin/python -m bench.pages          # prints the section's Markdown
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HX = {"HX-Request": "true"}
MAX_STATEMENTS = 15
TARGET_RATIO = 0.25  # a step page serves at least a quarter of the bare hello route's rate
DURATION = os.environ.get("BENCH_SECONDS", "10")
P95_SCRIPT = """done = function(summary, latency, requests)
  io.write(string.format("P95_US %d\\n", latency:percentile(95)))
  io.write(string.format("P50_US %d\\n", latency:percentile(50)))
end
"""


@dataclass(frozen=True)
class Page:
    label: str
    path: str
    htmx: bool
    kind: str  # "page", "fragment" (a step's htmx section) or "region"
    step: str


def region_names() -> list[tuple[str, str]]:
    """(region, step) for every live region the app declares (GET /reviews/<id>/regions/<name>)."""
    from app.reviews import steps

    return [(name, step.value) for name, (step, _block) in steps.live_regions().items()]


def pages(review_id: int) -> list[Page]:
    from app.models import STEPS

    found = []
    for step in STEPS:
        path = f"/reviews/{review_id}/steps/{step.value}"
        found.append(Page(f"{step.value} page", path, False, "page", step.value))
        found.append(Page(f"{step.value} fragment", path, True, "fragment", step.value))
    for name, step in region_names():
        found.append(Page(f"region {name}", f"/reviews/{review_id}/regions/{name}", True, "region", step))
    return found


@contextmanager
def statements() -> Iterator[list[str]]:
    """Collect every SQL statement the app's engine sends while the block runs."""
    from app.extensions import db

    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


@dataclass(frozen=True)
class Measured:
    page: Page
    status: int
    statements: int
    bytes: int
    sql: tuple[str, ...] = ()


def measure(client, review_id: int) -> list[Measured]:
    """Each page once to warm up (a revealed matrix is analysed once, then cached), then
    counted. ``client``: a logged-in test client of the app whose engine is counted (inside
    its app context)."""
    results = []
    for page in pages(review_id):
        headers = HX if page.htmx else {}
        client.get(page.path, headers=headers)
        with statements() as seen:
            response = client.get(page.path, headers=headers)
        results.append(Measured(page, response.status_code, len(seen), len(response.data), tuple(seen)))
    return results


def login(client, email: str, password: str) -> None:
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code in (302, 303), response.status_code


def count_world(size) -> list[Measured]:
    """Seed ``size`` into a fresh in-memory app (the test configuration) and measure every
    page for a voting member."""
    from app import create_app
    from app.config import TestingConfig
    from app.extensions import db
    from bench.seed import seed_workspace

    saved = {name: os.environ.get(name) for name in ("TRADEOFF_INSTANCE_PATH", "TRADEOFF_SCHEDULER")}
    with tempfile.TemporaryDirectory(prefix="tradeoff-pages-") as tmp:
        os.environ.update(TRADEOFF_INSTANCE_PATH=tmp, TRADEOFF_SCHEDULER="off")
        try:
            app = create_app(TestingConfig())
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        with app.app_context():
            db.create_all()
            seeded = seed_workspace(size)
            db.session.remove()
            client = app.test_client()
            login(client, seeded.member_email, seeded.password)
            try:
                return measure(client, seeded.review_id)
            finally:
                db.session.remove()
                db.drop_all()


# -- under gunicorn ------------------------------------------------------------------------

def server_env(tmp: Path) -> dict:
    return {"PATH": os.environ["PATH"], "HOME": str(tmp), "TRADEOFF_INSTANCE_PATH": str(tmp / "instance"),
            "LOGIN_RATE_LIMIT": "10000 per minute", "TRADEOFF_SCHEDULER": "off",
            "PYTHONPATH": str(ROOT)}


def seed_instance(env: dict, *extra: str) -> dict:
    """Migrate the instance's database and seed it (bench/seed.py in a subprocess)."""
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=300)
    done = subprocess.run([sys.executable, "-m", "bench.seed", *extra], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True, timeout=1800)
    return json.loads(done.stdout.strip().splitlines()[-1])


def serve(module: str, env: dict) -> tuple[subprocess.Popen, str]:
    """gunicorn with bench/run.py's settings (1 worker, 50 threads) on a free loopback port."""
    from tests.scaleout.cluster import free_port, http_ok, wait_for

    port = free_port()
    proc = subprocess.Popen([str(BIN / "gunicorn"), "-w", "1", "--threads", "50", "-b", f"127.0.0.1:{port}",
                             module], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: http_ok(url + "/healthz"), timeout=60, what=module)
    except BaseException:
        stop(proc)
        raise
    return proc, url


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


def login_session(url: str, email: str, password: str):
    """A requests session logged in through the login form (CSRF token from the page)."""
    import requests

    session = requests.Session()
    html = session.get(url + "/login", timeout=30).text
    token = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    response = session.post(url + "/login", data={"email": email, "password": password, "csrf_token": token},
                            timeout=60, allow_redirects=False)
    assert response.status_code in (302, 303), (response.status_code, response.text[:300])
    return session


def cookie_header(session) -> str:
    return "; ".join(f"{k}={v}" for k, v in session.cookies.items())


def wrk(url: str, script: Path, cookie: str | None = None, seconds: str = DURATION) -> dict:
    """wrk -t2 -c16 (bench/run.py's load) after one warm-up request: requests/s, p50, p95."""
    import requests

    warm = requests.get(url, headers={"Cookie": cookie} if cookie else {}, timeout=60)
    cmd = ["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", str(script), url]
    if cookie:
        cmd[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=int(seconds) + 120).stdout
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": int(re.search(r"P50_US (\d+)", out).group(1)) / 1000,
            "p95_ms": int(re.search(r"P95_US (\d+)", out).group(1)) / 1000,
            "status": warm.status_code, "bytes": len(warm.content),
            "errors": int(errors.group(1)) if errors else 0}


def http_rows(seconds: str = DURATION) -> list[tuple[str, dict]]:
    """The bare hello route and every step's full page of the seeded world, under gunicorn."""
    from app.models import STEPS

    tmp = Path(tempfile.mkdtemp(prefix="tradeoff-pages-"))
    script = tmp / "p95.lua"
    script.write_text(P95_SCRIPT)
    procs = []
    try:
        env = server_env(tmp)
        seeded = seed_instance(env)
        bare, bare_url = serve("bench.bare_app:app", env)
        procs.append(bare)
        app, app_url = serve("wsgi:app", env)
        procs.append(app)
        cookie = cookie_header(login_session(app_url, seeded["member_email"], seeded["password"]))
        rows = [("bare Flask: hello route", wrk(bare_url + "/hello", script, seconds=seconds))]
        for step in STEPS:
            rows.append((f"{step.value} step page",
                         wrk(f"{app_url}/reviews/{seeded['review_id']}/steps/{step.value}", script, cookie,
                             seconds=seconds)))
        return rows
    finally:
        for proc in procs:
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


# -- the RESULTS.md section -------------------------------------------------------------------

def statement_lines(small: list[Measured], doubled: list[Measured]) -> list[str]:
    lines = ["| Page (htmx: `HX-Request: true`) | SQL statements | doubled world | bytes | doubled world | ≤ 15 and equal? |",
             "|---|---|---|---|---|---|"]
    for a, b in zip(small, doubled, strict=True):
        ok = a.statements == b.statements and a.statements <= MAX_STATEMENTS and a.status == b.status == 200
        lines.append(f"| {a.page.label} (`{a.page.path.split('/', 3)[-1]}`) | {a.statements} | {b.statements} "
                     f"| {a.bytes:,} | {b.bytes:,} | {'yes' if ok else '**no**'} |")
    return lines


def http_lines(rows: list[tuple[str, dict]]) -> list[str]:
    bare = rows[0][1]["rps"]
    lines = ["| Page | requests/s | p50 | p95 | × bare hello | target ≥ 0.25× met? |", "|---|---|---|---|---|---|"]
    for name, r in rows:
        ratio = r["rps"] / bare if bare else 0
        met = "—" if name.startswith("bare") else ("yes" if ratio >= TARGET_RATIO and not r["errors"] else "**no**")
        note = f" ({r['errors']} non-2xx)" if r["errors"] else ""
        lines.append(f"| {name}{note} | {r['rps']:.0f} | {r['p50_ms']:.1f} ms | {r['p95_ms']:.1f} ms | "
                     f"{ratio:.2f} | {met} |")
    return lines


def section() -> list[str]:
    from bench.seed import Size

    if not shutil.which("wrk"):
        raise RuntimeError("the pages benchmark needs wrk (apt-get install wrk)")
    size = Size()
    small, doubled = count_world(size), count_world(size.doubled())
    rows = http_rows()
    lines = [f"World (bench/seed.py, through the app's services): {size.members} voting members and an observer, "
             f"{size.candidates} candidates, {size.criteria} criteria with every cell scored by every member "
             f"(round revealed), {size.runs} benchmark runs, {size.notes} prototype notes, typed constraints, "
             "a closed ranked vote. The doubled world doubles members, candidates, runs and notes. "
             "Viewed by a voting member.", "",
             "**SQL statements per request** (in-process test client, SQLAlchemy `before_cursor_execute`, after "
             "one warm-up request), and response size. Regions and fragments are what htmx and the live "
             "refresh fetch; the full page is the step's whole workspace.", "",
             *statement_lines(small, doubled), "",
             f"**Under gunicorn** (`gunicorn -w 1 --threads 50`, SQLite, wrk -t2 -c16 -d{DURATION}s, logged in, "
             "one warm-up request), against the bare Flask hello route served the same way in the same run:", "",
             *http_lines(rows)]
    return lines


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    print("\n".join(section()))
