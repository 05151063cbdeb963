"""The live benchmarks (bench/sockets.py) at toy sizes, so that their code cannot rot: the same
functions `make bench` runs, checked for well-formed rows and correct outcomes (every client got
every tally, every ballot committed). Never timing thresholds: figures here mean nothing."""

from __future__ import annotations

import math

import pytest

from bench import sockets
from bench.sockets import Row
from tests.scaleout.cluster import NGINX
from tests.services import POSTGRES_URL, REDIS_URL, require

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def well_formed(rows: list[Row], bench: str) -> None:
    assert rows and all(isinstance(r, Row) for r in rows)
    for r in rows:
        assert r.bench == bench and r.name and r.unit and r.command.startswith(("gunicorn", "2 ×", "3 ×"))
        assert r.value is not None and math.isfinite(r.value) and r.value > 0, r
        assert r.anchor is not None and math.isfinite(r.anchor) and r.anchor > 0, r
        assert r.ratio == pytest.approx(r.value / r.anchor)
    lines = sockets.markdown(rows)
    assert lines[0].startswith("| benchmark |") and len([x for x in lines if x.startswith("| ")]) == len(rows) + 1


def test_fanout_every_client_receives_every_tally():
    rows = sockets.fanout_rows(clients=5, casts=3)
    well_formed(rows, "1. fan-out")
    assert [r.name.split(",")[1].split()[0] for r in rows] == ["p50", "p95", "max"]
    for r in rows:
        assert r.ok, r.detail
        assert r.extra["received"] == [5, 5, 5] and r.extra["anchor_received"] == [5, 5, 5]
    p50, p95, top = (r.value for r in rows)
    assert p50 <= p95 <= top
    assert [r.met is not None for r in rows] == [False, True, False]  # the target sits on p95


def test_ballot_burst_on_sqlite_commits_every_ballot():
    (row,) = sockets.throughput_rows(ballots=10, database="sqlite")
    well_formed([row], "2. ballots")
    assert row.extra == {"stored": 10, "refused": 0, "bare_stored": 10}
    assert row.ok and row.met


@pytest.mark.postgres
def test_ballot_burst_on_postgres_commits_every_ballot():
    require(POSTGRES_URL, "PostgreSQL")
    (row,) = sockets.throughput_rows(ballots=10, database="postgres")
    well_formed([row], "2. ballots")
    assert row.extra == {"stored": 10, "refused": 0, "bare_stored": 10}
    assert row.ok and row.met


@pytest.mark.postgres
@pytest.mark.redis
def test_scaleout_holds_sockets_and_fans_out_across_processes():
    if NGINX is None:
        pytest.skip("needs nginx from Debian's packages")
    require(POSTGRES_URL, "PostgreSQL")
    require(REDIS_URL, "Redis")
    rows = sockets.scaleout_rows(clients=6, procs=2, casts=2, members=4, redis_db=9)
    sockets_row, *fan = rows
    assert sockets_row.bench == "5. scale-out" and sockets_row.unit == "sockets"
    assert sockets_row.extra["held_one"] == 6 and sockets_row.extra["held_all"] == 6  # far below capacity
    assert sockets_row.extra["http_one"] and sockets_row.extra["http_all"]
    well_formed(fan, "5. scale-out")
    for r in fan:
        assert r.ok, r.detail
        assert r.extra["received"] == [6, 6] and r.extra["anchor_received"] == [6, 6]
