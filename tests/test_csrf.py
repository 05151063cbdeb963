"""CSRF switched ON: forms need the token field, htmx sends it as a header."""

from __future__ import annotations

import pytest

from app import create_app
from app.config import TestingConfig
from app.extensions import db
from tests.conftest import IsolatedClient, csrf_from
from tests.factories import PASSWORD, make_team, make_user


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    app = create_app(TestingConfig(WTF_CSRF_ENABLED=True))
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.create_all()
        yield app
        db.drop_all()


def test_login_without_token_is_400(app):
    user = make_user()
    r = app.test_client().post("/login", data={"email": user.email, "password": PASSWORD})
    assert r.status_code == 400
    assert "security token" in r.get_data(as_text=True)


def test_login_with_token_field_works(app):
    user = make_user()
    c = app.test_client()
    token = csrf_from(c.get("/login").get_data(as_text=True))
    r = c.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303


@pytest.fixture
def logged_in(app):
    user = make_user()
    team = make_team(user, "Team")
    c = app.test_client()
    token = csrf_from(c.get("/login").get_data(as_text=True))
    c.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    return c, team


def test_htmx_post_without_header_is_400(app, logged_in):
    c, team = logged_in
    r = c.post(f"/teams/{team.id}/invitations", data={"role": "member"}, headers={"HX-Request": "true"})
    assert r.status_code == 400


def test_htmx_post_with_header_from_the_page_works(app, logged_in):
    c, team = logged_in
    page = c.get(f"/teams/{team.id}").get_data(as_text=True)
    assert 'hx-headers=\'{"X-CSRFToken": "' in page  # the page hands htmx its token
    token = page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    r = c.post(f"/teams/{team.id}/invitations", data={"role": "member"},
               headers={"HX-Request": "true", "X-CSRFToken": token})
    assert r.status_code == 201


def test_logout_needs_a_token(app, logged_in):
    c, _ = logged_in
    assert c.post("/logout").status_code == 400
    assert c.get("/account").status_code == 200  # still logged in


def test_a_token_from_another_session_is_refused(app, logged_in):
    c, team = logged_in
    stranger_token = csrf_from(app.test_client().get("/login").get_data(as_text=True))
    r = c.post(f"/teams/{team.id}/invitations", data={"role": "member", "csrf_token": stranger_token})
    assert r.status_code == 400
