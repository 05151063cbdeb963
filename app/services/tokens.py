"""Personal API tokens: create (the token is shown once), revoke, and authenticate API calls.

A token is ``tro_`` followed by 43 URL-safe characters (256 random bits). Only its SHA-256 is
stored: a high-entropy secret needs no slow hash, and a database leak reveals no usable token.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from app.extensions import db
from app.models import ApiToken, User
from app.services import audit
from app.services.errors import Invalid, NotFound

TOKEN_PREFIX = "tro_"
MAX_ACTIVE_TOKENS = 20
# last_used_at is written at most this often, so that busy CI jobs do not write on every call
TOUCH_INTERVAL = timedelta(minutes=5)


def _now() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, newest first (revoked ones too, marked as such)."""
    return list(db.session.scalars(db.select(ApiToken).where(ApiToken.user_id == user.id)
                                   .order_by(ApiToken.id.desc())))


def create_token(user: User, name: str = "") -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the token itself (never stored, shown
    once). Raises Invalid for a long name or too many active tokens."""
    name = (name or "").strip() or "API token"
    if len(name) > 80:
        raise Invalid("Name the token in 80 characters or fewer.", field="name")
    active = [t for t in tokens_of(user) if t.active]
    if len(active) >= MAX_ACTIVE_TOKENS:
        raise Invalid(f"You already have {MAX_ACTIVE_TOKENS} active tokens; revoke one first.",
                      field="name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=token_hash(secret),
                     prefix=secret[:len(TOKEN_PREFIX) + 6])
    db.session.add(token)
    db.session.flush()
    audit.record("api_token.created", actor=user, token_id=token.id, name=name)
    db.session.commit()
    return token, secret


def revoke_token(user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens. Raises NotFound for someone else's or no token."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("You have no such API token.")
    if token.active:
        token.revoked_at = _now()
        audit.record("api_token.revoked", actor=user, token_id=token.id, name=token.name)
        db.session.commit()
    return token


def authenticate(secret: str | None) -> User | None:
    """The user an ``Authorization: Bearer`` token acts as, or None (unknown or revoked)."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = db.session.scalar(db.select(ApiToken).where(ApiToken.token_hash == token_hash(secret)))
    if token is None or not token.active:
        return None
    now = _now()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_INTERVAL:
        token.last_used_at = now
        db.session.commit()
    return token.user
