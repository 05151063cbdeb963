"""CLI commands and configuration from the environment."""

from __future__ import annotations

import os
import stat

import pytest

from app import create_app
from app.config import Config
from app.extensions import db, socketio
from app.models import Review, Team, User
from app.services import accounts, demo


def test_users_create(runner, app):
    result = runner.invoke(args=["users", "create", "Cli@Example.com", "--name", "Cli",
                                 "--password", "a long enough password"])
    assert result.exit_code == 0, result.output
    assert accounts.authenticate("cli@example.com", "a long enough password").name == "Cli"


def test_users_create_refuses_short_password(runner, app):
    result = runner.invoke(args=["users", "create", "x@example.com", "--name", "X", "--password", "short"])
    assert result.exit_code != 0 and "at least 10" in result.output


def test_demo_is_idempotent_and_prints_logins(runner, app):
    first = runner.invoke(args=["demo"])
    second = runner.invoke(args=["demo"])
    assert first.exit_code == second.exit_code == 0
    assert "facilitator@example.com" in first.output and demo.DEMO_PASSWORD in first.output
    assert "already there" in second.output
    assert db.session.scalar(db.select(db.func.count()).select_from(Team)) == 1
    review = db.session.scalar(db.select(Review))
    assert review.status == "in_progress" and len(review.candidates) == 4
    assert accounts.authenticate("ana@example.com", demo.DEMO_PASSWORD)


def test_demo_if_empty_leaves_real_data_alone(runner, app):
    accounts.register("real@example.com", "Real", "a long enough password")
    result = runner.invoke(args=["demo", "--if-empty"])
    assert "not loaded" in result.output
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 1


def test_secret_key_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    first = create_app(Config()).config["SECRET_KEY"]
    second = create_app(Config()).config["SECRET_KEY"]
    assert first == second and len(first) > 40
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600


def test_default_database_is_sqlite_in_instance_folder_with_wal(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    app = create_app(Config())
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'tradeoff.sqlite3'}"
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_production_requires_secret_key_and_secures_cookies(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("TRADEOFF_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Config())
    monkeypatch.setenv("SECRET_KEY", "x" * 50)
    app = create_app(Config())
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]


def test_database_url_forms(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    assert Config().SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u@h/db"


def test_live_and_cache_settings_from_the_environment(monkeypatch, tmp_path):
    assert not hasattr(Config(), "PRESENCE_PUSH_INTERVAL")  # unset: the code's own defaults
    monkeypatch.setenv("PRESENCE_PUSH_INTERVAL", "0.5")
    monkeypatch.setenv("PAGE_CACHE_MB", "0")
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    config = Config()
    assert (config.PRESENCE_PUSH_INTERVAL, config.PAGE_CACHE_MB) == (0.5, 0.0)
    from app import realtime, rendering

    with create_app(config).app_context():
        assert realtime.presence_pushes().interval == 0.5
        assert rendering.page_cache() is None  # 0 turns the page cache off


def test_async_mode_is_pinned_to_threading(app):
    assert socketio.async_mode == "threading"


def test_error_pages_answer_html_htmx_and_json(client, app):
    page = client.get("/nowhere")
    assert page.status_code == 404 and "<html" in page.get_data(as_text=True)
    fragment = client.get("/nowhere", headers={"HX-Request": "true"})
    assert fragment.status_code == 404 and fragment.get_data(as_text=True).strip().startswith("<article")
    js = client.get("/nowhere", headers={"Accept": "application/json"})
    assert js.status_code == 404 and js.get_json()["error"]["code"] == "404"


def test_unexpected_error_is_a_clean_500(client, app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    r = client.get("/boom")
    assert r.status_code == 500 and "kaboom" not in r.get_data(as_text=True)
    assert "Something went wrong" in r.get_data(as_text=True)


def test_healthz(client, app):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_no_limiter_hook_on_every_request_but_login_still_limited(tmp_path, monkeypatch):
    """Flask-Limiter's before_request hook has nothing to check (no default or application
    limits), so it is dropped; the login view's own limit still answers 429."""
    from app.extensions import limiter
    from tests.conftest import built_app

    with built_app(tmp_path, monkeypatch, LOGIN_RATE_LIMIT="3 per minute") as app:
        assert limiter._check_request_limit not in app.before_request_funcs.get(None, [])
        client = app.test_client()
        codes = [client.post("/login", data={"email": "nobody@example.com", "password": "wrong password"}).status_code
                 for _ in range(4)]
        assert 429 not in codes[:3] and codes[3] == 429, codes


def test_sqlite_file_pool_keeps_connections(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SQLITE_POOL_SIZE", "12")
    app = create_app(Config())
    with app.app_context():
        pool = db.engine.pool
        assert pool.size() == 12 and pool._max_overflow == 12
        db.engine.dispose()
