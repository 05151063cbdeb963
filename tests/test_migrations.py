"""`flask db upgrade` builds exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app import create_app
from app.config import TestingConfig
from app.extensions import db
from tests.services import fresh_postgres_database


def schema_diff(app) -> list:
    with db.engine.connect() as conn:
        # What `flask db check` compares: tables, columns, types, indexes, constraints.
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def upgrade_and_diff(uri: str, tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    app = create_app(TestingConfig(SQLALCHEMY_DATABASE_URI=uri))
    with app.app_context():
        upgrade()
        diff = schema_diff(app)
        tables = set(inspect(db.engine).get_table_names())
        downgrade(revision="base")
        left = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        db.engine.dispose()
    return diff, tables, left


def test_sqlite_upgrade_matches_models(tmp_path, monkeypatch):
    diff, tables, left = upgrade_and_diff(f"sqlite:///{tmp_path / 'm.sqlite3'}", tmp_path, monkeypatch)
    assert diff == []
    assert {"users", "teams", "memberships", "reviews", "audit_events"} <= tables
    assert left == set()


@pytest.mark.postgres
def test_postgres_upgrade_matches_models(tmp_path, monkeypatch):
    url, drop = fresh_postgres_database()
    try:
        diff, tables, left = upgrade_and_diff(url.replace("postgresql://", "postgresql+psycopg://"),
                                              tmp_path, monkeypatch)
    finally:
        drop()
    assert diff == []
    assert "memberships" in tables and left == set()
