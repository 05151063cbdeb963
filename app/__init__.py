"""Tradeoff: choose a technology together, with evidence, and keep the signed-off decision."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.pool import StaticPool
from werkzeug.routing import IntegerConverter

from app import (
    api,
    archive,
    auth,
    benchmarks,
    cli,
    constraints,
    edge,
    errors,
    main,
    mapping,
    prototypes,
    reviews,
    teams,
    vote,
)
from app.access import can, current_role
from app.config import Config, instance_secret_key
from app.extensions import csrf, db, htmx, limiter, login_manager, migrate, socketio
from app.models import ROLES, STEPS
from app.models.base import MAX_ID
from app.services import presence, scheduler
from app.sessions import CookieSessions

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Config | None = None) -> Flask:
    """Build the app. ``config`` defaults to the environment (see app/config.py)."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("TRADEOFF_INSTANCE_PATH", str(ROOT / "instance")),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    configure(app, config or Config())
    app.session_interface = CookieSessions()  # a cookie verified once per process (app/sessions.py)
    register_extensions(app)
    register_blueprints(app)
    _skip_idle_limit_check(app)
    register_errors(app)
    edge.register(app)
    register_template_helpers(app)
    register_commands(app)
    scheduler.init_app(app)  # closes votes at their deadline, reminds (not when testing)
    return app


def configure(app: Flask, config: Config) -> None:
    app.config.from_object(config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        if app.config["PRODUCTION"]:
            raise RuntimeError("Set SECRET_KEY in the environment for production.")
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        path = Path(app.instance_path) / "tradeoff.sqlite3"
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        options = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if uri in ("sqlite://", "sqlite:///:memory:"):
            options["poolclass"] = StaticPool
        else:
            # SQLAlchemy's default pool keeps 5 connections and closes the 10 overflow ones as
            # they come back: with more requests at once than 5, each request then opened a new
            # connection and ran the pragmas below. An SQLite connection is only a file handle,
            # so keep enough for the server's busy threads (SQLITE_POOL_SIZE, default 32).
            size = int(os.environ.get("SQLITE_POOL_SIZE") or app.config.get("SQLITE_POOL_SIZE") or 32)
            options.update(pool_size=size, max_overflow=size)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
        synchronous = str(app.config.get("SQLITE_SYNCHRONOUS")
                          or os.environ.get("SQLITE_SYNCHRONOUS") or "NORMAL").upper()
        if synchronous not in SQLITE_SYNCHRONOUS:
            raise RuntimeError(f"SQLITE_SYNCHRONOUS must be one of {', '.join(SQLITE_SYNCHRONOUS)}, "
                               f"not {synchronous!r}.")
        app.config["SQLITE_SYNCHRONOUS"] = synchronous
    app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"] or "memory://"
    if not app.config.get("UPLOAD_FOLDER"):
        app.config["UPLOAD_FOLDER"] = str(Path(app.instance_path) / "uploads")


SQLITE_SYNCHRONOUS = ("NORMAL", "FULL", "EXTRA")


def _sqlite_pragmas(dbapi_connection, _record, synchronous: str = "NORMAL") -> None:
    """WAL lets readers work while one writer writes; busy_timeout makes writers wait for the
    lock instead of failing with "database is locked". ``synchronous=NORMAL`` (the default,
    SQLite's advice for WAL) syncs the WAL at checkpoints, not at every commit: a commit
    survives the app crashing or being killed, and the database stays consistent; only a
    power loss or OS crash may lose the last commits. ``FULL`` syncs every commit."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", functools.partial(
                _sqlite_pragmas, synchronous=app.config["SQLITE_SYNCHRONOUS"]))
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    origins = app.config["SOCKETIO_ALLOWED_ORIGINS"] or None
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        message_queue=app.config["REDIS_URL"],
        cors_allowed_origins=origins,
        manage_session=False,
    )
    app.extensions["tradeoff.presence"] = presence.create_store(app.config["REDIS_URL"])


def _skip_idle_limit_check(app: Flask) -> None:
    """Flask-Limiter checks every request in a ``before_request`` hook (about 0.2 ms of CPU)
    for application-wide and default limits. Tradeoff sets neither: its limits sit on the login
    and register views (app/auth/routes.py), whose decorators check them when those views run.
    With nothing for it to find, the hook is dropped; it stays if limits are ever configured."""
    manager = limiter.limit_manager
    if manager.default_limits or manager.application_limits or getattr(manager, "_blueprint_limits", None):
        return
    hooks = app.before_request_funcs.get(None, [])
    app.before_request_funcs[None] = [hook for hook in hooks if hook != limiter._check_request_limit]


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route is a row id: at most MAX_ID (PostgreSQL's INTEGER), so a
    larger number is a 404 like any other id that names no row, not a database error."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits, min, max, signed)


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter
    for module in (main, auth, teams, reviews, constraints, mapping, prototypes, benchmarks, api,
                   vote, archive):
        app.register_blueprint(module.bp)
    app.register_blueprint(api.tokens_bp)
    csrf.exempt(api.bp)  # the API authenticates by bearer token only, never by cookie


def register_errors(app: Flask) -> None:
    errors.register(app)


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.globals.update(can=can, current_role=current_role, ROLES=ROLES, STEPS=STEPS)
    # The UI macros are globals so that a block rendered alone (htmx, Socket.IO) has them too:
    # jinja2-fragments renders one block without the template's top-level imports.
    macros = app.jinja_env.get_template("_macros.html").module
    names = ("field", "form_errors", "post_button", "status_badge", "region_attrs", "hx_form")
    app.jinja_env.globals.update({name: getattr(macros, name) for name in names})


def register_commands(app: Flask) -> None:
    cli.register(app)
