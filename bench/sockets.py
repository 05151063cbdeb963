"""Benchmarks 1, 2 and 5: live fan-out, ballot throughput, scale-out — Tradeoff against the bare
stack (bench/bare_socketio_app.py) on the same machine, in the same run.

1. Fan-out: CLIENTS logged-in members (python-socketio asyncio clients with the session cookie
   of a real HTTP login) in one review room; one member after another casts a ballot with an
   HTTP POST as the browser does; the time from sending the POST to the *last* client receiving
   the updated vote board ("N ballots of M") is one sample. Anchor: the bare Flask-SocketIO app
   broadcasting the same ``fragment`` (the very HTML Tradeoff broadcast last, so the same size
   and the same JSON escaping for the clients to decode) to a room of as many clients, triggered
   by an HTTP POST, same async mode and server command.
2. Ballot throughput: BALLOTS members POST their ballot at the same moment to one process on
   SQLite and on PostgreSQL; every ballot must be committed and none refused by a lock.
   Anchor: the bare app committing one plain SQLAlchemy INSERT per POST into the same database.
5. Scale-out: N app processes + Redis + PostgreSQL behind nginx (tests/scaleout/cluster.py with
   deploy/nginx/*.conf): how many of SCALE_CLIENTS sockets one process and N processes hold,
   every process started by the same command sized for its share of the clients (``--threads``
   SCALE_CLIENTS / N + 20), and the fan-out to SCALE_CLIENTS clients spread over N processes
   against all of them on one process (there ``--threads`` SCALE_CLIENTS + 20, so that one
   process can hold them all).

Sizes come from the environment: BENCH_CLIENTS (200), BENCH_CASTS (30), BENCH_BALLOTS (200),
BENCH_SCALE_CLIENTS (600), BENCH_SCALE_PROCS (3), BENCH_MEMBERS (200, distinct logins of the
scale-out run; clients beyond it are further tabs of the same members), BENCH_THREADS (400, the
production command's ``--threads``), BENCH_SCALE_THREADS (SCALE_CLIENTS / SCALE_PROCS + 20).

The production command (``gunicorn --workers 1 --threads 400 wsgi:app``, threading mode) holds
one gunicorn thread per open WebSocket for the socket's whole life, so one process holds at most
``--threads`` sockets and, when they are all taken, answers no HTTP request at all. Benchmarks 1
and 2 run the production command itself (app and bare anchor alike; ``--threads`` is raised to
clients + 20 only if that is more). Every figure names its command. Everything listens on
127.0.0.1 and is stopped in ``finally``; every wait is bounded.

    .venv/bin/python bench/run.py            # runs these with the other sections
    .venv/bin/python -m bench.sockets        # only these, printed as Markdown
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.scaleout.cluster import NGINX, Cluster, free_port, http_ok, wait_for  # noqa: E402
from tests.services import POSTGRES_URL, REDIS_URL, _reachable  # noqa: E402

BIN = Path(sys.executable).parent
PASSWORD = "bench-password-1"
HEADROOM = 20  # gunicorn threads left for HTTP when the fan-out runs raise --threads
SECRET = "bench-secret-key-" + "x" * 32
TARGET_FANOUT_RATIO, TARGET_FANOUT_MS, TARGET_SOCKETS_RATIO = 1.5, 100.0, 2.5


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


CLIENTS = env_int("BENCH_CLIENTS", 200)
CASTS = env_int("BENCH_CASTS", 30)
BALLOTS = env_int("BENCH_BALLOTS", 200)
SCALE_CLIENTS = env_int("BENCH_SCALE_CLIENTS", 600)
SCALE_PROCS = env_int("BENCH_SCALE_PROCS", 3)
MEMBERS = env_int("BENCH_MEMBERS", 200)
PROD_THREADS = env_int("BENCH_THREADS", 400)
SCALE_THREADS = env_int("BENCH_SCALE_THREADS", 0)  # 0: SCALE_CLIENTS // SCALE_PROCS + HEADROOM


@dataclass
class Row:
    """One figure: Tradeoff's value, its bare anchor, the target and whether it was met.
    ``ok`` is correctness (every client got every tally, every ballot committed), never timing."""

    bench: str
    name: str
    value: float | None
    unit: str
    anchor: float | None = None
    anchor_name: str = ""
    target: str = ""
    met: bool | None = None
    ok: bool = True
    detail: str = ""
    command: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.anchor:
            return None
        return self.value / self.anchor


# --- servers --------------------------------------------------------------------------------------

def gunicorn_command(module: str, port: int, threads: int) -> list[str]:
    return [str(BIN / "gunicorn"), "--workers", "1", "--threads", str(threads), "--bind",
            f"127.0.0.1:{port}", module]


def shown(cmd: list[str]) -> str:
    return " ".join(Path(cmd[0]).name if i == 0 else part for i, part in enumerate(cmd))


class Server:
    """One gunicorn process (its own session, killed with its group in stop())."""

    def __init__(self, module: str, env: dict, threads: int, log: Path) -> None:
        self.port = free_port()
        self.cmd = gunicorn_command(module, self.port, threads)
        self.url = f"http://127.0.0.1:{self.port}"
        with log.open("w") as out:
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        try:
            wait_for(lambda: self.proc.poll() is None and http_ok(self.url + "/healthz"), timeout=120,
                     what=module)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def base_env(tmp: Path, database_url: str | None = None, redis_url: str | None = None) -> dict:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp),
           "TRADEOFF_INSTANCE_PATH": str(tmp / "instance"), "SECRET_KEY": SECRET,
           "LOGIN_RATE_LIMIT": "100000 per minute", "TRADEOFF_SCHEDULER": "off"}
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def sqlite_url(env: dict) -> str:
    return f"sqlite:///{env['TRADEOFF_INSTANCE_PATH']}/tradeoff.sqlite3"


def db_url(env: dict) -> str:
    url = env.get("DATABASE_URL") or sqlite_url(env)
    return "postgresql+psycopg://" + url.split("://", 1)[1] if url.startswith("postgres") else url


@dataclass
class World:
    review: int
    session: int
    candidates: list[int]
    emails: list[str]
    ballots: int  # already cast in the open vote


def prepare(env: dict, members: int) -> World:
    """Migrate, then build the world in a subprocess with the server's environment (so that it
    writes the server's database): an owner and ``members`` voting members in one team, a
    review from the framework template and an open ranked vote with live tallies."""
    log(f"migrating and seeding {members} members")
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=300)
    out = subprocess.run([sys.executable, "-m", "bench.sockets", "seed", str(members)], cwd=ROOT, env=env,
                         check=True, capture_output=True, text=True, timeout=300).stdout
    return World(**json.loads(out.strip().splitlines()[-1]))


def _seed(members: int) -> dict:
    """Inside the app, through its services. The users share one real Argon2id hash of the
    production profile (one hash per user would only slow the setup; every login still
    verifies it)."""
    from app import create_app
    from app.extensions import db
    from app.models import Membership, Role, User
    from app.services import passwords, reviews, teams, votes

    app = create_app()
    with app.app_context():
        shared = passwords.hash_password(PASSWORD, app.config["PASSWORD_HASH_PROFILE"])
        owner = User(email="bench-owner@bench.example.com", name="Bench Owner", password_hash=shared)
        users = [User(email=f"bench-{i:04d}@bench.example.com", name=f"Bench Member {i:04d}",
                      password_hash=shared) for i in range(members)]
        db.session.add_all([owner, *users])
        db.session.commit()
        team = teams.create_team(owner, "Bench team")
        db.session.add_all(Membership(team_id=team.id, user_id=u.id, role=Role.MEMBER.value) for u in users)
        db.session.commit()
        review = reviews.create_review(owner, team, title="Web framework for the orders service",
                                       question="Which Python web framework should the orders API use?",
                                       template="python-web-framework", extra_candidates=["Litestar"])
        session = votes.open_vote(owner, review, votes.VoteSettings(method="ranked", reveal="live"))
        return {"review": review.id, "session": session.id, "candidates": list(session.candidate_ids),
                "emails": [u.email for u in users], "ballots": 0}


# --- members: real HTTP logins ----------------------------------------------------------------------

@dataclass
class Member:
    email: str
    cookies: dict
    csrf: str

    def cookie_header(self, lb: str | None = None) -> str:
        jar = dict(self.cookies)
        if lb:
            jar["tradeoff_lb"] = lb
        return "; ".join(f"{k}={v}" for k, v in jar.items())


CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')


def login(url: str, email: str, review: int, lb: str) -> Member:
    http = requests.Session()
    http.cookies.set("tradeoff_lb", lb, domain="127.0.0.1")
    token = CSRF_RE.search(http.get(url + "/login", timeout=30).text).group(1)
    r = http.post(url + "/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                  allow_redirects=False, timeout=60)
    if r.status_code != 303:
        raise RuntimeError(f"login of {email} answered {r.status_code}")
    page = http.get(f"{url}/reviews/{review}/steps/vote", timeout=30)
    page.raise_for_status()
    cookies = {c.name: c.value for c in http.cookies if c.name != "tradeoff_lb"}
    return Member(email, cookies, CSRF_RE.search(page.text).group(1))


def login_all(url: str, emails: list[str], review: int) -> list[Member]:
    log(f"logging in {len(emails)} members")
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda e: login(url, e, review, f"lb-{e}"), emails))


def ballot_form(candidates: list[int], k: int) -> dict:
    """A ranked ballot (the demo vote's method), rotated per member so the tally moves."""
    shift = k % len(candidates)
    order = candidates[shift:] + candidates[:shift]
    return {f"ballot-c{cid}": str(rank) for rank, cid in enumerate(order, 1)}


# --- the room: asyncio Socket.IO clients ------------------------------------------------------------

def log(message: str) -> None:
    """Progress on stderr (a full run takes minutes)."""
    print(f"   [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def raise_nofile(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard) if hard != resource.RLIM_INFINITY
                                                    else wanted, hard))


class Room:
    """Many python-socketio asyncio clients in one room, recording when each receives the
    ``fragment`` a round waits for."""

    def __init__(self) -> None:
        import socketio

        self._socketio = socketio
        self.clients: list = []
        self.last_event = time.perf_counter()
        self.received: dict[int, float] = {}
        self.sizes: list[int] = []
        self.last_html = ""
        self.predicate = None
        self.complete: asyncio.Event | None = None
        self.wanted = 0

    def _handler(self, index: int):
        def on_fragment(data):
            now = time.perf_counter()
            self.last_event = now
            if self.predicate and index not in self.received and self.predicate(data):
                self.received[index] = now
                self.sizes.append(len(data.get("html", "")))
                self.last_html = data.get("html", "")
                if len(self.received) >= self.wanted:
                    self.complete.set()
        return on_fragment

    async def connect(self, url: str, specs: list[tuple[str | None, dict]], parallel: int = 10,
                      timeout: float = 10.0) -> int:
        """Connect one client per (cookie header, auth); returns how many got in. A connect that
        does not finish within ``timeout`` (the server has no thread left) counts as refused."""
        gate = asyncio.Semaphore(parallel)

        async def one(index: int, cookie: str | None, auth: dict) -> None:
            client = self._socketio.AsyncClient(reconnection=False)
            client.on("fragment", self._handler(index))
            async with gate:
                try:
                    await asyncio.wait_for(client.connect(
                        url, transports=["websocket"], auth=auth,
                        headers={"Cookie": cookie} if cookie else {}, wait_timeout=timeout), timeout)
                except (TimeoutError, self._socketio.exceptions.ConnectionError):
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(client.disconnect(), 2)
                    await _close_http(client)
                    return
            self.clients.append(client)

        await asyncio.gather(*(one(i, cookie, auth) for i, (cookie, auth) in enumerate(specs)))
        return len(self.clients)

    async def quiet(self, seconds: float = 1.0, limit: float = 900.0) -> None:
        """Wait until no fragment has arrived for ``seconds`` (the presence pushes of the joins)."""
        deadline = time.perf_counter() + limit
        while time.perf_counter() - self.last_event < seconds:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"the room did not settle within {limit:.0f}s")
            await asyncio.sleep(0.1)

    async def round(self, trigger, predicate, timeout: float = 20.0) -> tuple[float | None, int, float]:
        """Trigger one broadcast; returns (ms from the trigger to the last client's receipt or
        None when some never got it, how many got it, ms of the trigger's HTTP answer)."""
        self.received, self.predicate, self.wanted = {}, predicate, len(self.clients)
        self.complete = asyncio.Event()
        started = time.perf_counter()
        await trigger()
        answered = (time.perf_counter() - started) * 1000
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.complete.wait(), timeout)
        self.predicate = None
        got = len(self.received)
        if got < self.wanted:
            return None, got, answered
        return (max(self.received.values()) - started) * 1000, got, answered

    async def close(self) -> None:
        async def one(client) -> None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 5)
            await _close_http(client)

        await asyncio.gather(*(one(c) for c in self.clients))
        self.clients = []


async def _close_http(client) -> None:
    http = getattr(client.eio, "http", None)
    if http is not None and not http.closed:
        with contextlib.suppress(Exception):
            await http.close()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


@dataclass
class Fanout:
    latencies: list[float]
    received: list[int]  # per round: how many clients got the broadcast
    clients: int
    casts: int
    payload: int  # bytes of the broadcast HTML
    answered: list[float]
    error: str = ""
    html: str = ""  # the last broadcast HTML (the anchor sends the same)

    @property
    def complete(self) -> bool:
        return len(self.latencies) == self.casts and all(n == self.clients for n in self.received)

    def stat(self, name: str) -> float | None:
        if not self.latencies:
            return None
        return {"p50": percentile(self.latencies, 50), "p95": percentile(self.latencies, 95),
                "max": max(self.latencies)}[name]


async def run_fanout(url: str, specs: list[tuple[str | None, dict]], casts: int, trigger_for,
                     predicate_for) -> Fanout:
    """Connect every client, let the joins settle, then ``casts`` rounds, one after another."""
    room = Room()
    import aiohttp

    try:
        log(f"connecting {len(specs)} clients to {url}")
        held = await room.connect(url, specs)
        log(f"{held} connected; waiting for the joins' presence pushes to settle")
        if held < len(specs):
            raise RuntimeError(f"only {held} of {len(specs)} clients could connect to {url}")
        await room.quiet()
        still = sum(1 for c in room.clients if c.connected)
        if still < held:
            raise RuntimeError(f"{held - still} of {held} sockets were dropped while the joins' presence "
                               f"pushes (one to the whole room per join) were delivered")
        log(f"{casts} rounds")
        latencies, received, answered = [], [], []
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            for k in range(casts):
                ms, got, answer = await room.round(lambda k=k: trigger_for(http, k), predicate_for(k))
                received.append(got)
                answered.append(answer)
                if ms is not None:
                    latencies.append(ms)
                elif sum(1 for c in room.clients if c.connected) < held:
                    log(f"round {k}: {got} of {held} got the tally and sockets were dropped; stopping")
                    break
        payload = max(room.sizes) if room.sizes else 0
        return Fanout(latencies, received, held, casts, payload, answered, html=room.last_html)
    finally:
        await room.close()


def try_fanout(coroutine, casts: int) -> Fanout:
    """A fan-out run that fails (clients refused or dropped) gives an empty result saying why."""
    try:
        return asyncio.run(coroutine)
    except Exception as err:  # noqa: BLE001 - reported in the rows
        log(f"fan-out failed: {err}")
        return Fanout([], [], 0, casts, 0, [], error=f"{type(err).__name__}: {err}")


def app_trigger(url: str, world: World, casters: list[Member]):
    """Member k casts their first ballot, as the browser's htmx form does."""
    async def trigger(http, k: int) -> None:
        member = casters[k]
        async with http.post(f"{url}/reviews/{world.review}/votes/{world.session}/ballot",
                             data=ballot_form(world.candidates, k),
                             headers={"Cookie": member.cookie_header(), "X-CSRFToken": member.csrf,
                                      "HX-Request": "true"}) as r:
            await r.read()
            if r.status != 200:
                raise RuntimeError(f"ballot of {member.email} answered {r.status}")
    return trigger


def app_predicate(world: World):
    """The board after cast k says "<base + k + 1> ballot(s) of"."""
    def for_cast(k: int):
        want = re.compile(rf"<strong>{world.ballots + k + 1} ballots? of")
        return lambda data: bool(want.search(data.get("html", "")))
    return for_cast


def bare_trigger(url: str, size: int):
    async def trigger(http, _k: int) -> None:
        async with http.post(f"{url}/emit?bytes={size}&room=bench") as r:
            await r.read()
            if r.status != 204:
                raise RuntimeError(f"bare emit answered {r.status}")
    return trigger


# --- 1. fan-out ----------------------------------------------------------------------------------

def fanout_rows(clients: int = CLIENTS, casts: int = CASTS) -> list[Row]:
    """Benchmark 1 on the embedded default (SQLite, one process, in-process Socket.IO)."""
    casts = min(casts, clients)
    threads = max(PROD_THREADS, clients + HEADROOM)
    raise_nofile(4 * clients + 1024)
    tmp = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    servers: list[Server] = []
    try:
        env = base_env(tmp)
        world = prepare(env, clients)
        app = Server("wsgi:app", env, threads, tmp / "app.log")
        servers.append(app)
        members = login_all(app.url, world.emails, world.review)
        specs = [(m.cookie_header(), {"review": world.review}) for m in members]
        ours = asyncio.run(run_fanout(app.url, specs, casts, app_trigger(app.url, world, members),
                                      app_predicate(world)))
        app.stop()
        bare = Server("bench.bare_socketio_app:app", env, threads, tmp / "bare.log")
        servers.append(bare)
        size = ours.payload or 1000
        if ours.html:  # the anchor broadcasts the very HTML Tradeoff broadcast last
            requests.post(bare.url + "/payload", data=ours.html.encode(), timeout=30,
                          headers={"Content-Type": "text/html; charset=utf-8"}).raise_for_status()
        theirs = asyncio.run(run_fanout(bare.url, [(None, {"room": "bench"})] * clients, casts,
                                        bare_trigger(bare.url, size), lambda k: (lambda data: True)))
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return fanout_figures("1. fan-out", f"{clients} clients, one process, SQLite", ours, theirs,
                          shown(app.cmd).replace(str(app.port), "PORT"),
                          shown(bare.cmd).replace(str(bare.port), "PORT"))


def fanout_figures(bench: str, where: str, ours: Fanout, theirs: Fanout, command: str,
                   anchor_command: str, anchor_name: str = "bare Flask-SocketIO") -> list[Row]:
    rows = []
    for stat in ("p50", "p95", "max"):
        value, anchor = ours.stat(stat), theirs.stat(stat)
        row = Row(bench, f"cast → last client has the tally, {stat} ({where})", value, "ms", anchor,
                  anchor_name, ok=ours.complete and theirs.complete, command=command,
                  detail=f"{ours.casts} casts, {ours.clients} clients, {ours.payload} B of HTML; anchor "
                         f"{theirs.clients} clients, {theirs.payload} B; anchor: `{anchor_command}`",
                  extra={"received": ours.received, "anchor_received": theirs.received,
                         "post_ms_p50": percentile(ours.answered, 50) if ours.answered else None})
        if stat == "p95":
            row.target = f"≤ {TARGET_FANOUT_RATIO}× bare p95 and ≤ {TARGET_FANOUT_MS:.0f} ms"
            row.met = (value is not None and anchor is not None
                       and value <= TARGET_FANOUT_RATIO * anchor and value <= TARGET_FANOUT_MS)
        rows.append(row)
    return rows


# --- 2. ballot throughput --------------------------------------------------------------------------

async def burst(url: str, requests_: list[tuple[str, dict, dict]], expect: int) -> tuple[float, list[int]]:
    """POST every request at the same moment; seconds from the first send to the last answer."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                     cookie_jar=aiohttp.DummyCookieJar()) as http:
        async def one(path: str, data: dict, headers: dict) -> int:
            async with http.post(url + path, data=data, headers=headers) as r:
                await r.read()
                return r.status

        started = time.perf_counter()
        statuses = await asyncio.gather(*(one(*r) for r in requests_), return_exceptions=True)
        elapsed = time.perf_counter() - started
    return elapsed, [s if isinstance(s, int) else -1 for s in statuses]


def count(url: str, sql: str, **params) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar_one()
    finally:
        engine.dispose()


def throughput_rows(ballots: int = BALLOTS, database: str = "sqlite") -> list[Row]:
    """Benchmark 2: ``ballots`` members cast at once on one process (the production command)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-ballots-{database}-"))
    servers: list[Server] = []
    drop = None
    try:
        if database == "postgres":
            if not _reachable(POSTGRES_URL):
                raise RuntimeError(f"needs PostgreSQL at {POSTGRES_URL} (TEST_POSTGRES_URL)")
            from tests.services import fresh_postgres_database
            url, drop = fresh_postgres_database()
            env = base_env(tmp, database_url=url)
        else:
            env = base_env(tmp)
        world = prepare(env, ballots)
        app = Server("wsgi:app", env, PROD_THREADS, tmp / "app.log")
        servers.append(app)
        members = login_all(app.url, world.emails, world.review)
        path = f"/reviews/{world.review}/votes/{world.session}/ballot"
        elapsed, statuses = asyncio.run(burst(app.url, [
            (path, ballot_form(world.candidates, k),
             {"Cookie": m.cookie_header(), "X-CSRFToken": m.csrf, "HX-Request": "true"})
            for k, m in enumerate(members)], ballots))
        stored = count(db_url(env), "SELECT count(*) FROM ballots WHERE session_id = :s",
                       s=world.session) - world.ballots
        app.stop()
        bare_env = dict(env, BARE_DATABASE_URL=db_url(env))
        bare = Server("bench.bare_socketio_app:app", bare_env, PROD_THREADS, tmp / "bare.log")
        servers.append(bare)
        bare_elapsed, bare_statuses = asyncio.run(burst(bare.url, [
            ("/ballot", {"user": str(k), "payload": json.dumps(world.candidates)}, {})
            for k in range(ballots)], ballots))
        bare_stored = count(db_url(env), "SELECT count(*) FROM bare_ballots")
    finally:
        for server in servers:
            server.stop()
        if drop:
            drop()
        shutil.rmtree(tmp, ignore_errors=True)
    refused = sum(1 for s in statuses if s != 200)
    label = "SQLite (WAL)" if database == "sqlite" else "PostgreSQL"
    ok = stored == ballots and refused == 0 and bare_stored == ballots
    return [Row("2. ballots", f"{ballots} members cast at the same moment, {label}", ballots / elapsed,
                "ballots/s", ballots / bare_elapsed, "plain SQLAlchemy INSERT per POST, same database",
                target=f"all {ballots} committed, none refused by a lock", met=ok, ok=ok,
                command=shown(app.cmd).replace(str(app.port), "PORT"),
                detail=f"{stored} of {ballots} committed; answers: "
                       f"{dict(sorted(_tally(statuses).items()))}; anchor {bare_stored} rows, answers "
                       f"{dict(sorted(_tally(bare_statuses).items()))}; wall {elapsed:.2f} s vs {bare_elapsed:.2f} s",
                extra={"stored": stored, "refused": refused, "bare_stored": bare_stored})]


def _tally(statuses: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for s in statuses:
        out[s] = out.get(s, 0) + 1
    return out


# --- 5. scale-out --------------------------------------------------------------------------------

class BenchCluster(Cluster):
    """tests/scaleout's cluster with room for hundreds of sockets in nginx."""

    starts = 0
    boots = 0  # "Booting worker" lines of the logs of processes already stopped

    def start_app(self, port: int) -> None:
        super().start_app(port)
        self.starts += 1

    def booted(self) -> int:
        """Workers booted so far; more than ``starts`` means gunicorn restarted a worker (its
        sockets were dropped)."""
        return self.boots + sum(f.read_text(errors="replace").count("Booting worker")
                                for f in self.tmp.glob("app-*.log"))

    def restart_apps(self, threads: int) -> None:
        self.boots = self.booted()
        for port in list(self.procs):
            proc = self.procs.pop(port)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.threads = threads
        for port in self.app_ports:
            self.start_app(port)

    def front(self, ports: list[int]) -> Cluster:
        """A second nginx (same configuration) in front of only ``ports``."""
        other = Cluster(env=self.env, tmp=self.tmp / f"nginx-{len(ports)}", app_ports=ports,
                        worker_connections=self.worker_connections)
        other.tmp.mkdir(exist_ok=True)
        other.start_nginx()
        return other


def app_specs(members: list[Member], clients: int, review: int) -> list[tuple[str, dict]]:
    """Client i is a tab of member i % len(members), with its own load-balancer cookie."""
    return [(members[i % len(members)].cookie_header(lb=f"tab-{i}"), {"review": review})
            for i in range(clients)]


async def hold(url: str, specs: list[tuple[str, dict]], health: str) -> tuple[int, bool]:
    """Connect every client (refused after 10 s without an answer); how many sockets are still
    open once all attempts are done, and whether the server answers a plain HTTP request then."""
    room = Room()
    try:
        log(f"holding up to {len(specs)} sockets through {url}")
        await room.connect(url, specs, parallel=20, timeout=10)
        await asyncio.sleep(2)
        held = sum(1 for c in room.clients if c.connected)
        log(f"{held} held ({len(room.clients)} got in at some point)")
        loop = asyncio.get_running_loop()
        answers = await loop.run_in_executor(None, lambda: _answers(health))
        return held, answers
    finally:
        await room.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=3).status_code == 200
    except requests.RequestException:
        return False


def scaleout_rows(clients: int = SCALE_CLIENTS, procs: int = SCALE_PROCS, casts: int = CASTS,
                  members: int = MEMBERS, redis_db: int = 8, threads: int = SCALE_THREADS) -> list[Row]:
    """Benchmark 5: ``procs`` app processes + Redis + PostgreSQL behind nginx. ``redis_db`` is
    flushed before and after (tests/scaleout uses 7).

    Sockets held: every process, in the one-process and the ``procs``-process run alike, is
    started by the same command, sized for its share of the clients: ``threads`` (default
    clients / procs + HEADROOM) gunicorn threads, one per socket plus HEADROOM for HTTP. One
    process then holds as many sockets as it has threads; the ratio is what adding processes
    adds. (At the shipped ``--threads 400`` one process would already hold two thirds of 600
    clients, and the ratio could not exceed 1.5 whatever the scale-out does.)"""
    threads = threads or clients // procs + HEADROOM
    if NGINX is None:
        raise RuntimeError("needs nginx (apt-get install nginx)")
    for url, what in ((POSTGRES_URL, "PostgreSQL (TEST_POSTGRES_URL)"), (REDIS_URL, "Redis (TEST_REDIS_URL)")):
        if not _reachable(url):
            raise RuntimeError(f"needs {what} at {url}")
    import redis

    from tests.services import fresh_postgres_database

    members = min(members, clients)
    casts = min(casts, members // 2)  # the two fan-out runs cast first ballots of different members
    raise_nofile(8 * clients + 4096)
    tmp = Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
    url, drop = fresh_postgres_database()
    redis_url = REDIS_URL.rsplit("/", 1)[0] + f"/{redis_db}"
    redis.Redis.from_url(redis_url).flushdb()
    env = base_env(tmp, database_url=url, redis_url=redis_url)
    env.update(TRADEOFF_PROXY_COUNT="1", TRADEOFF_EXPOSE_NODE="1")
    cluster = BenchCluster(env=env, tmp=tmp, threads=threads, worker_connections=4 * clients + 512)
    fronts: list[Cluster] = []
    try:
        world = prepare(env, members)
        cluster.app_ports = [free_port() for _ in range(procs)]
        for port in cluster.app_ports:
            cluster.start_app(port)
        cluster.start_nginx()
        one = cluster.front(cluster.app_ports[:1])
        fronts.append(one)
        logged = login_all(cluster.url, world.emails, world.review)
        specs = app_specs(logged, clients, world.review)
        # Sockets held, every process sized for its share of the clients: one, then all of them.
        held_one, http_one = asyncio.run(hold(one.url, specs, one.url + "/healthz"))
        cluster.restart_apps(threads)  # connects that gave up may still sit in the queues
        held_all, http_all = asyncio.run(hold(cluster.url, specs, cluster.url + "/healthz"))
        # Fan-out to every client: --threads raised so that one process could hold them all.
        cluster.restart_apps(clients + HEADROOM)
        casters = logged[:casts]
        spread = try_fanout(run_fanout(cluster.url, specs, casts,
                                       app_trigger(cluster.url, world, casters), app_predicate(world)), casts)
        world.ballots = count(db_url(env), "SELECT count(*) FROM ballots WHERE session_id = :s", s=world.session)
        single = try_fanout(run_fanout(one.url, specs, casts,
                                       app_trigger(one.url, world, logged[casts:2 * casts]),
                                       app_predicate(world)), casts)
        command = shown(gunicorn_command("wsgi:app", 0, clients + HEADROOM)).replace(":0", ":PORT")
    finally:
        restarts = cluster.booted() - cluster.starts
        for front in fronts:
            front.stop()
        cluster.stop()
        redis.Redis.from_url(redis_url).flushdb()
        drop()
        shutil.rmtree(tmp, ignore_errors=True)
    prod = shown(gunicorn_command("wsgi:app", 0, threads)).replace(":0", ":PORT")
    ratio_ok = held_one > 0 and held_all / held_one >= TARGET_SOCKETS_RATIO
    rows = [Row("5. scale-out", f"sockets held of {clients} attempted, {procs} processes behind nginx "
                f"(--threads {threads} each: {clients // procs} sockets + {HEADROOM} for HTTP)", float(held_all),
                "sockets", float(held_one),
                f"1 process behind nginx, same command (HTTP still answered: {'yes' if http_one else 'no'})",
                target=f"≥ {TARGET_SOCKETS_RATIO}× one process", met=ratio_ok, command=f"{procs} × {prod}",
                detail=f"HTTP still answered with every socket held: {'yes' if http_all else 'no'}; "
                       f"{procs} processes held {held_all} of {clients}; gunicorn worker restarts during the "
                       f"whole run (sockets dropped): {restarts}",
                extra={"held_one": held_one, "held_all": held_all, "http_one": http_one, "http_all": http_all})]
    fan = fanout_figures("5. scale-out", f"{clients} clients over {procs} processes + Redis + PostgreSQL",
                         spread, single, f"{procs} × {command}", f"1 × {command}",
                         anchor_name=f"the same {clients} clients on 1 process")
    for run, label in ((spread, f"{procs} processes"), (single, "1 process")):
        if run.error:
            fan[0].detail += f"; **{label} failed:** {run.error}"
    for row in fan:
        if row.target:
            row.target = f"reported against one process (the {TARGET_FANOUT_MS:.0f} ms goal of benchmark 1)"
            row.met = row.value is not None and row.value <= TARGET_FANOUT_MS
    return rows + fan


# --- RESULTS.md -------------------------------------------------------------------------------

def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "ballots/s":
        return f"{value:.1f}/s"
    return f"{value:.0f}"


def markdown(rows: list[Row]) -> list[str]:
    lines = ["| benchmark | figure | Tradeoff | bare anchor | ratio | target | met | correct |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        ratio = f"{r.ratio:.2f}×" if r.ratio is not None else "—"
        lines.append(f"| {r.bench} | {r.name} | {fmt(r.value, r.unit)} | {fmt(r.anchor, r.unit)} "
                     f"({r.anchor_name}) | {ratio} | {r.target} | {met} | {'yes' if r.ok else '**no**'} |")
    lines += ["", "Details and exact commands:", ""]
    seen = set()
    for r in rows:
        key = (r.bench, r.detail, r.command)
        if key not in seen:
            seen.add(key)
            lines.append(f"- {r.bench} — {r.name}: `{r.command}`; {r.detail}")
    return lines


def section() -> list[str]:
    """Benchmarks 1 and 2 (bench/run.py's registry entry)."""
    return run_parts((("fan-out", fanout_rows),
                      ("ballots on SQLite", lambda: throughput_rows(database="sqlite")),
                      ("ballots on PostgreSQL", lambda: throughput_rows(database="postgres"))))


def scaleout_section() -> list[str]:
    """Benchmark 5 (its own registry entry: BENCH_ONLY=scale-out reruns it alone)."""
    return run_parts((("scale-out", scaleout_rows),))


def run_parts(parts) -> list[str]:
    rows: list[Row] = []
    failures: list[str] = []
    load_before = os.getloadavg()[1]
    for name, run in parts:
        print(f"   {name} ...", flush=True)
        try:
            rows += run()
        except Exception as err:  # noqa: BLE001 - reported in RESULTS.md, the rest still runs
            failures.append(f"- **{name} failed:** `{type(err).__name__}: {err}`")
    intro = [f"Sizes: BENCH_CLIENTS={CLIENTS}, BENCH_CASTS={CASTS}, BENCH_BALLOTS={BALLOTS}, "
             f"BENCH_SCALE_CLIENTS={SCALE_CLIENTS}, BENCH_SCALE_PROCS={SCALE_PROCS}, BENCH_MEMBERS={MEMBERS}, "
             f"BENCH_THREADS={PROD_THREADS}, BENCH_SCALE_THREADS={SCALE_THREADS or 'clients / processes + 20'}. "
             "Clients: python-socketio asyncio clients in one process, WebSocket transport, logged in by a "
             "real HTTP login (session cookie); casts are htmx POSTs.",
             f"The production command runs Socket.IO in threading mode: every open WebSocket holds one of the "
             f"process's `--threads` for its whole life. Benchmarks 1 and 2 run the production command "
             f"(`--threads {PROD_THREADS}`, raised to clients + {HEADROOM} only if that is more), app and anchor "
             f"alike; benchmark 5 sizes each process for its share of the clients (see its section).",
             f"Machine load (5-minute load average) when this section started: {load_before:.1f}, when it "
             f"ended: {os.getloadavg()[1]:.1f}, on {os.cpu_count()} cores.",
             ""]
    return intro + markdown(rows) + ([""] + failures if failures else [])


def main(argv: list[str]) -> None:
    if argv[:1] == ["seed"]:
        print(json.dumps(_seed(int(argv[1]))))
        return
    print("\n".join(section() + [""] + scaleout_section()))


if __name__ == "__main__":
    main(sys.argv[1:])
