"""The bare stack for the live benchmarks (bench/sockets.py): Flask + Flask-SocketIO in the same
async mode as Tradeoff (threading, WebSockets through simple-websocket), served by the same
command (``gunicorn --workers 1 --threads 100 bench.bare_socketio_app:app``). No login, no
database lookups, no templates, no presence.

- a client connects with ``auth={"room": name}`` and joins that room;
- ``POST /payload`` (the body: HTML) sets what ``/emit`` broadcasts: the benchmark hands it the
  very fragment Tradeoff broadcast, so both send the same bytes (JSON escaping and the clients'
  decoding cost depend on the content, not only on the size);
- ``POST /emit?bytes=N`` broadcasts one ``fragment`` event to the room: that payload, or N bytes
  of HTML when none was set (the anchor of the vote tally fan-out: same event name, same payload
  shape and size);
- ``POST /ballot`` commits one plain SQLAlchemy INSERT into ``bare_ballots`` on
  ``BARE_DATABASE_URL`` (the anchor of the ballot throughput benchmark).

``REDIS_URL`` set: broadcasts go through Redis like Tradeoff's scale-out mode."""

from __future__ import annotations

import itertools
import os
import threading

from flask import Flask, request
from flask_socketio import SocketIO, join_room
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, event, insert

app = Flask(__name__)
socketio = SocketIO(app, async_mode="threading", message_queue=os.environ.get("REDIS_URL") or None,
                    manage_session=False)
revision = itertools.count(1)
revision_lock = threading.Lock()
payload: dict[str, str] = {}

metadata = MetaData()
ballots = Table("bare_ballots", metadata, Column("id", Integer, primary_key=True),
                Column("user_id", Integer, nullable=False), Column("payload", String, nullable=False))
_engine = None
_engine_lock = threading.Lock()


def engine():
    """Created on first use, with the same SQLite settings as Tradeoff (WAL, busy timeout)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            url = os.environ["BARE_DATABASE_URL"]
            if url.startswith("sqlite"):
                _engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

                @event.listens_for(_engine, "connect")
                def pragmas(dbapi_connection, _record):
                    cursor = dbapi_connection.cursor()
                    cursor.execute("PRAGMA journal_mode=WAL")
                    cursor.execute("PRAGMA busy_timeout=30000")
                    cursor.close()
            else:
                _engine = create_engine(url, pool_pre_ping=True)
            metadata.create_all(_engine)
        return _engine


@app.get("/healthz")
def health():
    return {"status": "ok"}


@app.post("/payload")
def set_payload():
    payload["html"] = request.get_data(as_text=True)
    return "", 204


@app.post("/emit")
def emit():
    html = payload.get("html") or "x" * int(request.args.get("bytes", "1000"))
    with revision_lock:
        rev = next(revision)
    socketio.emit("fragment", {"html": html, "rev": rev}, to=request.args.get("room", "bench"))
    return "", 204


@app.post("/ballot")
def ballot():
    with engine().begin() as conn:
        conn.execute(insert(ballots).values(user_id=int(request.form.get("user", "0")),
                                            payload=request.form.get("payload", "[]")))
    return "", 204


@socketio.on("connect")
def on_connect(auth=None):
    join_room((auth or {}).get("room", "bench"))
