"""Fixtures in flaskr's shape: app, client, runner, auth; plus a small world of personas."""

from __future__ import annotations

import os

# Apps built in this process (some with the production Config) must not leave a scheduler
# thread running for the rest of the session; tests that need one start it themselves, and
# the servers the browser and scale-out tests start as subprocesses run theirs as usual.
os.environ.setdefault("TRADEOFF_SCHEDULER", "off")

import re
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from app import create_app
from app.config import TestingConfig
from app.extensions import db, limiter, socketio
from tests import factories


class IsolatedClient(FlaskClient):
    """Each request gets its own app context (fresh ``g`` and database session), as in
    production, even though the test itself holds an app context for its factories."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


class IsolatedSocket:
    """The same isolation for the Socket.IO test client: every call in a fresh app context."""

    def __init__(self, app, client) -> None:
        self._app, self._client = app, client

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            with self._app.app_context():
                return attr(*args, **kwargs)

        return call


@contextmanager
def built_app(tmp_path, monkeypatch, **overrides):
    """The app with ``TestingConfig(**overrides)``, its instance in ``tmp_path``, the schema
    created and the rate limits reset, inside an app context; the schema is dropped after."""
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    app = create_app(TestingConfig(**overrides))
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.create_all()
        limiter.reset()
        yield app
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


# The databases a module can run its tests on: ``app_on(kind, ...)`` in its own ``app`` fixture.
DATABASES = ["memory", "file", "postgres"]


def app_on(kind: str, tmp_path, monkeypatch):
    """Yield the app on in-memory SQLite (one connection, shared), an SQLite file (a pool) or a
    fresh PostgreSQL database (skipped without a server, except under CI)."""
    from app.config import normalise_database_url
    from tests.services import fresh_postgres_database

    drop = None
    if kind == "memory":
        overrides = {}
    elif kind == "file":
        overrides = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'tradeoff.sqlite3'}"}
    else:
        url, drop = fresh_postgres_database()
        overrides = {"SQLALCHEMY_DATABASE_URI": normalise_database_url(url)}
    try:
        with built_app(tmp_path, monkeypatch, **overrides) as app:
            yield app
    finally:
        if drop:
            drop()


@pytest.fixture
def app(tmp_path, monkeypatch):
    with built_app(tmp_path, monkeypatch) as app:
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, email: str, password: str = factories.PASSWORD, **kw):
        return self._client.post("/login", data={"email": email, "password": password}, **kw)

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@dataclass
class World:
    """A team with one person per role, an outsider, and a review."""

    team: object
    review: object
    users: dict  # persona -> User (owner, facilitator, member, observer, non_member)


@pytest.fixture
def world(app):
    made = factories.make_world()
    return World(team=made["team"], review=made["review"], users=made["users"])


@pytest.fixture
def login_as(app):
    """Return a logged-in test client for a user (a fresh client per call)."""

    def _login(user):
        c = app.test_client()
        r = c.post("/login", data={"email": user.email, "password": factories.PASSWORD})
        assert r.status_code in (302, 303), r.status_code
        return c

    return _login


@pytest.fixture
def socket_client(app):
    """A Socket.IO test client sharing a logged-in Flask test client's cookies."""
    made = []

    def _connect(flask_client, review_id, **kw):
        with app.app_context():
            sc = IsolatedSocket(app, socketio.test_client(
                app, flask_test_client=flask_client, auth={"review": review_id}, **kw))
        made.append(sc)
        return sc

    yield _connect
    for sc in made:
        if sc.is_connected():
            sc.disconnect()


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_from(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no csrf token in page"
    return m.group(1) or m.group(2)
