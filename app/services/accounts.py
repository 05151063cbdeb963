"""Accounts: registration, authentication, password changes."""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam

from app.extensions import db
from app.models import LoginSession, User
from app.models.accounts import login_key_hash
from app.models.base import utcnow
from app.services import audit, passwords
from app.services.errors import AuthenticationFailed, Invalid

LOGIN_FAILED = "Invalid email or password."


def _profile() -> str:
    return current_app.config["PASSWORD_HASH_PROFILE"]


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_by_email(email: str) -> User | None:
    return db.session.scalar(db.select(User).where(User.email == normalise_email(email)))


def check_new_password(password: str) -> None:
    """Raise Invalid unless the password is long enough (NIST 800-63B: length, not rules)."""
    if len(password or "") < passwords.MIN_LENGTH:
        raise Invalid(
            f"Use at least {passwords.MIN_LENGTH} characters for the password.", field="password"
        )
    if len(password) > passwords.MAX_LENGTH:
        raise Invalid("That password is too long.", field="password")


def register(email: str, name: str, password: str) -> User:
    """Create an account. Raises Invalid when the e-mail is taken or the password too short."""
    email = normalise_email(email)
    if find_by_email(email):
        raise Invalid("An account with this email already exists. Log in instead.", field="email")
    check_new_password(password)
    user = User(email=email, name=name.strip(), password_hash=passwords.hash_password(password, _profile()))
    db.session.add(user)
    db.session.flush()
    audit.record("user.registered", actor=user)
    db.session.commit()
    return user


def authenticate(email: str, password: str, *, ip: str | None = None) -> User:
    """Return the user whose credentials these are, or raise AuthenticationFailed.

    An unknown e-mail and a wrong password get the same message and cost the same hash check.
    """
    user = find_by_email(email)
    ok = passwords.verify(user.password_hash if user else None, password, _profile())
    if not ok:
        audit.record("auth.login_failed", actor=user, ip=ip, email=normalise_email(email)[:254])
        db.session.commit()
        raise AuthenticationFailed(LOGIN_FAILED)
    if passwords.needs_rehash(user.password_hash, _profile()):
        user.password_hash = passwords.hash_password(password, _profile())
    audit.record("auth.login", actor=user, ip=ip)
    db.session.commit()
    return user


def record_logout(user: User, *, ip: str | None = None) -> None:
    audit.record("auth.logout", actor=user, ip=ip)
    db.session.commit()


def change_password(user: User, current: str, new: str) -> None:
    """Change the password and end every other session of this user (the session token
    rotates). Raises Invalid when the current password is wrong or the new one too short."""
    if not passwords.verify(user.password_hash, current, _profile()):
        raise Invalid("Your current password is not right.", field="current_password")
    check_new_password(new)
    user.password_hash = passwords.hash_password(new, _profile())
    user.rotate_session_token()
    db.session.execute(db.delete(LoginSession).where(LoginSession.user_id == user.id))
    audit.record("auth.password_changed", actor=user)
    db.session.commit()


def _login_lifetime() -> timedelta:
    return current_app.config["PERMANENT_SESSION_LIFETIME"]


def open_login(user: User) -> str:
    """Start one browser's login: store the hash of a fresh key and return the key, which the
    session cookie carries. A login lasts at most PERMANENT_SESSION_LIFETIME from here; rows
    of this user's logins that are older are removed."""
    key = secrets.token_urlsafe(32)
    db.session.execute(db.delete(LoginSession).where(
        LoginSession.user_id == user.id, LoginSession.created_at < utcnow() - _login_lifetime()))
    db.session.add(LoginSession(user_id=user.id, key_hash=login_key_hash(key)))
    db.session.commit()
    return key


def end_login(login_key: str | None) -> None:
    """Log one browser out server side: its cookie (and any copy of it) stops working."""
    if login_key:
        db.session.execute(db.delete(LoginSession).where(
            LoginSession.key_hash == login_key_hash(login_key)))
        db.session.commit()


# What makes a login cookie valid: its user's session token, and its login key's row, not older
# than the login lifetime. Bound by ``login_parameters``; also part of the page cache's one
# statement (app/access.py, ``peek_viewer``).
LOGIN_IS_OPEN = (User.session_token == bindparam("token"), LoginSession.key_hash == bindparam("key"),
                 LoginSession.created_at >= bindparam("since"))

# Built once (this runs on every request): working out a new statement's cache key costs more
# than running it.
_USER_BY_LOGIN = db.select(User).join(LoginSession, LoginSession.user_id == User.id).where(*LOGIN_IS_OPEN)


def login_parameters(session_token: str | None, login_key: str | None) -> dict | None:
    """The parameters of ``LOGIN_IS_OPEN`` for a cookie's session token and login key; None
    when the cookie lacks either (no login)."""
    if not session_token or not login_key:
        return None
    return {"token": session_token, "key": login_key_hash(login_key), "since": utcnow() - _login_lifetime()}


def load_user(session_token: str, login_key: str | None) -> User | None:
    """The user a session cookie names, if that login is still open on the server."""
    params = login_parameters(session_token, login_key)
    return db.session.scalar(_USER_BY_LOGIN, params) if params else None
