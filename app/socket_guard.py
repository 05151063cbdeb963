"""Limits at the Socket.IO endpoint, so that one client cannot starve everyone else.

In threading mode every open WebSocket holds one server thread, and every received message
starts a short-lived one, so the limits are about threads and memory:

- **Handshake.** An Engine.IO connection (before any Socket.IO namespace) is opened only for a
  logged-in browser (a foreign Origin is refused by Engine.IO itself), and for at most
  ``SOCKETIO_MAX_CONNECTIONS_PER_USER`` connections of one user at a time in this process.
  Anything else is answered 401 before a WebSocket is opened or any state is kept. The
  namespace ``connect`` handler then checks the review and the role (app/reviews/events.py).
- **Message size.** ``SOCKETIO_MAX_MESSAGE_BYTES`` for long-polling bodies and WebSocket
  messages; a WebSocket message is cut off while it arrives, not buffered whole first.
- **Event rate.** A token bucket per connection (``SOCKETIO_EVENT_RATE`` events per second,
  bursts of ``SOCKETIO_EVENT_BURST``): an event over it is refused with 429, and a client that
  keeps sending regardless is disconnected. Unknown event names count too (catch-all handler).
- **Closing never waits for the client** (see ``_disconnect_without_waiting``).
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field

from flask import Flask, request
from flask_login import current_user
from flask_socketio import disconnect

from app.extensions import socketio

EXTENSION = "tradeoff.socket_guard"


@dataclass
class Bucket:
    tokens: float
    stamp: float


@dataclass
class SocketGuard:
    max_per_user: int
    rate: float
    burst: int
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _owners: dict = field(default_factory=dict)  # eio sid -> user id
    _per_user: dict = field(default_factory=dict)  # user id -> open connections
    _buckets: dict = field(default_factory=dict)  # socket sid -> Bucket

    # -- connections -------------------------------------------------------------------------
    def admit(self, eio_sid: str, user_id: int) -> bool:
        with self._lock:
            if self._per_user.get(user_id, 0) >= self.max_per_user:
                return False
            self._per_user[user_id] = self._per_user.get(user_id, 0) + 1
            self._owners[eio_sid] = user_id
            return True

    def release(self, eio_sid: str) -> None:
        with self._lock:
            user_id = self._owners.pop(eio_sid, None)
            if user_id is not None:
                left = self._per_user.get(user_id, 1) - 1
                if left > 0:
                    self._per_user[user_id] = left
                else:
                    self._per_user.pop(user_id, None)

    def open_connections(self, user_id: int) -> int:
        with self._lock:
            return self._per_user.get(user_id, 0)

    # -- events --------------------------------------------------------------------------------
    def take(self, sid: str) -> str:
        """Spend one event of this connection: "ok", "refuse" (over the rate) or "drop" (far
        over it: the client ignores refusals)."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(sid)
            if bucket is None:
                if len(self._buckets) > 4096:
                    self._prune(now)
                bucket = self._buckets[sid] = Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
            bucket.tokens -= 1
            if bucket.tokens >= 0:
                return "ok"
            return "drop" if bucket.tokens <= -self.burst else "refuse"

    def forget(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._buckets.pop(sid, None)

    def _prune(self, now: float) -> None:
        idle = [s for s, b in self._buckets.items() if now - b.stamp > 300]
        for s in idle:
            del self._buckets[s]


def guard() -> SocketGuard:
    from flask import current_app

    return current_app.extensions[EXTENSION]


def refused_event() -> dict | None:
    """For event handlers: the acknowledgement refusing this event if the connection is over
    its rate (closing the whole connection when it keeps going), else None."""
    verdict = guard().take(request.sid)
    if verdict == "ok":
        return None
    if verdict == "drop":
        eio_sid = socketio.server.manager.eio_sid_from_sid(request.sid, "/")
        disconnect()  # the namespace, then the transport under it: no more messages at all
        if eio_sid:
            socketio.server.eio.disconnect(eio_sid)
    return {"ok": False, "status": 429, "error": "too many events; slow down"}


@socketio.on("*")
def unknown_event(event, *_args):
    """Events nobody handles still cost a thread each: count them against the same rate."""
    refused = refused_event()
    return refused or {"ok": False, "status": 404, "error": f"no such event {str(event)[:40]!r}"}


def install(app: Flask) -> None:
    """Apply the limits to the Socket.IO server that ``socketio.init_app`` built for ``app``."""
    server = socketio.server
    eio = server.eio
    limit = app.config["SOCKETIO_MAX_MESSAGE_BYTES"]
    eio.max_http_buffer_size = limit
    eio.ping_interval = app.config["SOCKETIO_PING_INTERVAL"]
    eio.ping_timeout = app.config["SOCKETIO_PING_TIMEOUT"]
    websocket = eio._async.get("websocket")
    if eio.async_mode == "threading" and websocket is not None:  # simple-websocket: cap frames
        eio._async = {**eio._async,
                      "websocket": functools.partial(websocket, max_message_size=limit)}

    state = SocketGuard(max_per_user=app.config["SOCKETIO_MAX_CONNECTIONS_PER_USER"],
                        rate=app.config["SOCKETIO_EVENT_RATE"],
                        burst=app.config["SOCKETIO_EVENT_BURST"])
    app.extensions[EXTENSION] = state
    on_connect, on_disconnect = server._handle_eio_connect, server._handle_eio_disconnect

    def eio_connect(eio_sid, environ):
        # Engine.IO has already refused a foreign Origin (cors_allowed_origins) with 400.
        with app.request_context(environ):
            user_id = current_user.id if current_user.is_authenticated else None
        if user_id is None or not state.admit(eio_sid, user_id):
            return False
        return on_connect(eio_sid, environ)

    def eio_disconnect(eio_sid, reason):
        try:
            state.forget(server.manager.sid_from_eio_sid(eio_sid, "/"))
            return on_disconnect(eio_sid, reason)
        finally:
            state.release(eio_sid)

    eio.on("connect", eio_connect)
    eio.on("disconnect", eio_disconnect)
    eio.disconnect = functools.partial(_disconnect_without_waiting, eio)


def _disconnect_without_waiting(eio, sid=None):
    """Engine.IO's own disconnect waits until the client has collected the CLOSE packet. A
    long-polling client that never polls again (after an oversized or malformed POST, which
    Engine.IO answers by disconnecting) would hold that request's server thread forever. Close
    without waiting: the client learns of it on its next request ("invalid session")."""
    if sid is None:
        for client in list(eio.sockets.values()):
            client.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
        eio.sockets = {}
        return
    client = eio.sockets.get(sid)
    if client is not None:
        client.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
        eio.sockets.pop(sid, None)
