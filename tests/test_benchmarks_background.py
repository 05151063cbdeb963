"""Large uploads are parsed in a background task: the uploader sees the progress (the region is
refreshed as it goes, throttled) and the page stays usable; a rejected file stores nothing.

These tests use an SQLite file (not the in-memory database the other tests share through one
connection), because the background task works in a thread of its own with its own session.
"""

from __future__ import annotations

import time

import pytest

from app import create_app
from app.config import TestingConfig
from app.extensions import db, limiter
from app.models import BenchmarkRun, BenchmarkUpload
from app.services import benchmarks
from tests.conftest import IsolatedClient
from tests.test_benchmarks import BAD_FILES, jmeter_csv, login, stored_blobs, upload

SYNC_LIMIT = 64 * 1024
WAIT_S = 60


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    app = create_app(TestingConfig(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'bg.sqlite3'}",
                                   BENCHMARK_SYNC_LIMIT_BYTES=SYNC_LIMIT))
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.create_all()
        limiter.reset()
        yield app
        db.session.remove()
        db.drop_all()


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
    monkeypatch.setattr(benchmarks, "PROGRESS_INTERVAL_S", 0.0)  # every step, for the test
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
    client = login(app, world.users["member"])
    name, body = BAD_FILES["binary"]
    r = upload(client, world.review, world.review.candidates[0], (name, body * 40))
    assert r.status_code == 202
    job = wait_for(db.session.scalar(db.select(BenchmarkUpload.id)))
    assert job.status == "failed" and "binary" in job.message
    assert db.session.scalar(db.select(db.func.count()).select_from(BenchmarkRun)) == 0
    assert stored_blobs(app) == []
    region = client.get(f"/reviews/{world.review.id}/regions/benchmark-uploads",
                        headers={"HX-Request": "true"}).get_data(as_text=True)
    assert job.message[:40] in region and "Nothing was stored" in region
