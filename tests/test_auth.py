"""Register, log in, log out, change password; rate limit; session renewal."""

import pytest
from flask import session

from app.extensions import db
from app.models import AuditEvent
from app.services import accounts, passwords
from tests.factories import PASSWORD, make_user


def test_register_logs_in_and_hashes_with_argon2id(client, app):
    r = client.post("/register", data={"name": "Ada", "email": "Ada@Example.com",
                                       "password": "a long password", "confirm": "a long password"})
    assert r.status_code == 303 and r.headers["Location"] == "/"
    user = accounts.find_by_email("ada@example.com")
    assert user.password_hash.startswith("$argon2id$")
    assert "Hello, Ada" in client.get("/").get_data(as_text=True)


def test_production_profile_meets_owasp():
    params = passwords.hasher("owasp")
    assert params.type.name == "ID"
    assert params.memory_cost >= 19 * 1024 and params.time_cost >= 2


@pytest.mark.parametrize("data, message", [
    ({"name": "A", "email": "a@example.com", "password": "short", "confirm": "short"},
     "at least 10"),
    ({"name": "A", "email": "not-an-email", "password": "long enough pw", "confirm": "long enough pw"},
     "Invalid email"),
    ({"name": "A", "email": "a@example.com", "password": "long enough pw", "confirm": "different pw"},
     "passwords differ"),
])
def test_register_rejects_bad_input(client, data, message):
    r = client.post("/register", data=data)
    assert r.status_code == 422
    assert message.lower() in r.get_data(as_text=True).lower()


def test_register_duplicate_email(client, app):
    make_user(email="taken@example.com")
    r = client.post("/register", data={"name": "B", "email": "TAKEN@example.com",
                                       "password": PASSWORD, "confirm": PASSWORD})
    assert r.status_code == 422 and "already exists" in r.get_data(as_text=True)


def test_login_logout(client, auth, app):
    user = make_user()
    r = auth.login(user.email)
    assert r.status_code == 303
    assert client.get("/account").status_code == 200
    assert auth.logout().status_code == 303
    r = client.get("/account")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_login_next_is_never_an_open_redirect(client, app):
    user = make_user()
    r = client.post("/login?next=//evil.example/x", data={"email": user.email, "password": PASSWORD})
    assert r.headers["Location"] == "/"
    client.post("/logout")
    r = client.post("/login?next=/teams", data={"email": user.email, "password": PASSWORD})
    assert r.headers["Location"] == "/teams"


def test_unknown_email_and_wrong_password_look_the_same(client, app, monkeypatch):
    make_user(email="known@example.com")
    calls = []
    real = passwords.verify
    monkeypatch.setattr(passwords, "verify", lambda *a: calls.append(a[0]) or real(*a))
    wrong = client.post("/login", data={"email": "known@example.com", "password": "nope nope nope"})
    unknown = client.post("/login", data={"email": "ghost@example.com", "password": "nope nope nope"})
    assert wrong.status_code == unknown.status_code == 401
    body = lambda r: r.get_data(as_text=True).replace("known@example.com", "").replace("ghost@example.com", "")  # noqa: E731
    assert body(wrong) == body(unknown)
    assert accounts.LOGIN_FAILED in body(wrong)
    # Both paths ran one real Argon2 verification (unknown e-mail against a dummy hash).
    assert len(calls) == 2 and calls[1] is None
    failed = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "auth.login_failed")).all()
    assert len(failed) == 2


def test_session_is_renewed_at_login(client, app):
    user = make_user()
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
        sess["login_key"] = "fixed"
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess["login_key"] != "fixed"
        assert sess["_user_id"] == user.session_token


def test_login_is_rate_limited(app):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    c = app.test_client()
    statuses = [c.post("/login", data={"email": "x@example.com", "password": "wrong wrong w"}).status_code
                for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert "Too many attempts" in c.post("/login", data={}).get_data(as_text=True)


def test_change_password_ends_other_sessions(app, login_as):
    user = make_user()
    here, elsewhere = login_as(user), login_as(user)
    r = here.post("/account", data={"current_password": PASSWORD, "password": "brand new password",
                                    "confirm": "brand new password"})
    assert r.status_code == 303
    assert here.get("/account").status_code == 200
    assert elsewhere.get("/account").status_code == 302  # its session token is gone
    db.session.expire_all()  # the request changed the row under this test's session
    assert accounts.authenticate(user.email, "brand new password")


def test_change_password_wrong_current(app, login_as):
    user = make_user()
    c = login_as(user)
    r = c.post("/account", data={"current_password": "not it at all", "password": "brand new password",
                                 "confirm": "brand new password"})
    assert r.status_code == 422 and "current password is not right" in r.get_data(as_text=True)


def test_audit_records_login(client, app):
    user = make_user()
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "auth.login"))
    assert event.actor_id == user.id and event.ip == "127.0.0.1"


def test_htmx_login_redirects_with_header(client, app):
    user = make_user()
    r = client.post("/login", data={"email": user.email, "password": PASSWORD},
                    headers={"HX-Request": "true"})
    assert r.status_code == 204 and r.headers["HX-Redirect"] == "/"


def test_anonymous_htmx_gets_401_with_redirect(client, app):
    r = client.get("/teams", headers={"HX-Request": "true"})
    assert r.status_code == 401 and r.headers["HX-Redirect"].startswith("/login")


def test_session_cookie_flags(client, app):
    user = make_user()
    r = client.post("/login", data={"email": user.email, "password": PASSWORD})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert session is not None
