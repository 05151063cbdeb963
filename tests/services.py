"""Where the scale-out services are: TEST_POSTGRES_URL / TEST_REDIS_URL, or the local default.

Tests of the scale-out mode use them for real; without a reachable server they skip with that
reason — except under CI (REQUIRE_SERVICES=1), where a missing service fails the test."""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

import psycopg
import pytest

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return True
    except OSError:
        return False


def require(url: str, what: str) -> None:
    if _reachable(url):
        return
    message = f"needs a {what} server at {urlsplit(url).netloc}"
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (REQUIRE_SERVICES=1)")
    pytest.skip(message)


def fresh_postgres_database() -> tuple[str, callable]:
    """Create an empty database on the PostgreSQL server; return its URL and a dropper."""
    require(POSTGRES_URL, "PostgreSQL")
    name = f"tradeoff_test_{uuid.uuid4().hex[:10]}"
    admin = POSTGRES_URL
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base}/{name}", drop
