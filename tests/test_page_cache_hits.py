"""A page-cache hit is answered before the view (app/rendering.py, ``cached_page``): one Core
statement (``access.peek_viewer``) checks the login and the viewer's role. These tests prove
that it never answers where the view itself would not: an ended, replaced or expired login, a
removed member, an outsider; ids beyond the database's integers. Run on in-memory SQLite (the
session's one connection), on a database file and on PostgreSQL (a pooled connection of its
own)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import LoginSession, Membership, NotificationKind, Step
from app.models.base import utcnow
from app.rendering import page_cache
from app.services import accounts, notifications, teams
from tests import factories
from tests.conftest import DATABASES, app_on

TOKEN = re.compile(r"I[jm][\w-]{20,}\.[\w-]+\.[\w-]+")


@pytest.fixture(params=DATABASES)
def app(request, tmp_path, monkeypatch):
    yield from app_on(request.param, tmp_path, monkeypatch)


@pytest.fixture
def statements(app):
    from sqlalchemy import event

    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.split()))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def warm(client, review_id: int) -> dict[str, str]:
    """Every step page served twice (the second from the cache); their bodies."""
    client.get(f"/reviews/{review_id}")  # the login's flash message is shown (and gone)
    paths = [f"/reviews/{review_id}/steps/{step.value}" for step in Step]
    for path in paths:  # the first view of the matrix starts its first scoring round (a write)
        client.get(path)
    bodies = {}
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200
        bodies[path] = TOKEN.sub("TOKEN", response.get_data(as_text=True))
    return bodies


def copy_of(client, app):
    """Another browser holding a copy of ``client``'s cookies."""
    other = app.test_client()
    for cookie in client._cookies.values():
        other.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    return other


def refused(response) -> bool:
    """Sent to the login page (a redirect), or 401 for htmx: not a page."""
    return response.status_code in (302, 303, 401) and "/login" in (
        response.headers.get("Location") or response.headers.get("HX-Redirect") or "")


def test_a_hit_is_one_statement_and_the_same_page(app, world, login_as, statements):
    c = login_as(world.users["member"])
    bodies = warm(c, world.review.id)
    for path, expected in bodies.items():
        statements.clear()
        response = c.get(path)
        assert response.status_code == 200
        assert TOKEN.sub("TOKEN", response.get_data(as_text=True)) == expected
        assert len(statements) == 1 and "login_sessions" in statements[0], (path, statements)
    region = f"/reviews/{world.review.id}/regions/benchmark-uploads"
    assert c.get(region, headers={"HX-Request": "true"}).status_code == 200
    statements.clear()
    assert c.get(region, headers={"HX-Request": "true"}).status_code == 200
    assert len(statements) == 1, statements
    assert page_cache().hits > 0


def test_no_hit_for_a_copied_cookie_after_logout(app, world, login_as):
    c = login_as(world.users["member"])
    elsewhere = login_as(world.users["member"])  # the same person, logged in on another computer
    bodies = warm(c, world.review.id)
    thief = copy_of(c, app)
    path = next(iter(bodies))
    assert thief.get(path).status_code == 200  # the copy works while the login is open
    assert c.post("/logout").status_code in (302, 303)
    assert refused(thief.get(path))
    assert elsewhere.get(path).status_code == 200  # only that browser's login ended
    assert refused(thief.get(f"/reviews/{world.review.id}/regions/constraints", headers={"HX-Request": "true"}))


def test_no_hit_after_a_password_change_elsewhere(app, world, login_as):
    member = world.users["member"]
    c = login_as(member)
    bodies = warm(c, world.review.id)
    accounts.change_password(member, factories.PASSWORD, "another long password 42")
    for path in bodies:
        assert refused(c.get(path)), path


def test_no_hit_after_the_login_expires(app, world, login_as):
    c = login_as(world.users["member"])
    first = db.session.scalar(db.select(db.func.max(LoginSession.id)))
    later = login_as(world.users["member"])  # another login of the same person, still open
    bodies = warm(c, world.review.id)
    old = utcnow() - app.config["PERMANENT_SESSION_LIFETIME"] - timedelta(minutes=1)
    db.session.execute(update(LoginSession).where(LoginSession.id == first).values(created_at=old))
    db.session.commit()
    for path in bodies:
        assert refused(c.get(path)), path
    assert later.get(next(iter(bodies))).status_code == 200


def test_no_hit_for_a_removed_member_or_an_outsider(app, world, login_as):
    c = login_as(world.users["member"])
    bodies = warm(c, world.review.id)
    stranger = login_as(world.users["non_member"])
    for path in bodies:
        assert stranger.get(path).status_code == 404, path
    found = db.session.scalar(db.select(Membership).where(Membership.user_id == world.users["member"].id))
    teams.remove_member(world.users["owner"], world.team, found.id)
    for path in bodies:
        assert c.get(path).status_code == 404, path


def test_session_protection_runs_on_a_hit(app, world, login_as, statements):
    """Flask-Login's "basic" protection marks a session seen from another browser not fresh;
    a hit (which never loads the user) runs the same check."""
    c = login_as(world.users["member"])
    bodies = warm(c, world.review.id)
    path = next(iter(bodies))
    with c.session_transaction() as sess:
        assert sess["_fresh"] is True
    statements.clear()
    response = c.get(path, headers={"User-Agent": "another browser"})
    assert response.status_code == 200 and len(statements) == 1  # a hit
    with c.session_transaction() as sess:
        assert sess["_fresh"] is False


def test_the_unread_count_of_a_whole_page_is_current(app, world, login_as):
    member = world.users["member"]
    c = login_as(member)
    bodies = warm(c, world.review.id)
    path = next(iter(bodies))
    assert "notif-count" not in c.get(path).get_data(as_text=True)
    sent = notifications.send_once([notifications.Draft(
        user_id=member.id, kind=NotificationKind.VOTE_OPENED, subject="vote:1", title="Hello")])
    assert len(sent) == 1
    page = c.get(path).get_data(as_text=True)
    assert 'notif-count" aria-hidden="true">1<' in page
    fragment = c.get(path, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "notif-count" not in fragment.get_data(as_text=True)


def test_a_page_from_a_session_without_a_csrf_secret_gets_the_etag_of_its_new_secret(app, world, login_as):
    c = login_as(world.users["member"])
    bodies = warm(c, world.review.id)
    path = next(iter(bodies))
    with c.session_transaction() as sess:
        sess.pop("csrf_token", None)
    first = c.get(path)  # served from the cache; makes the session's CSRF secret
    assert first.status_code == 200
    again = c.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
