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
# One User-Agent for the login and for wrk, as one browser keeps: Flask-Login's session
# protection ("basic") ties the session to the address and User-Agent, and a cookie replayed
# under another one is marked not fresh and re-signed on every response, which no real viewer
# causes (and which cost the app ~10% of its rate in earlier runs here).
USER_AGENT = "tradeoff-bench/1"
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

    return [(name, step.value if step else "workspace") for name, (step, _block) in steps.live_regions().items()]


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
    statements: int  # rendered (the page cache off)
    bytes: int
    sql: tuple[str, ...] = ()
    cached_statements: int = 0  # served from the page cache (app/rendering.py)


def measure(client, review_id: int) -> list[Measured]:
    """Each page once to warm up (a revealed matrix is analysed once, then kept), then counted
    twice: rendered with the page cache off, and served from the page cache. ``client``: a
    logged-in test client of the app whose engine is counted (inside its app context)."""
    app = client.application
    cache = app.extensions.get("tradeoff.page_cache")
    client.get(f"/reviews/{review_id}")  # the login's flash message is shown (and gone)
    results = []
    for page in pages(review_id):
        headers = HX if page.htmx else {}
        client.get(page.path, headers=headers)
        app.extensions["tradeoff.page_cache"] = None
        try:
            with statements() as seen:
                response = client.get(page.path, headers=headers)
        finally:
            app.extensions["tradeoff.page_cache"] = cache
        client.get(page.path, headers=headers)
        with statements() as hit:
            again = client.get(page.path, headers=headers)
        assert again.status_code == response.status_code, page
        results.append(Measured(page, response.status_code, len(seen), len(response.data), tuple(seen),
                                len(hit)))
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
    from bench.seed import Size, seed_workspace

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
            with app.test_request_context("/"):
                from app.rendering import page_cache
                page_cache()  # created now, so that measure() can switch it off and on
            login(client, seeded.member_email, seeded.password)
            try:
                found = measure(client, seeded.review_id)
                if size == Size():  # the benchmark's world (not the smoke test's)
                    CPU_MS.update(cpu_per_request(client, seeded.review_id))
                return found
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


def serve(module: str, env: dict, **extra_env: str) -> tuple[subprocess.Popen, str]:
    """gunicorn with bench/run.py's settings (1 worker, 50 threads) on a free loopback port."""
    from tests.scaleout.cluster import free_port, http_ok, wait_for

    port = free_port()
    proc = subprocess.Popen([str(BIN / "gunicorn"), "-w", "1", "--threads", "50", "-b", f"127.0.0.1:{port}",
                             module], cwd=ROOT, env={**env, **extra_env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
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
    session.headers["User-Agent"] = USER_AGENT
    html = session.get(url + "/login", timeout=30).text
    token = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    response = session.post(url + "/login", data={"email": email, "password": password, "csrf_token": token},
                            timeout=60, allow_redirects=False)
    assert response.status_code in (302, 303), (response.status_code, response.text[:300])
    session.get(url + "/", timeout=60)  # the welcome flash is shown once, as a browser would
    return session


def cookie_header(session) -> str:
    return "; ".join(f"{k}={v}" for k, v in session.cookies.items())


def wrk(url: str, script: Path, cookie: str | None = None, seconds: str = DURATION,
        headers: dict | None = None) -> dict:
    """wrk -t2 -c16 (bench/run.py's load) after one warm-up request: requests/s, p50, p95."""
    import requests

    sent = {"User-Agent": USER_AGENT, **({"Cookie": cookie} if cookie else {}), **(headers or {})}
    warm = requests.get(url, headers=sent, timeout=60)
    cmd = ["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", str(script), url]
    for name, value in sent.items():
        cmd[1:1] = ["-H", f"{name}: {value}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=int(seconds) + 120).stdout
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": int(re.search(r"P50_US (\d+)", out).group(1)) / 1000,
            "p95_ms": int(re.search(r"P95_US (\d+)", out).group(1)) / 1000,
            "status": warm.status_code, "bytes": len(warm.content),
            "errors": int(errors.group(1)) if errors else 0}


def http_rows(seconds: str = DURATION) -> list[tuple[str, dict]]:
    """The bare hello route; the app's floor (/healthz: the stack and one SELECT, no login; a
    tiny live region served from the page cache: login, access check and cache); every step's
    full page served from the page cache (what a viewer gets until something changes) and
    rendered (the page cache off: the first view after a change), under gunicorn."""
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
        cold, cold_url = serve("wsgi:app", env, PAGE_CACHE_MB="0")
        procs.append(cold)
        review = f"/reviews/{seeded['review_id']}"
        cookie = cookie_header(login_session(app_url, seeded["member_email"], seeded["password"]))
        cold_cookie = cookie_header(login_session(cold_url, seeded["member_email"], seeded["password"]))
        rows = [("bare Flask: hello route", wrk(bare_url + "/hello", script, seconds=seconds)),
                ("floor: Tradeoff /healthz (no login, SELECT 1)", wrk(app_url + "/healthz", script,
                                                                   seconds=seconds)),
                ("floor: region benchmark-uploads, cached (login + access check)",
                 wrk(f"{app_url}{review}/regions/benchmark-uploads", script, cookie, seconds=seconds,
                     headers=HX))]
        for step in STEPS:
            rows.append((f"{step.value} step page (cached)",
                         wrk(f"{app_url}{review}/steps/{step.value}", script, cookie, seconds=seconds)))
        for step in STEPS:
            rows.append((f"{step.value} step page (rendered, cache off)",
                         wrk(f"{cold_url}{review}/steps/{step.value}", script, cold_cookie, seconds=seconds)))
        return rows
    finally:
        for proc in procs:
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


# -- the RESULTS.md section -------------------------------------------------------------------

def statement_lines(small: list[Measured], doubled: list[Measured]) -> list[str]:
    lines = ["| Page (htmx: `HX-Request: true`) | SQL statements | doubled world | from the page cache "
             "| bytes | doubled world | ≤ 15 and equal? |",
             "|---|---|---|---|---|---|---|"]
    for a, b in zip(small, doubled, strict=True):
        ok = (a.statements == b.statements and a.statements <= MAX_STATEMENTS and a.status == b.status == 200
              and a.cached_statements == b.cached_statements <= a.statements)
        lines.append(f"| {a.page.label} (`{a.page.path.split('/', 3)[-1]}`) | {a.statements} | {b.statements} "
                     f"| {a.cached_statements} | {a.bytes:,} | {b.bytes:,} | {'yes' if ok else '**no**'} |")
    return lines


def http_lines(rows: list[tuple[str, dict]]) -> list[str]:
    bare = rows[0][1]["rps"]
    lines = ["| Page | requests/s | p50 | p95 | × bare hello | target ≥ 0.25× met? |", "|---|---|---|---|---|---|"]
    for name, r in rows:
        ratio = r["rps"] / bare if bare else 0
        met = "—" if name.startswith(("bare", "floor")) else (
            "yes" if ratio >= TARGET_RATIO and not r["errors"] else "**no**")
        note = f" ({r['errors']} non-2xx)" if r["errors"] else ""
        lines.append(f"| {name}{note} | {r['rps']:.0f} | {r['p50_ms']:.1f} ms | {r['p95_ms']:.1f} ms | "
                     f"{ratio:.2f} | {met} |")
    return lines


CPU_MS: dict[str, float] = {}  # filled by count_world: CPU ms per request, in-process


def cpu_ms(client, path: str, headers: dict | None = None, n: int = 20) -> float:
    import time

    client.get(path, headers=headers or {})
    start = time.process_time()
    for _ in range(n):
        client.get(path, headers=headers or {})
    return (time.process_time() - start) / n * 1000


def cpu_per_request(client, review_id: int) -> dict[str, float]:
    """CPU per request in-process (test client): the bare hello, the app's /healthz, every step
    page rendered (the page cache off) and served from the page cache."""
    from app.models import STEPS
    from bench.bare_app import app as bare

    app = client.application
    cache = app.extensions.get("tradeoff.page_cache")
    found = {"bare hello": cpu_ms(bare.test_client(), "/hello", n=200),
             "healthz": cpu_ms(client, "/healthz", n=100)}
    for step in STEPS:
        path = f"/reviews/{review_id}/steps/{step.value}"
        found[f"{step.value} cached"] = cpu_ms(client, path, n=50)
        app.extensions["tradeoff.page_cache"] = None
        try:
            found[f"{step.value} rendered"] = cpu_ms(client, path)
        finally:
            app.extensions["tradeoff.page_cache"] = cache
    return found


def cpu_sentence(found: dict[str, float]) -> str:
    if not found:
        return ""
    cached = [v for k, v in found.items() if k.endswith("cached")]
    rendered = [v for k, v in found.items() if k.endswith("rendered")]
    return (f"CPU per request in-process (test client, same run): bare hello {found['bare hello']:.2f} ms, "
            f"the app's /healthz {found['healthz']:.2f} ms, a step page from the page cache "
            f"{min(cached):.2f}–{max(cached):.2f} ms (every check included), rendered "
            f"{min(rendered):.1f}–{max(rendered):.1f} ms (like the statement counts, without Flask-Login's "
            "user lookup, which this client does once).")


def summary_lines(small: list[Measured], doubled: list[Measured], rows: list[tuple[str, dict]]) -> list[str]:
    """The targets, met or not, from this run's figures, and what stands in the way."""
    bare = rows[0][1]["rps"] or 1

    def span(kind: str) -> tuple[float, float, float, float]:
        found = [r["rps"] for name, r in rows if name.endswith(kind)]
        return min(found), max(found), min(found) / bare, max(found) / bare

    counts_ok = all(a.statements == b.statements <= MAX_STATEMENTS for a, b in zip(small, doubled, strict=True))
    worst = max(a.statements for a in small)
    cached = sorted({a.cached_statements for a in small})
    lo, hi, rlo, rhi = span("(cached)")
    clo, chi, crlo, crhi = span("(rendered, cache off)")
    floor = next(r for name, r in rows if name.startswith("floor: region"))
    health = next(r for name, r in rows if name.startswith("floor: Tradeoff /healthz"))
    met = rlo >= TARGET_RATIO
    return [
        f"**Targets:** statements per request ≤ {MAX_STATEMENTS} and unchanged when the world doubles — "
        f"**{'met' if counts_ok else 'not met'}** on every page, fragment and region (at most {worst} "
        f"rendered; {'–'.join(map(str, sorted({cached[0], cached[-1]})))} when served from the page cache). "
        f"Requests/s ≥ {TARGET_RATIO} × the bare hello route ({bare:.0f}/s) — "
        f"**{'met' if met else 'not met'}**: step pages served from the page cache {lo:.0f}–{hi:.0f}/s "
        f"({rlo:.2f}–{rhi:.2f}×), rendered {clo:.0f}–{chi:.0f}/s ({crlo:.2f}–{crhi:.2f}×).",
        "",
        "What a page served from the page cache costs: one statement (`access.peek_viewer`: the login, the "
        "review, the viewer's role and, on whole pages, the unread count, read in one Core query on a pooled "
        "connection; no ORM object is built), the cache lookup, and the request's CSRF token (its signed form "
        "kept per session secret); the session cookie is verified once per process (app/sessions.py). The "
        "floor of any logged-in review page, measured in the same run — a 336-byte live region served from "
        f"the page cache — is {floor['rps']:.0f}/s ({floor['rps'] / bare:.2f}×), and the app's `/healthz` "
        f"(the stack with its extensions and one `SELECT 1`, no login) {health['rps']:.0f}/s "
        f"({health['rps'] / bare:.2f}×): a cached step page costs about what that floor costs, whatever its "
        "size. " + cpu_sentence(CPU_MS),
        "",
        "The page cache (app/rendering.py): every step page, htmx fragment and live region is kept rendered, "
        "per process (LRU, `PAGE_CACHE_MB`, default 32; 0 turns it off), keyed by the review's live revision "
        "and its `updated_at` stamp — which a session hook moves in the same transaction as every write to the "
        "review's rows, its children's, its team's, its members' and their users' (ORM flushes and Core "
        "UPDATE/DELETE alike), so another process's write is seen at the next request — and by the viewer "
        "(id, name, e-mail, role), who is in the room, the URL and the htmx mode, and the unread count on "
        "whole pages. A hit is answered before the view runs (`@cached_page`), after the same login and role "
        "checks as the view's (tests/test_page_cache_hits.py: never for an ended, replaced or expired login, a "
        "removed member or an outsider). Pages that depend on the clock (a running countdown or deadline, an upload being "
        "parsed) are never kept; pages with a flash message are neither read nor kept. The CSRF token is "
        "a placeholder in the kept HTML, replaced with the request's own. Responses carry an ETag (key + the "
        "session's CSRF secret) with `Cache-Control: private, no-cache`, so a browser's repeated fetch of an "
        "unchanged region or page gets 304. tests/test_page_cache.py proves served = freshly rendered "
        "(byte for byte apart from the token) for every page and role after each kind of change, and that "
        "one viewer never gets another's page. It helps repeated views (navigation, reloads, polling, a "
        "viewer re-fetching an unchanged region); after a change each viewer's first fetch is a render.",
    ]


def section() -> list[str]:
    from bench.seed import Size

    if not shutil.which("wrk"):
        raise RuntimeError("the pages benchmark needs wrk (apt-get install wrk)")
    size = Size()
    small, doubled = count_world(size), count_world(size.doubled())
    rows = http_rows()
    lines = [*summary_lines(small, doubled, rows), "",f"World (bench/seed.py, through the app's services): {size.members} voting members and an observer, "
             f"{size.candidates} candidates, {size.criteria} criteria with every cell scored by every member "
             f"(round revealed), {size.runs} benchmark runs, {size.notes} prototype notes, typed constraints, "
             "a closed ranked vote. The doubled world doubles members, candidates, runs and notes. "
             "Viewed by a voting member.", "",
             "**SQL statements per request** (in-process test client, SQLAlchemy `before_cursor_execute`, after "
             "one warm-up request; the client keeps one app context, so Flask-Login's user lookup is not among "
             "the rendered ones: one more per request under a server; a page served from the page cache is "
             "the same one statement under a server): rendered (the page cache off) and served from the "
             "page cache, and the "
             "response size. Regions and fragments are what htmx and the live refresh fetch; the full page is "
             "the step's whole workspace.", "",
             *statement_lines(small, doubled), "",
             f"**Under gunicorn** (`gunicorn -w 1 --threads 50`, SQLite, wrk -t2 -c16 -d{DURATION}s, logged in, "
             "one warm-up request), against the bare Flask hello route served the same way in the same run. "
             "*Cached*: the same viewer asks again while nothing changed (the page cache serves it); *rendered*: "
             "a second server with `PAGE_CACHE_MB=0`, i.e. the first view after a change:", "",
             *http_lines(rows)]
    return lines


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    print("\n".join(section()))
