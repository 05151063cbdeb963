"""Password guessing: more than LOGIN_RATE_LIMIT login attempts per address *or* per account get
429, a forged X-Forwarded-For moves no one to a fresh bucket unless proxies are configured
(TRADEOFF_PROXY_COUNT), and with a proxy only the address that proxy saw counts.

That the counters are shared by every process in scale-out (Redis) is shown by
tests/scaleout/test_scaleout.py::test_login_rate_limit_counts_across_processes; tests/test_auth.py
shows the basic per-address 429. Not repeated here."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import AuditEvent
from tests.conftest import built_app
from tests.factories import PASSWORD, make_user

LIMIT = 5


@pytest.fixture
def direct(tmp_path, monkeypatch):
    """No proxy configured: the peer address is the client."""
    with built_app(tmp_path, monkeypatch, LOGIN_RATE_LIMIT=f"{LIMIT} per minute") as app:
        yield app


@pytest.fixture
def proxied(tmp_path, monkeypatch):
    """Behind one proxy (nginx), which appends the address it saw to X-Forwarded-For."""
    with built_app(tmp_path, monkeypatch, LOGIN_RATE_LIMIT=f"{LIMIT} per minute", PROXY_COUNT=1) as app:
        yield app


def attempt(client, email, password="wrong password guess", peer="192.0.2.10", xff=None):
    headers = {"X-Forwarded-For": xff} if xff else {}
    return client.post("/login", data={"email": email, "password": password}, headers=headers,
                       environ_base={"REMOTE_ADDR": peer}).status_code


def test_per_address(direct):
    c = direct.test_client()
    statuses = [attempt(c, f"guess{i}@example.com") for i in range(LIMIT + 2)]
    assert statuses == [401] * LIMIT + [429, 429]
    assert attempt(c, "other@example.com", peer="192.0.2.99") == 401  # another address is not


def test_per_account_from_many_addresses(direct):
    """A botnet guessing one person's password: each address is new, the account is not."""
    victim = make_user(email="victim@example.com")
    c = direct.test_client()
    statuses = [attempt(c, "Victim@Example.com ", peer=f"198.51.100.{i}") for i in range(LIMIT + 1)]
    assert statuses == [401] * LIMIT + [429]
    # Even the right password waits (the guesser cannot tell), and the lock is that account's:
    assert attempt(c, victim.email, PASSWORD, peer="203.0.113.50") == 429
    assert attempt(c, "someone.else@example.com", peer="203.0.113.51") == 401
    failed = db.session.scalar(db.select(db.func.count()).select_from(AuditEvent)
                               .where(AuditEvent.action == "auth.login_failed"))
    assert failed == LIMIT + 1  # refused attempts did not even reach the password check


def test_forged_forwarded_for_is_ignored_without_a_proxy(direct):
    c = direct.test_client()
    statuses = [attempt(c, f"guess{i}@example.com", xff=f"10.9.8.{i}") for i in range(LIMIT + 1)]
    assert statuses == [401] * LIMIT + [429]
    ips = set(db.session.scalars(db.select(AuditEvent.ip).where(
        AuditEvent.action == "auth.login_failed")))
    assert ips == {"192.0.2.10"}  # the audit names the real peer too


def test_with_a_proxy_each_client_address_has_its_own_bucket(proxied):
    c = proxied.test_client()  # every request arrives from the proxy's address
    spread = [attempt(c, f"guess{i}@example.com", peer="127.0.0.1", xff=f"203.0.113.{i}")
              for i in range(LIMIT + 3)]
    assert spread == [401] * (LIMIT + 3)
    same = [attempt(c, f"again{i}@example.com", peer="127.0.0.1", xff="203.0.113.200")
            for i in range(LIMIT + 1)]
    assert same == [401] * LIMIT + [429]


def test_with_a_proxy_a_forged_hop_does_not_help(proxied):
    """The client prepends whatever it likes; the proxy appends the address it saw, and only
    that last hop (one proxy configured) is trusted."""
    c = proxied.test_client()
    statuses = [attempt(c, f"guess{i}@example.com", peer="127.0.0.1",
                        xff=f"10.0.0.{i}, 203.0.113.77") for i in range(LIMIT + 1)]
    assert statuses == [401] * LIMIT + [429]
    ips = set(db.session.scalars(db.select(AuditEvent.ip).where(
        AuditEvent.action == "auth.login_failed")))
    assert ips == {"203.0.113.77"}


def test_registration_is_limited_per_address(direct):
    c = direct.test_client()
    statuses = [c.post("/register", data={"name": "N", "email": f"new{i}@example.com",
                                          "password": "short", "confirm": "short"},
                       environ_base={"REMOTE_ADDR": "192.0.2.33"}).status_code
                for i in range(LIMIT + 1)]
    assert statuses[:LIMIT] == [422] * LIMIT and statuses[LIMIT] == 429
