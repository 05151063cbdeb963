"""Access rules, declared on every view and socket event.

``@access("review:member")`` both enforces the rule and records it on the view, so the
access-matrix test can read every endpoint's rule from ``app.url_map`` and fail for a route
that has none. Rules:

- ``public``: anyone;
- ``login``: any logged-in user;
- ``team:<role>``: a member of the team in the URL with at least that role;
- ``review:<role>``: a member of the review's team with at least that role;
- ``token``: the JSON API — only an ``Authorization: Bearer <token>`` header authenticates
  (a login cookie never does); the token's user is ``g.api_user``, and the view checks team
  and review membership with :func:`load_scope` like any other view.

A non-member gets 404 (a team's existence is not revealed), a member below the role 403,
an anonymous visitor the login page (401 for htmx and JSON; 401 JSON without a valid token).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import abort, g, request, session
from flask_login import current_user
from sqlalchemy import and_, bindparam
from sqlalchemy.orm import joinedload
from sqlalchemy.pool import StaticPool
from werkzeug.exceptions import HTTPException

from app import socket_guard
from app.errors import render_error
from app.extensions import db, login_manager, socketio
from app.models import LoginSession, Membership, Review, Role, Team, User
from app.models.base import MAX_ID
from app.rendering import PageViewer
from app.services import accounts, notifications, tokens

SCOPES = ("public", "login", "team", "review", "token")


@dataclass(frozen=True)
class Rule:
    scope: str
    role: Role | None = None

    @classmethod
    def parse(cls, text: str) -> Rule:
        scope, _, role = text.partition(":")
        if scope not in SCOPES or (scope in ("team", "review")) != bool(role):
            raise ValueError(f"bad access rule {text!r}")
        return cls(scope, Role(role) if role else None)

    def allows(self, role: Role | None) -> bool:
        return self.role is None or (role is not None and role.at_least(self.role))


def membership_for(team_id: int, user) -> Membership | None:
    if not user.is_authenticated:
        return None
    return db.session.scalar(
        db.select(Membership).where(Membership.team_id == team_id, Membership.user_id == user.id)
    )


# Built once: SQLAlchemy then also reuses the statement's cache key, which costs more to work
# out for a join with loader options than running the query (this runs on every review request).
_REVIEW_AND_MEMBERSHIP = db.select(Review, Membership).outerjoin(Membership, and_(
    Membership.team_id == Review.team_id, Membership.user_id == bindparam("user_id"))).where(
    Review.id == bindparam("review_id")).options(joinedload(Review.team))
_REVIEW = db.select(Review).where(Review.id == bindparam("review_id")).options(joinedload(Review.team))


def _load_review(review_id, user) -> tuple[Review | None, Membership | None]:
    """The review and the user's membership of its team in one statement, with its team
    (joined: every review page names it). Its candidates load on first use, in one statement
    (a page served from the page cache, app/rendering.py, never uses them)."""
    try:
        review_id = int(review_id)
    except (TypeError, ValueError):
        return None, None
    if not 0 < review_id <= MAX_ID:  # no such row; and never an integer the database refuses
        return None, None
    if user.is_authenticated:
        row = db.session.execute(_REVIEW_AND_MEMBERSHIP, {"review_id": review_id, "user_id": user.id}).first()
    else:
        row = db.session.execute(_REVIEW, {"review_id": review_id}).first()
    if row is None:
        return None, None
    return row[0], (row[1] if user.is_authenticated else None)


def load_scope(rule: Rule, kwargs: dict, user) -> Membership | None:
    """Resolve the team or review named in ``kwargs`` (replacing the id with the object) and
    check the user's role; aborts 404/403. Shared by views and socket events."""
    if rule.scope == "team":
        obj = db.session.get(Team, kwargs.pop("team_id"))
        key = "team"
        found = membership_for(obj.id, user) if obj else None
    else:
        obj, found = _load_review(kwargs.pop("review_id"), user)
        key = "review"
    if found is None:
        abort(404)
    if not rule.allows(found.role_enum):
        abort(403)
    kwargs[key] = obj
    return found


# The page cache's check (see peek_viewer): the login, the review and the viewer's role in it in
# one Core statement, with the unread count for whole pages. Built once.
_users, _logins, _members, _reviews = (m.__table__ for m in (User, LoginSession, Membership, Review))
# Labelled as PageViewer's fields.
_VIEWER = db.select(
    _users.c.id.label("user_id"), _users.c.name, _users.c.email, _members.c.role,
    _reviews.c.id.label("review_id"), _reviews.c.revision, _reviews.c.updated_at.label("stamp"),
    _reviews.c.current_step,
).select_from(_users).join(_logins, _logins.c.user_id == _users.c.id).join(
    _members, _members.c.user_id == _users.c.id).join(
    _reviews, and_(_reviews.c.team_id == _members.c.team_id, _reviews.c.id == bindparam("review_id"))).where(
    *accounts.LOGIN_IS_OPEN)
_VIEWER_WITH_UNREAD = _VIEWER.add_columns(
    notifications.unread_of(_users.c.id).scalar_subquery().label("unread"))


def peek_viewer(rule: Rule, review_id, *, unread: bool) -> PageViewer | None:
    """The same check as ``@access`` plus Flask-Login's for a review page, answered from one
    statement without the ORM: the viewer and the review's state as the page cache's key needs
    them (app/rendering.py, ``cached_page``), if the session's login is open (as
    ``accounts.load_user`` requires) and its user is a member of the review's team with at least
    ``rule``'s role. None otherwise, and whenever the view itself must answer (no login, Flask-
    Login's session protection refusing the session, no such review, a role below the rule):
    the view's own checks then give the login page, 404 or 403."""
    if rule.scope != "review" or not isinstance(review_id, int) or not 0 < review_id <= MAX_ID:
        return None
    params = accounts.login_parameters(session.get("_user_id"), session.get("login_key"))
    if params is None or login_manager._session_protection_failed():
        return None
    statement, values = (_VIEWER_WITH_UNREAD if unread else _VIEWER), {**params, "review_id": review_id}
    engine = db.engine
    if isinstance(engine.pool, StaticPool):  # an in-memory database: one connection, the session's
        row = db.session.connection().execute(statement, values).first()
    else:  # a connection of its own: no ORM session to begin and end for a page served from cache
        with engine.connect() as connection:
            row = connection.execute(statement, values).first()
    if row is None or not rule.allows(Role(row.role)):
        return None
    return PageViewer(**row._mapping)


def bearer_token() -> str | None:
    scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def token_required():
    response = render_error(401, "Send a personal API token as “Authorization: Bearer <token>”; "
                                 "create one under Account → API tokens. A login cookie does "
                                 "not authenticate the API.", "token_required")
    response.headers["WWW-Authenticate"] = 'Bearer realm="tradeoff"'
    return response


def access(text: str):
    """Declare and enforce who may call a view (see module docstring)."""
    rule = Rule.parse(text)

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if rule.scope == "token":
                g.api_user = tokens.authenticate(bearer_token())
                return view(*args, **kwargs) if g.api_user else token_required()
            if rule.scope != "public" and not current_user.is_authenticated:
                return login_manager.unauthorized()
            if rule.scope in ("team", "review"):
                g.membership = load_scope(rule, kwargs, current_user)
            return view(*args, **kwargs)

        wrapper.access_rule = rule
        return wrapper

    return decorate


def current_role() -> Role | None:
    found = getattr(g, "membership", None)
    return found.role_enum if found else None


def can(role: Role | str) -> bool:
    """For templates: may the current viewer do what needs ``role``?"""
    mine = current_role()
    return mine is not None and mine.at_least(Role(role))


# Socket.IO events: name -> rule, filled by @socket_event at import (like Flask's url_map).
SOCKET_RULES: dict[str, Rule] = {}


class SocketDenied(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def check_socket_access(rule: Rule, review_id) -> tuple[Review, Membership]:
    """The same check as views, for a socket: raises SocketDenied (401/403/404)."""
    if not current_user.is_authenticated:
        raise SocketDenied(401, "log in first")
    try:
        kwargs = {"review_id": int(review_id)}
    except (TypeError, ValueError):
        raise SocketDenied(400, "name the review") from None
    try:
        found = load_scope(rule, kwargs, current_user)
    except HTTPException as err:
        raise SocketDenied(err.code or 403, "not allowed") from None
    return kwargs["review"], found


def socket_event(name: str, text: str):
    """Register a Socket.IO event with its access rule. The handler receives the review and
    the payload; a refused call gets ``{"ok": false, "error": ...}`` as its acknowledgement.
    Membership and role are checked again on every call (a role can change while a socket is
    open), after the connection's event rate (app/socket_guard.py)."""
    rule = Rule.parse(text)
    SOCKET_RULES[name] = rule

    def decorate(handler):
        @wraps(handler)
        def wrapper(data=None):
            refused = socket_guard.refused_event()
            if refused:
                return refused
            payload = data if isinstance(data, dict) else {}
            try:
                review, g.membership = check_socket_access(rule, payload.get("review_id"))
            except SocketDenied as err:
                return {"ok": False, "status": err.status, "error": err.message}
            return handler(review, payload)

        wrapper.access_rule = rule
        socketio.on(name)(wrapper)
        return wrapper

    return decorate
