"""Large uploads are parsed in a background task: the uploader sees the progress (the region is
refreshed as it goes, throttled) and the page stays usable; a rejected file stores nothing.
The parse is claimed by one worker at a time with a lease: racing claimers make one run, the
scheduler takes over a parse whose lease ran out, and a worker that lost its claim writes
nothing.

These tests use an SQLite file (not the in-memory database the other tests share through one
connection), because the background task works in a thread of its own with its own session;
the claim tests run on PostgreSQL as well.
"""

from __future__ import annotations

import io
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import OperationalError

from app.config import normalise_database_url
from app.extensions import db
from app.models import AuditEvent, BenchmarkRun, BenchmarkUpload
from app.services import benchmarks, scheduler
from tests.conftest import built_app
from tests.services import fresh_postgres_database
from tests.test_benchmarks import BAD_FILES, jmeter_csv, login, stored_blobs, upload
from tests.test_vote_concurrency import in_threads

SYNC_LIMIT = 64 * 1024
WAIT_S = 60
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def app(tmp_path, monkeypatch, request):
    """The app on an SQLite file, or (``indirect`` param "postgres") on a fresh PostgreSQL
    database."""
    drop = None
    if getattr(request, "param", "sqlite") == "postgres":
        url, drop = fresh_postgres_database()
        uri = normalise_database_url(url)
    else:
        uri = f"sqlite:///{tmp_path / 'bg.sqlite3'}"
    try:
        with built_app(tmp_path, monkeypatch, SQLALCHEMY_DATABASE_URI=uri,
                         BENCHMARK_SYNC_LIMIT_BYTES=SYNC_LIMIT) as app:
            yield app
    finally:
        if drop:
            drop()


def wait_for(upload_id: int) -> BenchmarkUpload:
    """Poll (bounded) until the background parse has finished."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        db.session.expire_all()
        job = db.session.get(BenchmarkUpload, upload_id)
        if job.status != "parsing":
            return job
        time.sleep(0.05)
    pytest.fail(f"the background parse did not finish within {WAIT_S} s")


def test_large_upload_is_parsed_in_the_background_with_progress(app, world, socket_client,
                                                                 monkeypatch):
    monkeypatch.setitem(app.config, "BENCHMARK_PROGRESS_INTERVAL_S", 0.0)  # every step, for the test
    seen: list[int] = []
    record = benchmarks.realtime.push_refresh

    def spy(review_id, *regions):
        if benchmarks.UPLOADS_REGION in regions:
            job = db.session.scalar(db.select(BenchmarkUpload))
            seen.append(job.bytes_read if job else 0)
        record(review_id, *regions)

    monkeypatch.setattr(benchmarks.realtime, "push_refresh", spy)
    member = world.users["member"]
    client = login(app, member)
    sc = socket_client(client, world.review.id)
    sc.get_received()
    body = jmeter_csv(40_000).encode()  # ~5 MB: several 256 KiB progress steps
    assert len(body) > SYNC_LIMIT
    r = upload(client, world.review, world.review.candidates[0], ("big.jtl", body))
    assert r.status_code == 202, r.get_data(as_text=True)[:2000]
    assert "in the background" in r.get_data(as_text=True)
    assert r.headers["HX-Trigger"] == "benchmark-uploads-changed"
    # the page stays usable while the file is read
    assert client.get(f"/reviews/{world.review.id}/steps/benchmarks").status_code == 200
    job = wait_for(db.session.scalar(db.select(BenchmarkUpload.id)))
    assert job.status == "done", job.message
    assert job.bytes_read == job.bytes_total == len(body)
    run = db.session.get(BenchmarkRun, job.run_id)
    assert run.figure("requests") == 40_000 and run.format == "jmeter-csv"
    assert run.created_by_id == member.id
    assert len(seen) >= 3 and seen == sorted(seen) and max(seen) == len(body)
    regions = [r for m in sc.get_received() if m["name"] == "refresh"
               for r in m["args"][0]["regions"]]
    assert "benchmark-uploads" in regions and "benchmarks" in regions
    region = client.get(f"/reviews/{world.review.id}/regions/benchmark-uploads",
                        headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "big.jtl" in region and "Open the run" in region
    other = login(app, world.users["facilitator"]).get(
        f"/reviews/{world.review.id}/regions/benchmark-uploads",
        headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "big.jtl" not in other  # progress is shown to its uploader only
    client.post(f"/reviews/{world.review.id}/benchmarks/uploads/dismiss")
    assert db.session.scalar(db.select(db.func.count()).select_from(BenchmarkUpload)) == 0
    assert len(stored_blobs(app)) == 1  # the run keeps its file


def test_progress_shows_while_parsing(app, world, monkeypatch):
    """Hold the parser at its first progress report and look at the uploader's region."""
    import threading

    gate, reached = threading.Event(), threading.Event()
    real = benchmarks.parse_run

    def slow_parse(files, fmt=None, *, progress=None, **kw):
        def report(n):
            progress(n)
            reached.set()
            gate.wait(WAIT_S)
        return real(files, fmt, progress=report, **kw)

    monkeypatch.setattr(benchmarks, "parse_run", slow_parse)
    client = login(app, world.users["member"])
    r = upload(client, world.review, world.review.candidates[0],
               ("big.jtl", jmeter_csv(20_000).encode()))
    assert r.status_code == 202
    assert reached.wait(WAIT_S)
    region = client.get(f"/reviews/{world.review.id}/regions/benchmark-uploads",
                        headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<progress" in region and "% read" in region and "every 3s" in region
    gate.set()
    assert wait_for(db.session.scalar(db.select(BenchmarkUpload.id))).status == "done"


def test_rejected_background_upload_stores_nothing(app, world):
    """A large file that is no tool's output (images and archives are refused before they are
    kept; this one passes that check and is rejected by the parser in the background)."""
    client = login(app, world.users["member"])
    name, body = BAD_FILES["wrong_tool"]
    body += body.split(b"\n", 1)[1] * 5_000
    assert len(body) > SYNC_LIMIT
    r = upload(client, world.review, world.review.candidates[0], (name, body))
    assert r.status_code == 202
    job = wait_for(db.session.scalar(db.select(BenchmarkUpload.id)))
    assert job.status == "failed" and "not output of a supported load-testing tool" in job.message
    assert db.session.scalar(db.select(db.func.count()).select_from(BenchmarkRun)) == 0
    assert stored_blobs(app) == []
    region = client.get(f"/reviews/{world.review.id}/regions/benchmark-uploads",
                        headers={"HX-Request": "true"}).get_data(as_text=True)
    assert job.message[:40] in region and "Nothing was stored" in region


# --- the claim and its lease --------------------------------------------------------------------

ROWS = 20_000  # ~2.5 MB: several progress reports, parsed in about a second


def expire_lease(upload_id: int) -> None:
    db.session.execute(db.update(BenchmarkUpload).where(BenchmarkUpload.id == upload_id)
                       .values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    db.session.commit()


def accepted_upload(world, monkeypatch, *, expired: bool) -> BenchmarkUpload:
    """A large upload accepted and claimed by its process, whose background task never ran
    (the process died at once); with ``expired`` its lease has run out as well."""
    review = world.review
    with monkeypatch.context() as m:
        m.setattr(benchmarks.socketio, "start_background_task", lambda *args, **kw: None)
        job = benchmarks.ingest_run(world.users["member"], review, review.candidates[0].id,
                                    [benchmarks.IncomingFile("big.jtl",
                                                             io.BytesIO(jmeter_csv(ROWS).encode()))],
                                    benchmarks.RunDetails(), allow_background=True)
    assert isinstance(job, BenchmarkUpload)
    assert job.status == "parsing" and job.claimed_by and job.attempts == 1
    assert job.lease_until > datetime.now(UTC)
    if expired:
        expire_lease(job.id)
    return job


def run_inline(monkeypatch) -> None:
    """Background tasks run in the caller's thread, so each claimer parses what it claimed."""
    monkeypatch.setattr(benchmarks.socketio, "start_background_task",
                        lambda target, *args: target(*args))


def one_run_of(upload_id: int) -> tuple[BenchmarkUpload, BenchmarkRun]:
    """The upload is done and exactly one run (with one audit event) came of it."""
    db.session.expire_all()
    job = db.session.get(BenchmarkUpload, upload_id)
    assert job.status == "done", job.message
    runs = db.session.scalars(db.select(BenchmarkRun)).all()
    assert [r.id for r in runs] == [job.run_id]
    assert runs[0].figure("requests") == ROWS
    uploaded = db.session.scalar(db.select(db.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "benchmark.uploaded"))
    assert uploaded == 1
    assert job.bytes_read == job.bytes_total and job.lease_until is None
    return job, runs[0]


@pytest.mark.parametrize("app", BACKENDS, indirect=True)
def test_racing_claimers_of_an_interrupted_parse_make_exactly_one_run(app, world, monkeypatch):
    """Six workers (threads with their own sessions, released together) try to take over the
    same interrupted parse; each parses what it claimed. One claims it; one run comes of it."""
    upload_id = accepted_upload(world, monkeypatch, expired=True).id
    run_inline(monkeypatch)

    def take_over(_i):
        with app.app_context():
            try:
                return benchmarks.resume_interrupted()
            finally:
                db.session.remove()

    results = in_threads(6, take_over)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(i for taken in results for i in taken) == [upload_id]
    job, _run = one_run_of(upload_id)
    assert job.attempts == 2


def test_the_scheduler_job_takes_over_a_parse_whose_lease_ran_out(app, world, monkeypatch):
    """The scheduler's pass (what APScheduler runs in every process) resumes the interrupted
    parse in a background task, and leaves a parse whose lease still holds alone."""
    interrupted = accepted_upload(world, monkeypatch, expired=True)
    dead_worker = interrupted.claimed_by
    running = accepted_upload(world, monkeypatch, expired=False)
    running_worker = running.claimed_by

    result = scheduler.run_pass(app)
    assert result is not None and result.resumed == 1
    job = wait_for(interrupted.id)
    assert job.status == "done", job.message
    assert job.attempts == 2 and job.claimed_by != dead_worker
    run = db.session.get(BenchmarkRun, job.run_id)
    assert run.figure("requests") == ROWS and run.created_by_id == world.users["member"].id
    db.session.expire_all()
    other = db.session.get(BenchmarkUpload, running.id)
    assert (other.status, other.attempts, other.claimed_by) == ("parsing", 1, running_worker)
    assert scheduler.run_pass(app).resumed == 0  # nothing else has run out


def test_a_parse_interrupted_too_often_is_given_up_and_nothing_kept(app, world, monkeypatch):
    job = accepted_upload(world, monkeypatch, expired=True)
    db.session.execute(db.update(BenchmarkUpload).where(BenchmarkUpload.id == job.id)
                       .values(attempts=benchmarks.MAX_PARSE_ATTEMPTS))
    db.session.commit()
    assert benchmarks.resume_interrupted() == []
    db.session.expire_all()
    job = db.session.get(BenchmarkUpload, job.id)
    assert job.status == "failed" and "interrupted 3 times" in job.message
    assert db.session.scalar(db.select(db.func.count()).select_from(BenchmarkRun)) == 0
    assert stored_blobs(app) == []


def test_files_this_host_cannot_read_are_left_to_a_host_that_can(app, world, monkeypatch):
    job = accepted_upload(world, monkeypatch, expired=True)
    for blob in stored_blobs(app):
        blob.rename(blob.with_suffix(".elsewhere"))
    assert benchmarks.resume_interrupted() == []
    db.session.expire_all()
    assert db.session.get(BenchmarkUpload, job.id).attempts == 1  # not claimed


def _worker(app, name: str, work):
    """Run ``work()`` in a named thread with its own app context; the result or exception."""
    out: dict = {}

    def run():
        with app.app_context():
            try:
                out["result"] = work()
            except BaseException as err:  # noqa: BLE001 - the test inspects it
                out["error"] = err
            finally:
                db.session.remove()

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread, out


@pytest.mark.parametrize("app", BACKENDS, indirect=True)
def test_a_worker_that_lost_its_lease_mid_parse_stops_and_writes_nothing(app, world,
                                                                           monkeypatch):
    """Worker A stalls mid-parse past its lease; B takes over and finishes. A's next progress
    report finds its claim gone: A stops, and neither its progress nor a run is written."""
    job = accepted_upload(world, monkeypatch, expired=False)
    claim_a = job.claimed_by
    monkeypatch.setitem(app.config, "BENCHMARK_PROGRESS_INTERVAL_S", 0.0)  # report every 256 KiB
    stalled, go_on = threading.Event(), threading.Event()
    real = benchmarks.parse_run

    def stalling_parse(files, fmt=None, *, progress=None, **kw):
        def report(read):
            progress(read)
            if threading.current_thread().name == "worker-a" and not stalled.is_set():
                stalled.set()
                go_on.wait(WAIT_S)
        return real(files, fmt, progress=report, **kw)

    monkeypatch.setattr(benchmarks, "parse_run", stalling_parse)
    thread, out = _worker(app, "worker-a", lambda: benchmarks.parse_upload(job.id, claim_a))
    try:
        assert stalled.wait(WAIT_S)
        expire_lease(job.id)
        run_inline(monkeypatch)
        assert benchmarks.resume_interrupted() == [job.id]  # B, in this thread, finishes it
    finally:
        go_on.set()
        thread.join(WAIT_S)
    assert not thread.is_alive()
    assert out == {"result": None}  # A stopped quietly
    done, run = one_run_of(job.id)
    assert done.claimed_by != claim_a and done.attempts == 2
    assert len(stored_blobs(app)) == 1  # B's run keeps the file


@pytest.mark.parametrize("app", BACKENDS, indirect=True)
def test_a_worker_taken_over_before_its_commit_rolls_its_run_back(app, world, monkeypatch):
    """Worker A has read every byte and is storing the run when B takes over and finishes:
    A's finishing transaction finds the claim gone and is rolled back (no second run, no
    second audit event)."""
    job = accepted_upload(world, monkeypatch, expired=False)
    claim_a = job.claimed_by
    storing, go_on = threading.Event(), threading.Event()
    real = benchmarks._new_run

    def gated_new_run(*args, **kw):
        if threading.current_thread().name == "worker-a":
            storing.set()
            go_on.wait(WAIT_S)
        return real(*args, **kw)

    monkeypatch.setattr(benchmarks, "_new_run", gated_new_run)
    thread, out = _worker(app, "worker-a", lambda: benchmarks.parse_upload(job.id, claim_a))
    try:
        assert storing.wait(WAIT_S)
        expire_lease(job.id)
        run_inline(monkeypatch)
        assert benchmarks.resume_interrupted() == [job.id]
    finally:
        go_on.set()
        thread.join(WAIT_S)
    assert not thread.is_alive()
    assert out == {"result": None}
    done, run = one_run_of(job.id)
    assert done.claimed_by != claim_a
    assert len(stored_blobs(app)) == 1


def test_a_database_error_while_saving_progress_is_not_blamed_on_the_file(app, world,
                                                                           monkeypatch):
    """The database refuses a progress report mid-parse: the worker stops without failing the
    upload or removing its files, and the parse is taken over once the lease runs out."""
    job = accepted_upload(world, monkeypatch, expired=False)
    monkeypatch.setitem(app.config, "BENCHMARK_PROGRESS_INTERVAL_S", 0.0)
    real, calls = benchmarks._renew, []

    def flaky_renew(upload_id, claim, read):
        calls.append(read)
        if len(calls) == 2:
            raise OperationalError("UPDATE benchmark_uploads", {}, Exception("server closed"))
        return real(upload_id, claim, read)

    monkeypatch.setattr(benchmarks, "_renew", flaky_renew)
    assert benchmarks.parse_upload(job.id, job.claimed_by) is None
    assert len(calls) == 2  # it stopped at the refused report
    db.session.expire_all()
    stuck = db.session.get(BenchmarkUpload, job.id)
    assert (stuck.status, stuck.message, stuck.attempts) == ("parsing", "", 1)
    assert len(stored_blobs(app)) == 1
    monkeypatch.setattr(benchmarks, "_renew", real)
    expire_lease(job.id)
    run_inline(monkeypatch)
    assert benchmarks.resume_interrupted() == [job.id]
    done, _run = one_run_of(job.id)
    assert done.attempts == 2
