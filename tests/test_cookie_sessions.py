"""Session cookies verified once per process and the signed CSRF token kept per session secret
(app/sessions.py): the same answers as verifying and signing every time, never a wrong one."""

from __future__ import annotations

import time

import pytest
from flask import session
from itsdangerous import URLSafeTimedSerializer

from app import sessions
from app.sessions import SIGNED_TOKENS, csrf_token


@pytest.fixture
def interface(app):
    found = app.session_interface
    assert isinstance(found, sessions.CookieSessions)
    return found


def counting_loads(monkeypatch, interface, app) -> list:
    calls = []
    serializer = interface.get_signing_serializer(app)
    real = serializer.loads
    monkeypatch.setattr(serializer, "loads", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    return calls


def test_a_cookie_is_verified_once_and_each_request_gets_its_own_copy(app, client, interface, monkeypatch):
    with client.session_transaction() as sess:
        sess["who"] = "ana"
    calls = counting_loads(monkeypatch, interface, app)
    for _ in range(3):
        with client.session_transaction() as sess:
            assert sess["who"] == "ana"
            sess["who"] = "changed in this request only"  # a copy: the kept one stays
            sess.modified = False  # (the changed session is not saved back)
    assert len(calls) == 1


def test_a_forged_or_tampered_cookie_is_refused(app, client, interface):
    with client.session_transaction() as sess:
        sess["who"] = "ana"
    cookie = client.get_cookie("session")
    forged = URLSafeTimedSerializer("not-the-key", salt="cookie-session").dumps({"who": "mallory"})
    for value in (forged, cookie.value[:-2] + ("AA" if not cookie.value.endswith("AA") else "BB")):
        client.set_cookie("session", value)
        with client.session_transaction() as sess:
            assert "who" not in sess


def test_a_kept_cookie_still_expires(app, client, interface, monkeypatch):
    with client.session_transaction() as sess:
        sess["who"] = "ana"
    with client.session_transaction() as sess:
        assert sess["who"] == "ana"  # verified and kept
    later = time.time() + app.permanent_session_lifetime.total_seconds() + 60
    monkeypatch.setattr(sessions.time, "time", lambda: later)
    with client.session_transaction() as sess:
        assert "who" not in sess


def test_a_session_with_a_list_or_dict_is_never_kept(app, client, interface, monkeypatch):
    with client.session_transaction() as sess:
        sess["_flashes"] = [("info", "hello")]
    calls = counting_loads(monkeypatch, interface, app)
    for _ in range(2):
        with client.session_transaction() as sess:
            assert sess["_flashes"] == [("info", "hello")]
    assert len(calls) >= 2  # verified in each transaction (a kept one is verified once in all)


def test_the_kept_verifications_are_bounded():
    kept = sessions.Kept(3)
    for n in range(10):
        kept.keep(n, n)
    assert list(kept) == [7, 8, 9]


def test_a_new_secret_key_verifies_again(app, client, interface):
    with client.session_transaction() as sess:
        sess["who"] = "ana"
    app.secret_key = "a rotated secret key"
    with client.session_transaction() as sess:
        assert "who" not in sess  # signed with the old key, which is no longer trusted


def test_the_signed_csrf_token_is_kept_per_session_secret(app):
    assert app.config["WTF_CSRF_TIME_LIMIT"] is None
    serializer = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token")
    with app.app_context(), app.test_request_context("/"):
        session["csrf_token"] = "secret-one"
        first = csrf_token()
    with app.app_context(), app.test_request_context("/"):
        session["csrf_token"] = "secret-one"
        assert csrf_token() == first
    with app.app_context(), app.test_request_context("/"):
        session["csrf_token"] = "secret-two"
        other = csrf_token()
    assert other != first
    assert serializer.loads(first) == "secret-one" and serializer.loads(other) == "secret-two"


def test_tokens_that_expire_by_age_are_signed_every_time(app):
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    app.extensions.pop(SIGNED_TOKENS, None)
    with app.app_context(), app.test_request_context("/"):
        session["csrf_token"] = "secret-one"
        token = csrf_token()
    assert URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").loads(token, max_age=3600) == "secret-one"
    assert not app.extensions.get(SIGNED_TOKENS)


def test_a_cookie_seen_under_a_dropped_fallback_key_is_refused(app, client, interface):
    app.secret_key = "the old key"
    with client.session_transaction() as sess:
        sess["who"] = "ana"
    app.secret_key = "the new key"
    app.config["SECRET_KEY_FALLBACKS"] = ["the old key"]
    with client.session_transaction() as sess:
        assert sess["who"] == "ana"  # signed with a fallback key: valid, and kept
    app.config["SECRET_KEY_FALLBACKS"] = []  # the old key leaked: dropped without a restart
    with client.session_transaction() as sess:
        assert "who" not in sess
