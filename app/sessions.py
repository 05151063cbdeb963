"""Flask's signed-cookie sessions, verifying a given cookie once per process.

Every request carries the session cookie, and checking it (an HMAC, base64, zlib and tagged
JSON) costs about as much as answering a page from the page cache. A browser sends the same
cookie until the session changes, so the outcome of a successful check is kept, keyed by the
secret key and the exact cookie: the same bytes under the same key verify the same way. Its age
is checked again on every request, as Flask does, so an expired cookie is refused whether it was
seen before or not. Only sessions of plain values (strings, numbers, booleans) are kept, each
request getting its own copy; a session holding a list or a dict (a waiting flash message) is
checked and decoded afresh each time, so no request can change what another one reads.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

PLAIN = (str, int, float, bool, type(None))


class VerifiedCookies(OrderedDict):
    """At most ``limit`` verified cookies, the oldest forgotten first (a forgotten one is only
    verified again; no lock is needed)."""

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
        self.verified = VerifiedCookies(limit)
        self._serializer: tuple[tuple, URLSafeTimedSerializer] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (*(app.config.get("SECRET_KEY_FALLBACKS") or ()), app.secret_key)
        if not app.secret_key:
            return None
        built = self._serializer
        if built is None or built[0] != keys:
            built = self._serializer = (keys, super().get_signing_serializer(app))
        return built[1]

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        key = (app.secret_key, value)
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
