"""Closing live connections when a login ends (logout, password change)."""

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
