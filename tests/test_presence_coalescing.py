"""Presence pushes are coalesced per room: a burst of joins sends far fewer pushes to the room
than there were joins, and the last push always shows the final room (app/realtime.py)."""

from __future__ import annotations

import re
import threading
import time

import pytest
import redis
from flask import Flask

from app import realtime
from app.extensions import db, socketio
from app.models import Role
from tests import factories
from tests.conftest import IsolatedSocket, built_app
from tests.services import REDIS_URL, require
from tests.test_socketio import element, events, logged_in


def wait_until(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_a_burst_gives_one_push_now_and_one_trailing_push_with_the_final_state():
    state = {"joined": 0}
    seen: list[tuple[int, int]] = []  # (review, people in the room when the push read it)
    pushes = realtime.PresencePushes(Flask(__name__), 0.2,
                                     push=lambda review_id: seen.append((review_id, state["joined"])))

    state["joined"] = 1
    assert pushes.request(7) is True  # an idle room: the caller pushes at once
    for _ in range(49):  # 49 more arrive inside the interval
        state["joined"] += 1
        assert pushes.request(7) is False
    assert pushes.request(8) is True  # another room is not held back by this one
    assert wait_until(lambda: seen and pushes.pending() == 0)
    time.sleep(0.3)
    assert seen == [(7, 50)]  # one trailing push for the 49, reading the room as it ended up


def test_a_change_after_the_trailing_push_has_read_the_room_is_pushed_again():
    state = {"joined": 0}
    seen: list[int] = []
    reading = threading.Event()
    release = threading.Event()

    def push(_review_id):
        seen.append(state["joined"])
        reading.set()
        release.wait(5)

    pushes = realtime.PresencePushes(Flask(__name__), 0.1, push=push)
    state["joined"] = 1
    assert pushes.request(1) is True
    state["joined"] = 2
    assert pushes.request(1) is False
    assert reading.wait(5)  # the trailing push has read the room (2) and is still sending
    state["joined"] = 3
    assert pushes.request(1) is False  # scheduled anew: that push may have missed this one
    release.set()
    assert wait_until(lambda: seen == [2, 3] and pushes.pending() == 0)


def test_many_quick_joins_push_far_fewer_lists_and_the_last_one_is_right(tmp_path, monkeypatch):
    """Real sockets on a file database (the trailing push runs on its own thread and
    connection): 12 members join within a few hundred milliseconds."""
    sockets = []
    with built_app(tmp_path, monkeypatch, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                   PRESENCE_PUSH_INTERVAL=0.3) as app:
        def socket_client(flask_client, review_id):
            with app.app_context():  # a fresh g per connection, as in production
                sc = IsolatedSocket(app, socketio.test_client(app, flask_test_client=flask_client,
                                                              auth={"review": review_id}))
            sockets.append(sc)
            return sc

        made = factories.make_world()
        review, team = made["review"], made["team"]
        members = [factories.add_member(team, Role.MEMBER, factories.make_user(f"Joiner {i:02d}",
                                                                                 f"joiner{i}@example.com"))
                   for i in range(12)]
        db.session.commit()  # a file database: the requests' own sessions must see them
        watcher_client = logged_in(app, made["users"]["facilitator"])
        watcher = socket_client(watcher_client, review.id)
        time.sleep(0.35)  # the watcher's own join has been pushed
        watcher.get_received()
        joined = [socket_client(logged_in(app, user), review.id) for user in members]
        assert all(sc.is_connected() for sc in joined)

        def last_presence():
            pushed = [f["html"] for f in events(watcher, "fragment") if 'id="presence"' in f["html"]]
            seen.extend(pushed)
            return pushed[-1] if pushed else ""

        seen: list[str] = []
        assert wait_until(lambda: "(13)" in last_presence() or "(13)" in (seen[-1] if seen else ""), 10), \
            [re.findall(r"\(\d+\)", h) for h in seen]
        time.sleep(0.5)  # nothing else is pending
        last_presence()
        assert 1 <= len(seen) <= 6, len(seen)  # 12 joins; without coalescing: 12 pushes
        final = seen[-1]
        for name in ["Facilitator Person", *(u.name for u in members)]:
            assert name in final
        page = watcher_client.get(f"/reviews/{review.id}").get_data(as_text=True)
        assert element(page, "presence") == final.strip()  # the same block the page renders
        for sc in sockets:
            sc.disconnect()


class SharedSlots:
    """RedisSlots' contract in memory: one holder per room and interval, across 'processes'."""

    def __init__(self) -> None:
        self.lock, self.until = threading.Lock(), {}

    def take(self, review_id: int, interval: float) -> float:
        now = time.monotonic()
        with self.lock:
            left = self.until.get(review_id, 0) - now
            if left > 0:
                return left
            self.until[review_id] = now + interval
            return 0.0


def test_two_processes_share_the_interval_and_the_last_push_is_final():
    state = {"joined": 0}
    seen: list[tuple[str, int]] = []
    slots = SharedSlots()
    processes = {name: realtime.PresencePushes(Flask(name), 0.2, slots=slots,
                                               push=lambda _r, name=name: seen.append((name, state["joined"])))
                 for name in ("a", "b")}
    for i in range(40):  # joins alternate between the two processes
        state["joined"] += 1
        name = "ab"[i % 2]
        if processes[name].request(3):
            seen.append((name, state["joined"]))  # the caller pushes at once
        time.sleep(0.005)
    assert wait_until(lambda: all(p.pending() == 0 for p in processes.values()), 5)
    time.sleep(0.3)
    assert seen[-1][1] == 40  # the room as it ended up
    assert len(seen) <= 4  # ~0.2 s of joins: one push now, at most a few trailing ones (40 without)


@pytest.mark.redis
def test_redis_slots_take_and_report_what_is_left():
    require(REDIS_URL, "Redis")

    client = redis.Redis.from_url(REDIS_URL.rsplit("/", 1)[0] + "/9")
    client.delete(f"{realtime.RedisSlots.PREFIX}:5")
    slots = realtime.RedisSlots(client)
    assert slots.take(5, 0.5) == 0.0
    left = slots.take(5, 0.5)
    assert 0 < left <= 0.5
    time.sleep(left + 0.05)
    assert slots.take(5, 0.5) == 0.0
    client.delete(f"{realtime.RedisSlots.PREFIX}:5")
