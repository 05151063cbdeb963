"""Session attacks: fixation, a cookie replayed after logout or after a password change, and
the cookie flags of the production configuration.

The session cookie is signed but stored client side, so "logging out" by clearing it would
leave any copy of it valid (another tab, a proxy log, malware). The server keeps one row per
login (``login_sessions``) and the cookie authenticates only while that row exists."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.sessions import SecureCookieSessionInterface

from app import create_app
from app.config import Config
from app.extensions import db
from app.models import LoginSession
from app.models.base import utcnow
from tests.conftest import IsolatedClient, csrf_from
from tests.factories import PASSWORD, make_user


def session_cookie(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def with_cookie(app, value: str):
    """A different browser (an attacker) presenting a copied session cookie."""
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def authenticated(client) -> bool:
    r = client.get("/account")
    if r.status_code == 200:
        return True
    assert r.status_code == 302 and "/login" in r.headers["Location"], r.status_code
    return False


def login(client, user, password=PASSWORD):
    r = client.post("/login", data={"email": user.email, "password": password})
    assert r.status_code == 303
    return r


def decoded(app, value: str) -> dict:
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    return serializer.loads(value)


def test_the_cookie_changes_at_login_and_a_planted_one_stays_anonymous(app):
    user = make_user()
    victim = app.test_client()
    victim.get("/login")
    planted = session_cookie(victim)  # what an attacker could have set in the victim's browser
    assert planted
    login(victim, user)
    after = session_cookie(victim)
    assert after and after != planted
    assert decoded(app, after)["login_key"] not in decoded(app, planted).values()
    assert authenticated(victim)
    assert not authenticated(with_cookie(app, planted))  # fixation gets the attacker nothing


def test_a_cookie_copied_before_logout_is_dead_after_it(app):
    user = make_user()
    browser = app.test_client()
    login(browser, user)
    copied = session_cookie(browser)
    assert authenticated(with_cookie(app, copied))  # the copy works while the login lasts
    assert browser.post("/logout").status_code == 303
    assert not authenticated(browser)
    assert not authenticated(with_cookie(app, copied))
    assert db.session.scalar(db.select(db.func.count()).select_from(LoginSession)
                             .where(LoginSession.user_id == user.id)) == 0


def test_logout_ends_only_that_browser(app):
    user = make_user()
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, user)
    login(phone, user)
    laptop.post("/logout")
    assert not authenticated(laptop) and authenticated(phone)


def test_a_copied_cookie_cannot_open_a_socket_after_logout(app, world, socket_client):
    browser = app.test_client()
    login(browser, world.users["member"])
    copied = session_cookie(browser)
    assert socket_client(with_cookie(app, copied), world.review.id).is_connected()
    browser.post("/logout")
    assert not socket_client(with_cookie(app, copied), world.review.id).is_connected()


def test_a_password_change_kills_every_earlier_cookie_even_this_browsers(app):
    user = make_user()
    browser, elsewhere = app.test_client(), app.test_client()
    login(browser, user)
    login(elsewhere, user)
    before = session_cookie(browser)
    r = browser.post("/account", data={"current_password": PASSWORD, "password": "a new long password",
                                       "confirm": "a new long password"})
    assert r.status_code == 303
    assert authenticated(browser)  # the browser that changed it got a new login
    assert session_cookie(browser) != before
    assert not authenticated(with_cookie(app, before))
    assert not authenticated(elsewhere)


def test_a_login_ends_after_the_session_lifetime_however_busy(app):
    """The cookie's expiry is refreshed on every request; the login row is not: a stolen
    cookie kept alive by requests still dies PERMANENT_SESSION_LIFETIME after the login."""
    user = make_user()
    browser = app.test_client()
    login(browser, user)
    assert authenticated(browser)
    db.session.execute(db.update(LoginSession).where(LoginSession.user_id == user.id).values(
        created_at=utcnow() - app.config["PERMANENT_SESSION_LIFETIME"] - timedelta(minutes=1)))
    db.session.commit()
    assert not authenticated(browser)


def test_a_cookie_naming_a_user_without_a_login_key_is_refused(app):
    """Forged content needs the secret key; with it, the session token alone is not enough."""
    user = make_user()
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    forged = serializer.dumps({"_user_id": user.session_token, "_fresh": True})
    assert not authenticated(with_cookie(app, forged))


# -- production configuration ----------------------------------------------------------------


@pytest.fixture
def production_app(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("TRADEOFF_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "production-like-secret-" + "z" * 30)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    for name in ("DATABASE_URL", "REDIS_URL", "SESSION_COOKIE_SECURE"):
        monkeypatch.delenv(name, raising=False)
    app = create_app(Config())
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.drop_all()


def cookie_attributes(response, name: str) -> dict[str, str | bool]:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(name + "="):
            parts = [p.strip() for p in header.split(";")]
            attrs: dict[str, str | bool] = {}
            for part in parts[1:]:
                key, eq, value = part.partition("=")
                attrs[key.lower()] = value if eq else True
            return attrs
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.getlist('Set-Cookie')}")


def test_production_cookies_are_secure_httponly_samesite(production_app):
    app = production_app
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict")
    user = make_user()
    client = app.test_client()
    page = client.get("/login", base_url="https://tradeoff.example")
    for name in ("session", "tradeoff_lb"):
        attrs = cookie_attributes(page, name)
        assert attrs.get("secure") is True and attrs.get("httponly") is True, (name, attrs)
        assert attrs.get("samesite") in ("Lax", "Strict"), (name, attrs)
    token = csrf_from(page.get_data(as_text=True))
    # Over HTTPS Flask-WTF also wants a same-origin Referer (WTF_CSRF_SSL_STRICT).
    r = client.post("/login", base_url="https://tradeoff.example",
                    headers={"Referer": "https://tradeoff.example/login"},
                    data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303
    attrs = cookie_attributes(r, "session")
    assert attrs.get("secure") is True and attrs.get("httponly") is True
    assert attrs.get("samesite") in ("Lax", "Strict")
    assert "expires" in attrs  # permanent, bounded by PERMANENT_SESSION_LIFETIME
    assert not any(h.startswith("remember_token=") for h in r.headers.getlist("Set-Cookie"))
    assert re.search(r"max-age=\d+", r.headers.get("Strict-Transport-Security", ""))
