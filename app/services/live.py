"""Closing live connections when a login ends (logout, password change) or a member is
removed from the team."""

from __future__ import annotations

from app import realtime
from app.extensions import socketio


def _close(entries) -> None:
    for entry in entries:
        # Works across processes too: with a message queue the owning process closes it.
        socketio.server.disconnect(entry.sid, namespace="/")


def disconnect_login(login_key: str | None) -> None:
    """Close the sockets opened by one browser session."""
    if login_key:
        _close(realtime.presence_store().sids_for_login(login_key))


def disconnect_user(user_id: int) -> None:
    """Close every socket of a user (their sessions were all ended)."""
    _close(realtime.presence_store().sids_for_user(user_id))


def disconnect_user_from_reviews(user_id: int, review_ids) -> None:
    """Close a user's sockets in these reviews (they were removed from the team)."""
    wanted = set(review_ids)
    _close(e for e in realtime.presence_store().sids_for_user(user_id) if e.review_id in wanted)
