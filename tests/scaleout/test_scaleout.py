"""Scale-out, proven for real: PostgreSQL + Redis, two gunicorn processes behind nginx
(deploy/nginx), Socket.IO clients on different processes."""

from __future__ import annotations

import re
import time

import psycopg
import pytest

from app.services.demo import DEMO_PASSWORD
from tests.scaleout.cluster import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
REVIEW = 1  # the demo review


def test_clients_land_on_different_processes(browsers):
    a, b = browsers(2)
    assert a.node != b.node


def test_presence_is_shared_across_processes(browsers):
    fran, ana = browsers(2)
    assert fran.login("facilitator@example.com", DEMO_PASSWORD).status_code == 303
    assert ana.login("ana@example.com", DEMO_PASSWORD).status_code == 303
    fran.join(REVIEW)
    ana.join(REVIEW)
    wait_for(lambda: any("Ana Member" in f["html"] and "Fran Facilitator" in f["html"]
                         for f in fran.received("fragment")), timeout=10, what="presence on fran")
    ana.close()
    wait_for(lambda: "Ana Member" not in fran.received("fragment")[-1]["html"], timeout=10,
             what="ana leaving")


def test_step_change_through_one_process_reaches_the_other(browsers):
    fran, ana = browsers(2)
    fran.login("facilitator@example.com", DEMO_PASSWORD)
    ana.login("ana@example.com", DEMO_PASSWORD)
    ana.join(REVIEW)
    r = fran.post(f"/reviews/{REVIEW}/step", {"step": "prototypes"}, page=f"/reviews/{REVIEW}")
    assert r.status_code == 200
    step = wait_for(lambda: ana.received("step"), timeout=10, what="step event on ana")
    assert step[-1]["step"] == "prototypes" and 'aria-current="step"' in step[-1]["nav"]


@pytest.mark.parametrize("cluster", [{"limit": "3 per minute"}], indirect=True)
def test_login_rate_limit_counts_across_processes(browsers):
    a, b = browsers(2)
    assert a.node != b.node
    codes = [a.login("ana@example.com", "wrong password!").status_code,
             b.login("ana@example.com", "wrong password!").status_code,
             a.login("ana@example.com", "wrong password!").status_code,
             b.login("ana@example.com", "wrong password!").status_code]
    assert codes == [401, 401, 401, 429]


def open_vote_id(browser) -> int:
    data = browser.http.get(f"{browser.cluster.url}/reviews/{REVIEW}/steps/vote").text
    return int(re.search(rf"/reviews/{REVIEW}/votes/(\d+)/ballot", data).group(1))


def test_a_vote_cast_through_one_process_updates_tallies_on_the_other(browsers):
    fran, ana = browsers(2)
    fran.login("facilitator@example.com", DEMO_PASSWORD)
    ana.login("ana@example.com", DEMO_PASSWORD)
    ana.join(REVIEW)
    session_id = open_vote_id(fran)
    candidates = fran.http.get(f"{fran.cluster.url}/reviews/{REVIEW}/votes/{session_id}.json").json()
    ids = [c["id"] for c in candidates["candidates"]]
    ballot = {f"ballot-c{cid}": str(rank) for rank, cid in enumerate(ids, 1)}
    r = fran.post(f"/reviews/{REVIEW}/votes/{session_id}/ballot", ballot, page=f"/reviews/{REVIEW}/steps/vote")
    assert r.status_code == 200, r.text[:300]
    board = wait_for(lambda: [f["html"] for f in ana.received("fragment") if "Who has voted" in f["html"]],
                     timeout=10, what="the vote board on ana's process")
    assert "3 ballots" in board[-1] and "Fran Facilitator" in board[-1]


@pytest.mark.parametrize("cluster", [{"scheduler_interval": "1"}], indirect=True)
def test_the_deadline_closer_and_reminders_run_exactly_once_across_processes(cluster, browsers):
    """Both processes run the scheduler every second; a vote whose deadline passes is closed by
    exactly one of them and every reminder is stored (and sent) once."""
    assert len(cluster.procs) == 2
    db_url = cluster.env["DATABASE_URL"]
    with psycopg.connect(db_url, autocommit=True) as conn:
        # Opened two days ago, closing in 3 s: the "deadline approaching" reminder is due now.
        conn.execute("UPDATE vote_sessions SET opened_at = now() - interval '2 days', "
                     "closes_at = now() + interval '3 seconds' WHERE status = 'open'")
    def closed() -> bool:
        with psycopg.connect(db_url) as conn:
            return conn.execute("SELECT count(*) FROM vote_sessions WHERE status = 'open'").fetchone()[0] == 0
    wait_for(closed, timeout=30, interval=0.5, what="the deadline closer")
    time.sleep(3)  # several more passes on both processes
    with psycopg.connect(db_url) as conn:
        closes = conn.execute("SELECT count(*) FROM audit_events WHERE action = 'vote.closed' "
                              "AND review_id = %s", (REVIEW,)).fetchone()[0]
        duplicates = conn.execute(
            "SELECT count(*) FROM (SELECT user_id, subject, kind FROM notifications "
            "GROUP BY user_id, subject, kind HAVING count(*) > 1) d").fetchone()[0]
        reminders = conn.execute("SELECT count(*) FROM notifications WHERE kind = 'vote_deadline'").fetchone()[0]
    assert closes == 1
    assert duplicates == 0
    assert reminders >= 1  # the non-voters were reminded before the close, once each
