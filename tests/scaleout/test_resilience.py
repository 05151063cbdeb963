"""Failures in scale-out mode: Redis gone for 30 s, an app process killed. Loopback only;
every wait is bounded."""

from __future__ import annotations

import time

import pytest
import requests

from app.services.demo import DEMO_PASSWORD
from tests.scaleout.cluster import Browser, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
REVIEW = 1


def heartbeat_rev(browser) -> int:
    return browser.sio.call("heartbeat", {"review_id": REVIEW}, timeout=5)["rev"]


@pytest.mark.parametrize("cluster", [{"own_redis": True}], indirect=True)
def test_redis_down_for_30s_http_keeps_working_and_live_updates_resume(cluster, browsers):
    fran, ana = browsers(2)
    fran.login("facilitator@example.com", DEMO_PASSWORD)
    ana.login("ana@example.com", DEMO_PASSWORD)
    ana.join(REVIEW)
    seen = heartbeat_rev(ana)

    cluster.redis.stop()
    outage_started = time.monotonic()
    # HTTP keeps working and commits: a change made during the outage, and a fresh login.
    r = fran.post(f"/reviews/{REVIEW}/step", {"step": "benchmarks"}, page=f"/reviews/{REVIEW}")
    assert r.status_code == 200
    assert Browser(cluster, "lb-outage").login("ben@example.com", DEMO_PASSWORD).status_code == 303
    # The broadcast could not cross processes, but the change is not silently lost: Ana's
    # heartbeat (answered by her own process from the database) shows a newer revision, which
    # makes her page re-fetch its state.
    assert heartbeat_rev(ana) > seen
    live = ana.http.get(f"{cluster.url}/reviews/{REVIEW}/live", headers={"HX-Request": "true"}).text
    assert 'data-step="benchmarks"' in live
    time.sleep(max(0.0, 30 - (time.monotonic() - outage_started)))

    cluster.redis.start()
    # Live updates resume once each process's Redis listener has reconnected.
    def step_reaches_ana() -> bool:
        ana.events.clear()
        fran.post(f"/reviews/{REVIEW}/step", {"step": "vote"}, page=f"/reviews/{REVIEW}")
        fran.post(f"/reviews/{REVIEW}/step", {"step": "mapping"}, page=f"/reviews/{REVIEW}")
        return any(e["step"] == "mapping" for e in (time.sleep(1) or ana.received("step")))

    wait_for(step_reaches_ana, timeout=40, interval=1, what="live updates after Redis returned")


def test_killed_process_clients_reconnect_to_another_within_10s(cluster, browsers):
    fran, ana = browsers(2)
    fran.login("facilitator@example.com", DEMO_PASSWORD)
    ana.login("ana@example.com", DEMO_PASSWORD)
    fran.join(REVIEW)
    ana.join(REVIEW)
    r = fran.post(f"/reviews/{REVIEW}/step", {"step": "benchmarks"}, page=f"/reviews/{REVIEW}")
    assert r.status_code == 200  # committed before the crash

    victim = next(port for port in cluster.procs if str(port) in _node_port(cluster, ana))
    cluster.kill_app(victim)
    killed_at = time.monotonic()
    wait_for(lambda: not ana.sio.connected or ana.sio.eio.state != "connected", timeout=10,
             what="ana noticing the crash")
    wait_for(lambda: ana.sio.connected, timeout=10, what="ana reconnecting")
    assert time.monotonic() - killed_at < 10
    assert ana.node != fran.node or len(cluster.procs) == 1
    live = ana.http.get(f"{cluster.url}/reviews/{REVIEW}/live", headers={"HX-Request": "true"}).text
    assert 'data-step="benchmarks"' in live  # nothing committed was lost
    wait_for(lambda: any("Ana Member" in f["html"] for f in fran.received("fragment")[-3:]),
             timeout=10, what="ana back in fran's presence list")


def _node_port(cluster, browser) -> str:
    """Which app port serves this browser: ask each process directly for its node name."""
    node = browser.node
    for port in cluster.procs:
        if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).headers["X-Tradeoff-Node"] == node:
            return str(port)
    raise AssertionError("no process answers for " + node)
