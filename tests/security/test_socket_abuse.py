"""One abusive Socket.IO client against gunicorn on 127.0.0.1: a thousand connection attempts,
a flood of events, oversized messages. Meanwhile a bystander in the same room keeps getting
answers (its heartbeat acknowledgement and an HTTP request, each within a bound), and afterwards
the worker's thread count and resident memory (/proc/<pid>/status) come back near the baseline.

The server's limits (app/socket_guard.py) are set low here so the test stays short: four
connections per user, 5 events/s with bursts of 20, 64 KiB messages, a 3 s Engine.IO ping."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import socketio
import websocket

from tests.scaleout.cluster import wait_for
from tests.security.attack_server import RawSocket, logged_in, polling_handshake, serve

THREADS = 12
MAX_PER_USER = 4
RATE, BURST = 5, 20
MAX_BYTES = 65536
PING = 3
RESPONSIVE_S = 5.0  # a bound for a busy 2-core CI machine; answers normally take milliseconds
THREAD_SLACK = 3
RSS_SLACK_KB = 30 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve(tmp_path_factory, threads=THREADS, env_extra={
        "SOCKETIO_MAX_CONNECTIONS_PER_USER": str(MAX_PER_USER),
        "SOCKETIO_EVENT_RATE": str(RATE), "SOCKETIO_EVENT_BURST": str(BURST),
        "SOCKETIO_MAX_MESSAGE_BYTES": str(MAX_BYTES),
        "SOCKETIO_PING_INTERVAL": str(PING), "SOCKETIO_PING_TIMEOUT": str(PING),
    })


class Bystander:
    """Another member in the room: a heartbeat and an HTTP request every 0.3 s, timed."""

    def __init__(self, server, visitor) -> None:
        self.server, self.visitor = server, visitor
        self.client = socketio.Client(reconnection=False, request_timeout=30)
        self.client.connect(server.url, headers={"Cookie": visitor.cookie_header()},
                            transports=["websocket"], auth={"review": server.world["review_id"]},
                            wait_timeout=30)
        self.http = requests.Session()
        self.http.trust_env = False
        self.latencies: dict[str, list[float]] = {"heartbeat": [], "http": []}
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=60)
        self.client.disconnect()

    def _run(self) -> None:
        review = self.server.world["review_id"]
        while not self._stop.is_set():
            try:
                start = time.monotonic()
                ack = self.client.call("heartbeat", {"review_id": review}, timeout=30)
                self.latencies["heartbeat"].append(time.monotonic() - start)
                if not ack.get("ok"):
                    self.errors.append(f"heartbeat refused: {ack}")
                start = time.monotonic()
                status = self.http.get(self.server.url + "/healthz", timeout=30).status_code
                self.latencies["http"].append(time.monotonic() - start)
                if status != 200:
                    self.errors.append(f"healthz {status}")
            except Exception as err:  # noqa: BLE001 - every failure is a finding
                self.errors.append(repr(err))
            self._stop.wait(0.3)

    def assert_responsive(self, what: str) -> None:
        assert not self.errors, (what, self.errors[:5])
        for kind, values in self.latencies.items():
            assert values, (what, kind, "no measurement")
            assert max(values) < RESPONSIVE_S, (what, kind, sorted(values)[-5:])


def settle(server, baseline: dict, what: str) -> dict:
    """Wait (bounded) for the worker to come back near the baseline; fail with the numbers."""
    last = {}

    def near():
        last.update(server.worker_status())
        return (last["threads"] <= baseline["threads"] + THREAD_SLACK
                and last["rss_kb"] <= baseline["rss_kb"] + RSS_SLACK_KB)

    try:
        wait_for(near, timeout=4 * PING + 30, interval=0.5, what=what)
    except AssertionError:
        raise AssertionError(f"{what}: baseline {baseline}, now {last}") from None
    return dict(last)


@pytest.fixture(scope="module")
def baseline(server):
    """Warm the worker first (its thread pool grows to --threads and stays): hold as many
    WebSockets as there are threads but one, from three users, then let them go."""
    users = ["member", "spare2@example.com", "spare3@example.com"]
    visitors = [logged_in(server, u) for u in users]
    held = []
    for i in range(THREADS - 1):
        held.append(RawSocket(server, cookie=visitors[i % 3].cookie_header()))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: requests.get(server.url + "/login", timeout=30), range(16)))
    for raw in held:
        raw.close()
    time.sleep(2 * PING + 2)  # the sockets' ping threads end with the next ping interval
    samples = []
    for _ in range(5):
        samples.append(server.worker_status())
        time.sleep(0.5)
    return {"threads": max(s["threads"] for s in samples), "rss_kb": max(s["rss_kb"] for s in samples)}


@pytest.fixture(scope="module")
def attacker(server):
    return logged_in(server, "member")


@pytest.fixture(scope="module")
def bystander_visitor(server):
    return logged_in(server, "spare1@example.com")


class KeepAlive:
    """Answer the Engine.IO pings of idle sockets, as a live attacker would, so the server
    cannot simply time them out."""

    def __init__(self) -> None:
        self.sockets: list[RawSocket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def add(self, raw: RawSocket) -> None:
        with self._lock:
            self.sockets.append(raw)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                sockets = list(self.sockets)
            for raw in sockets:
                try:
                    raw.pump()
                except Exception:  # noqa: BLE001, S110 - a closed socket needs no pong
                    pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)
        with self._lock:
            for raw in self.sockets:
                raw.close()


def post_announcing(server, sid: str, length: int) -> int:
    """A long-polling POST that announces ``length`` bytes and sends the first 64 KiB; the
    status of the answer (which must come without the rest being sent)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall((f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
                      f"Host: 127.0.0.1:{server.port}\r\nContent-Type: text/plain\r\n"
                      f"Content-Length: {length}\r\n\r\n").encode() + b"4" * 65536)
        status_line = conn.makefile("rb").readline().decode()
    return int(status_line.split()[1])


def close_polling(server, body: str) -> None:
    sid = json.loads(body[1:])["sid"]
    requests.post(server.url + "/socket.io/", params={"EIO": "4", "transport": "polling", "sid": sid},
                  data="1", timeout=30)


def test_a_thousand_connection_attempts(server, baseline, attacker, bystander_visitor):
    statuses = {"anonymous": [], "held": [], "cycled": []}
    held: list[RawSocket] = []
    with Bystander(server, bystander_visitor) as bystander:
        # 400 without a session: half long-polling, half WebSocket. All refused at the handshake.
        for _ in range(200):
            statuses["anonymous"].append(polling_handshake(server).status_code)
        for _ in range(200):
            try:
                held.append(RawSocket(server))
                statuses["anonymous"].append(101)
            except websocket.WebSocketBadStatusException as err:
                statuses["anonymous"].append(err.status_code)
        for raw in held:
            raw.close()
        # 300 WebSockets with the attacker's session, all kept open (pings answered): only
        # MAX_PER_USER get in.
        with KeepAlive() as alive:
            for _ in range(300):
                try:
                    alive.add(RawSocket(server, cookie=attacker.cookie_header()))
                    statuses["held"].append(101)
                except websocket.WebSocketBadStatusException as err:
                    statuses["held"].append(err.status_code)
        time.sleep(1)
        # 300 open-and-close cycles: closed connections give their place back.
        for _ in range(300):
            r = polling_handshake(server, cookie=attacker.cookie_header())
            statuses["cycled"].append(r.status_code)
            if r.status_code == 200:
                close_polling(server, r.text)
        bystander.assert_responsive("during 1000 connection attempts")
    assert sum(len(v) for v in statuses.values()) == 1000
    assert set(statuses["anonymous"]) == {401}
    assert statuses["held"].count(101) == MAX_PER_USER
    assert set(statuses["held"]) == {101, 401}
    assert statuses["cycled"].count(200) >= 295, statuses["cycled"]  # (a close may lag a moment)
    settle(server, baseline, "after 1000 connection attempts")


def test_an_event_flood(server, baseline, attacker, bystander_visitor):
    acks, ended = [], threading.Event()
    raw = RawSocket(server, cookie=attacker.cookie_header())
    assert raw.connect(server.world["review_id"]) == "connected"

    def read():
        try:
            while True:
                frame = raw.recv()
                if frame.startswith("43"):
                    acks.append(json.loads(frame[frame.index("["):])[0])
                elif frame.startswith("41") or frame == "1":
                    break
        except Exception:  # noqa: BLE001, S110 - the server closing the socket ends the reader
            pass
        ended.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sent, start = 0, time.monotonic()
    with Bystander(server, bystander_visitor) as bystander:
        try:
            while time.monotonic() - start < 5 and not ended.is_set():  # 100 events/s
                raw.emit("heartbeat", {"review_id": server.world["review_id"]})
                sent += 1
                time.sleep(0.01)
        except (OSError, websocket.WebSocketException):
            pass  # closed by the server while sending
        assert ended.wait(15), "the flooding client was not disconnected"
        bystander.assert_responsive("during an event flood")
    raw.close()
    elapsed = time.monotonic() - start
    ok = [a for a in acks if a.get("ok")]
    assert len(ok) <= BURST + RATE * elapsed + 2, (len(ok), elapsed)
    assert any(a.get("status") == 429 for a in acks)
    assert sent > BURST + BURST  # it did flood before being cut off
    settle(server, baseline, "after an event flood")


def test_a_flood_of_unknown_events_is_cut_off_too(server, baseline, attacker):
    raw = RawSocket(server, cookie=attacker.cookie_header())
    assert raw.connect(server.world["review_id"]) == "connected"
    answers = []
    try:
        for i in range(3 * BURST):
            answers.append(raw.call(f"no-such-event-{i}", {"x": i}))
        pytest.fail(f"not disconnected after {len(answers)} unknown events")
    except (ConnectionError, OSError, websocket.WebSocketException):
        pass
    finally:
        raw.close()
    assert {a["status"] for a in answers} <= {404, 429} and answers[0]["status"] == 404
    settle(server, baseline, "after unknown events")


def test_oversized_messages(server, baseline, attacker, bystander_visitor):
    big = "42" + json.dumps(["heartbeat", {"review_id": server.world["review_id"],
                                           "pad": "x" * (8 * 1024 * 1024)}])
    with Bystander(server, bystander_visitor) as bystander:
        for _ in range(3):
            raw = RawSocket(server, cookie=attacker.cookie_header())
            assert raw.connect(server.world["review_id"]) == "connected"
            with pytest.raises((OSError, websocket.WebSocketException)):
                raw.ws.send(big)
                for _ in range(10):  # the server answers the frame by closing the connection
                    raw.recv()
            raw.close()
        # Long-polling: the body is refused from its Content-Length, before it is read.
        r = polling_handshake(server, cookie=attacker.cookie_header())
        assert r.status_code == 200
        sid = json.loads(r.text[1:])["sid"]
        for _ in range(3):
            assert post_announcing(server, sid, len(big)) in (400, 413)
        close_polling(server, r.text)
        bystander.assert_responsive("during oversized messages")
    settle(server, baseline, "after oversized messages")
