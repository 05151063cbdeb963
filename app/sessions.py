"""Flask's signed-cookie sessions, verifying a given cookie once per process; a session's
signed CSRF token, signed once per process.

Every request carries the session cookie, and checking it (an HMAC, base64, zlib and tagged
JSON) costs about as much as answering a page from the page cache. A browser sends the same
cookie until the session changes, so the outcome of a successful check is kept, keyed by the
secret key and the exact cookie: the same bytes under the same key verify the same way. Its age
is checked again on every request, as Flask does, so an expired cookie is refused whether it was
seen before or not. Only sessions of plain values (strings, numbers, booleans) are kept, each
request getting its own copy; a session holding a list or a dict (a waiting flash message) is
checked and decoded afresh each time, so no request can change what another one reads.

Signing a session's CSRF token costs as much again. Tokens do not expire by age here
(WTF_CSRF_TIME_LIMIT is None: a token is valid as long as its session), so the signed form of a
session's secret is kept too and handed out again (``csrf_token``).
"""

from __future__ import annotations

import time
from collections import OrderedDict

from flask import Flask, Request, current_app, g, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

PLAIN = (str, int, float, bool, type(None))


class Kept(OrderedDict):
    """At most ``limit`` entries, the oldest forgotten first (a forgotten one is only worked out
    again; no lock is needed)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, key, value) -> None:
        self[key] = value
        while len(self) > self.limit:
            try:
                self.popitem(last=False)
            except KeyError:
                break


class CookieSessions(SecureCookieSessionInterface):
    """``SecureCookieSessionInterface`` with the serializer built once per key set and a
    successful verification kept (see the module docstring)."""

    def __init__(self, limit: int = 8192) -> None:
        self.verified = Kept(limit)
        self._serializer: tuple[tuple, URLSafeTimedSerializer] | None = None

    def _signing(self, app: Flask) -> tuple[tuple, URLSafeTimedSerializer | None]:
        """The keys a cookie may be signed with (fallbacks and the secret key) and their
        serializer, built again when they change."""
        keys = (*(app.config.get("SECRET_KEY_FALLBACKS") or ()), app.secret_key)
        built = self._serializer
        if built is None or built[0] != keys:
            built = self._serializer = (keys, super().get_signing_serializer(app) if app.secret_key else None)
        return built

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        return self._signing(app)[1]

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        keys, serializer = self._signing(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        # Kept per key set: a cookie seen under a fallback key is verified again once that key
        # is dropped (and refused, as Flask would).
        key = (keys, value)
        found = self.verified.get(key)
        if found is not None:
            data, signed_at = found
            if time.time() - signed_at > max_age:
                return self.session_class()  # expired since it was first seen
            return self.session_class(data)
        try:
            data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if isinstance(data, dict) and all(isinstance(v, PLAIN) for v in data.values()):
            self.verified.keep(key, (dict(data), signed_at.timestamp()))
        return self.session_class(data)


SIGNED_TOKENS = "tradeoff.signed_csrf_tokens"


def csrf_token() -> str:
    """This session's signed CSRF token, as Flask-WTF's ``generate_csrf`` makes it, kept per
    session secret while tokens do not expire by age; a token is only ever one of its own
    session."""
    from flask_wtf.csrf import generate_csrf

    config = current_app.config
    field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    secret = session.get(field)
    if config.get("WTF_CSRF_TIME_LIMIT", 3600) is not None or not secret or field in g:
        return generate_csrf()
    signed = current_app.extensions.setdefault(SIGNED_TOKENS, Kept(4096))
    key = (config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key, secret)
    token = signed.get(key)
    if token is None:
        token = generate_csrf()
        signed.keep(key, token)
    else:
        setattr(g, field, token)
    return token
