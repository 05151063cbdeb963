"""Background parses of large benchmark uploads across processes: a parse whose process is
killed is finished by the other process's scheduler, and with both schedulers running no parse
ever runs twice. Real files (generated JMeter results, large enough to be parsed in the
background for several seconds), uploaded through nginx; what is committed is read back from
PostgreSQL. Loopback only; every wait is bounded."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from app.services.demo import DEMO_PASSWORD
from tests.scaleout.cluster import wait_for
from tests.test_benchmarks import jmeter_csv

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
REVIEW = 1
LEASE_S = 8  # BENCHMARK_PARSE_LEASE_S of both processes; every progress report renews it
SCHEDULERS = {"scheduler_interval": "1", "lease": str(LEASE_S)}
# Progress (and so the lease) written every 50 ms, so that a parse of a second is seen renewing.
FREQUENT_PROGRESS = {**SCHEDULERS, "progress_interval": "0.05"}


def write_jtl(path: Path, rows: int, start: int = 1_700_000_000_000) -> Path:
    """A JMeter CSV result file with ``rows`` samples (about 120 bytes each). Every label holds a
    comma, so JMeter quotes it: such rows take the row reader (not the block reader of plain
    rows, app/parsers/jtl_fast.py), so that a parse lasts long enough to be watched and killed."""
    chunk = 50_000
    with path.open("w") as out:
        for first in range(0, rows, chunk):
            text = jmeter_csv(min(chunk, rows - first), start=start + 10 * first)
            text = text.replace(",GET /orders,", ',"GET /orders, page 1",')
            out.write(text if first == 0 else text.split("\n", 1)[1])
    return path


def upload_row(cluster, upload_id: int) -> dict:
    names = ("status", "claimed_by", "attempts", "bytes_read", "bytes_total", "run_id",
             "lease_until", "message")
    row = cluster.sql(f"SELECT {', '.join(names)} FROM benchmark_uploads WHERE id = %s",
                      (upload_id,))[0]
    return dict(zip(names, row, strict=True))


def run_counts(cluster) -> tuple[int, int]:
    """(benchmark runs, their 'benchmark.uploaded' audit events) in the demo review."""
    runs = cluster.sql("SELECT count(*) FROM benchmark_runs WHERE review_id = %s", (REVIEW,))[0][0]
    audited = cluster.sql("SELECT count(*) FROM audit_events WHERE review_id = %s AND "
                          "action = 'benchmark.uploaded'", (REVIEW,))[0][0]
    return runs, audited


def first_candidate(cluster) -> int:
    return cluster.sql("SELECT id FROM candidates WHERE review_id = %s ORDER BY position LIMIT 1",
                       (REVIEW,))[0][0]


def requests_in_run(cluster, run_id: int) -> int:
    return int(cluster.sql("SELECT summary->>'requests' FROM benchmark_runs WHERE id = %s",
                           (run_id,))[0][0])


@pytest.mark.timeout(600)
@pytest.mark.parametrize("cluster", [SCHEDULERS], indirect=True)
def test_a_parse_whose_process_is_killed_is_finished_by_the_other_process(cluster, browsers,
                                                                           tmp_path):
    rows = 800_000  # ~80 MB: tens of seconds of parsing at today's parser speed
    ana, _other = browsers(2)
    assert ana.login("ana@example.com", DEMO_PASSWORD).status_code == 303
    nodes = {cluster.node_of(port): port for port in cluster.procs}
    before = run_counts(cluster)
    path = write_jtl(tmp_path / "big.jtl", rows)

    r = ana.upload(REVIEW, first_candidate(cluster), path)
    assert r.status_code == 202, r.text[:500]
    node_a = r.headers["X-Tradeoff-Node"]
    upload_id = cluster.sql("SELECT max(id) FROM benchmark_uploads")[0][0]
    # Process A parses it (its progress is in the database), then dies mid-parse.
    wait_for(lambda: upload_row(cluster, upload_id)["bytes_read"] > 0, timeout=120, interval=0.05,
             what="the first progress report")
    cluster.kill_app(nodes.pop(node_a))
    (node_b,) = nodes
    killed = upload_row(cluster, upload_id)
    assert killed["status"] == "parsing" and killed["claimed_by"].startswith(node_a + ":")
    assert 0 < killed["bytes_read"] < killed["bytes_total"], "the parse ended before the kill"
    assert killed["attempts"] == 1

    # Once A's lease has run out, B's scheduler takes the parse over and finishes it.
    wait_for(lambda: upload_row(cluster, upload_id)["status"] != "parsing", timeout=480,
             interval=1, what="the other process to finish the parse")
    done = upload_row(cluster, upload_id)
    assert done["status"] == "done", done["message"]
    assert done["claimed_by"].startswith(node_b + ":") and done["attempts"] == 2
    assert done["bytes_read"] == done["bytes_total"] == path.stat().st_size
    runs, audited = run_counts(cluster)
    assert (runs, audited) == (before[0] + 1, before[1] + 1)  # exactly one run came of it
    assert requests_in_run(cluster, done["run_id"]) == rows
    # The uploader (now served by B) sees it finished, as before.
    region = ana.http.get(f"{cluster.url}/reviews/{REVIEW}/regions/benchmark-uploads",
                          headers={"HX-Request": "true"}, timeout=30)
    assert ana.node == node_b
    assert "big.jtl" in region.text and "Open the run" in region.text


@pytest.mark.timeout(600)
@pytest.mark.parametrize("cluster", [FREQUENT_PROGRESS], indirect=True)
def test_with_both_schedulers_running_no_parse_runs_twice(cluster, browsers, tmp_path):
    """Four large uploads, two through each process, while both schedulers look for expired
    leases every second: each is parsed once, by the process that received it, whose lease
    is renewed as it goes."""
    rows = [250_000 + 50 * i for i in range(4)]  # ~25 MB each; the sizes tell them apart
    people = ["facilitator@example.com", "ana@example.com", "ben@example.com",
              "facilitator@example.com"]
    uploaders = browsers(len(people))
    for email, b in zip(people, uploaders, strict=True):
        assert b.login(email, DEMO_PASSWORD).status_code == 303
    candidate = first_candidate(cluster)
    before = run_counts(cluster)
    files = [write_jtl(tmp_path / f"run{i}.jtl", n, start=1_700_000_000_000 + i * 10**9)
             for i, n in enumerate(rows)]
    answers: dict[int, object] = {}
    leases: dict[int, set] = defaultdict(set)  # lease ends seen while parsing
    watching = threading.Event()

    def watch() -> None:  # from the first upload on: a parse may end before the last upload does
        while not watching.is_set():
            for upload_id, status, lease in cluster.sql(
                    "SELECT id, status, lease_until FROM benchmark_uploads"):
                if status == "parsing":
                    leases[upload_id].add(lease)
            watching.wait(0.02)

    def send(i: int) -> None:
        answers[i] = uploaders[i].upload(REVIEW, candidate, files[i])

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(files))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert [answers[i].status_code for i in range(len(files))] == [202] * len(files)
    received_by = {files[i].stat().st_size: answers[i].headers["X-Tradeoff-Node"]
                   for i in range(len(files))}
    assert len(set(received_by.values())) == 2  # both processes took uploads
    ids = [row[0] for row in cluster.sql("SELECT id FROM benchmark_uploads ORDER BY id")]
    assert len(ids) == len(files)

    def all_finished() -> bool:
        return not cluster.sql("SELECT id FROM benchmark_uploads WHERE status = 'parsing'")

    try:
        wait_for(all_finished, timeout=480, interval=0.5, what="every parse to finish")
    finally:
        watching.set()
        watcher.join(timeout=30)
    time.sleep(LEASE_S + 3)  # more scheduler passes on both processes after the leases ended
    run_ids = set()
    for upload_id in ids:
        row = upload_row(cluster, upload_id)
        assert row["status"] == "done", row["message"]
        assert row["attempts"] == 1, f"upload {upload_id} was claimed {row['attempts']} times"
        node = row["claimed_by"].rsplit(":", 1)[0]
        assert node == received_by[row["bytes_total"]]  # parsed where it was received
        assert len(leases[upload_id]) >= 2, "the lease was never renewed while parsing"
        assert requests_in_run(cluster, row["run_id"]) == rows[list(received_by).index(
            row["bytes_total"])]
        run_ids.add(row["run_id"])
    assert len(run_ids) == len(ids)
    assert run_counts(cluster) == (before[0] + len(ids), before[1] + len(ids))
