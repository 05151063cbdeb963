"""The embedded default under a held write lock: requests wait for it and succeed; nobody
sees "database is locked"."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from app import create_app
from app.config import TestingConfig
from app.extensions import db
from app.models import Team
from tests.conftest import IsolatedClient
from tests.factories import PASSWORD, make_user


@pytest.fixture
def file_app(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    path = tmp_path / "locked.sqlite3"
    app = create_app(TestingConfig(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}"))
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.create_all()
        yield app, path
        db.session.remove()
        db.engine.dispose()


def hold_write_lock(path, seconds: float, held: threading.Event) -> threading.Thread:
    def run():
        conn = sqlite3.connect(path, timeout=30)
        conn.execute("BEGIN IMMEDIATE")  # takes the write lock like any writer would
        conn.execute("INSERT INTO teams (name, created_at) VALUES ('lock holder', '2026-01-01')")
        held.set()
        time.sleep(seconds)
        conn.commit()
        conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_writes_wait_for_a_3s_lock_and_succeed(file_app):
    app, path = file_app
    user = make_user()
    client = app.test_client()
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    held = threading.Event()
    holder = hold_write_lock(path, 3.0, held)
    assert held.wait(5)
    started = time.monotonic()
    reader = app.test_client()
    assert reader.get("/healthz").status_code == 200  # WAL: reads go on during the lock
    response = client.post("/teams", data={"name": "Written under lock"})
    waited = time.monotonic() - started
    holder.join(10)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert "database is locked" not in response.get_data(as_text=True)
    assert 2.0 <= waited < 30
    db.session.expire_all()
    names = set(db.session.scalars(db.select(Team.name)))
    assert {"Written under lock", "lock holder"} <= names
