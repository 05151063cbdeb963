"""Scale-out, proven for real: PostgreSQL + Redis, two gunicorn processes behind nginx
(deploy/nginx), Socket.IO clients on different processes."""

from __future__ import annotations

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
