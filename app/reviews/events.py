"""Socket.IO events of the review room: connect (join), heartbeat, disconnect (leave).

The connection itself names the review (``auth={"review": id}``); the server checks the
login, the origin and the membership before it lets the socket in. Every later event names
the review again and is checked again, since a role can change while a socket is open."""

from __future__ import annotations

from flask import current_app, request, session
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room

from app import realtime
from app.access import SOCKET_RULES, Rule, SocketDenied, check_socket_access, socket_event
from app.extensions import socketio
from app.services.presence import Entry

SOCKET_RULES["connect"] = CONNECT_RULE = Rule.parse("review:observer")


def origin_allowed() -> bool:
    """Same origin as the page, or one listed in SOCKETIO_ALLOWED_ORIGINS."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser; the login cookie still has to authenticate it
    allowed = current_app.config["SOCKETIO_ALLOWED_ORIGINS"] or [request.host_url.rstrip("/")]
    return origin.rstrip("/") in allowed


@socketio.on("connect")
def on_connect(auth=None):
    if not origin_allowed():
        raise ConnectionRefusedError("origin not allowed")
    try:
        review, _ = check_socket_access(CONNECT_RULE, (auth or {}).get("review"))
    except SocketDenied as err:
        raise ConnectionRefusedError(err.message) from None
    join_room(realtime.room(review.id))
    realtime.presence_store().join(
        Entry(request.sid, review.id, current_user.id, session.get("login_key", ""))
    )
    realtime.presence_changed(review.id)


@socket_event("heartbeat", "review:observer")
def on_heartbeat(review, payload):
    """Keeps presence fresh and tells the client the review's revision: if it is ahead of
    what the client has seen, the client missed a broadcast and re-fetches its view."""
    realtime.presence_store().touch(request.sid)
    return {"ok": True, "rev": review.revision}


@socketio.on("disconnect")
def on_disconnect(*_reason):
    entry = realtime.presence_store().leave(request.sid)
    if entry:
        realtime.presence_changed(entry.review_id)
