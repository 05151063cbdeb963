"""Configuration, read from the environment only.

The embedded default needs no variables at all: SQLite in the instance folder, a secret key
generated on first run and kept in the instance folder, in-memory rate limits and an in-process
Socket.IO server. Scale-out sets ``DATABASE_URL``, ``REDIS_URL`` and ``SECRET_KEY``.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

MIB = 1024 * 1024


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def instance_secret_key(instance_path: str) -> str:
    """Return the key kept in the instance folder, creating it (mode 0600) on first run."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def normalise_database_url(url: str) -> str:
    """Accept the ``postgres://``/``postgresql://`` forms that hosts hand out; use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    """Settings shared by every mode; values come from the environment at app creation."""

    def __init__(self) -> None:
        self.SECRET_KEY = os.environ.get("SECRET_KEY")
        database_url = os.environ.get("DATABASE_URL")
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(database_url) if database_url else None
        self.REDIS_URL = os.environ.get("REDIS_URL") or None
        self.PRODUCTION = _flag("TRADEOFF_PRODUCTION") or os.environ.get("TRADEOFF_ENV") == "production"
        self.SESSION_COOKIE_SECURE = self.PRODUCTION or _flag("SESSION_COOKIE_SECURE")
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.SOCKETIO_ALLOWED_ORIGINS = [
            o.strip() for o in os.environ.get("SOCKETIO_ALLOWED_ORIGINS", "").split(",") if o.strip()
        ]
        self.LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour")
        self.INVITATION_TTL = timedelta(days=int(os.environ.get("INVITATION_TTL_DAYS", "7")))
        # Benchmark uploads: a request body above MAX_CONTENT_LENGTH is answered 413 before it is
        # read; .gz files may not decompress past the second limit; files above the sync limit
        # are parsed in the background. UPLOAD_FOLDER defaults to <instance>/uploads.
        self.BENCHMARK_MAX_UPLOAD_MB = int(os.environ.get("BENCHMARK_MAX_UPLOAD_MB", "512"))
        self.MAX_CONTENT_LENGTH = self.BENCHMARK_MAX_UPLOAD_MB * MIB
        self.BENCHMARK_MAX_DECOMPRESSED_BYTES = int(
            os.environ.get("BENCHMARK_MAX_DECOMPRESSED_MB", "2048")) * MIB
        self.BENCHMARK_SYNC_LIMIT_BYTES = int(os.environ.get("BENCHMARK_SYNC_LIMIT_MB", "8")) * MIB
        # A multipart body with more parts than this is answered 413 while it is parsed (the
        # largest real form, a benchmark upload, has 9 fields and at most 8 files).
        self.MAX_FORM_PARTS = int(os.environ.get("MAX_FORM_PARTS", "64"))
        self.UPLOAD_FOLDER = os.environ.get("UPLOAD_FOLDER") or None
        self.PROXY_COUNT = int(os.environ.get("TRADEOFF_PROXY_COUNT", "0"))
        # Socket.IO limits (app/socket_guard.py): message size, open connections per user and
        # process, and events per connection (rate per second, burst).
        self.SOCKETIO_MAX_MESSAGE_BYTES = int(os.environ.get("SOCKETIO_MAX_MESSAGE_BYTES", "65536"))
        self.SOCKETIO_MAX_CONNECTIONS_PER_USER = int(
            os.environ.get("SOCKETIO_MAX_CONNECTIONS_PER_USER", "16"))
        self.SOCKETIO_EVENT_RATE = float(os.environ.get("SOCKETIO_EVENT_RATE", "5"))
        self.SOCKETIO_EVENT_BURST = int(os.environ.get("SOCKETIO_EVENT_BURST", "20"))
        # Engine.IO heartbeat: a silent connection (and its threads) ends after interval+timeout.
        self.SOCKETIO_PING_INTERVAL = float(os.environ.get("SOCKETIO_PING_INTERVAL", "25"))
        self.SOCKETIO_PING_TIMEOUT = float(os.environ.get("SOCKETIO_PING_TIMEOUT", "20"))
        # Unset: app/realtime.py's default (0 under TESTING); app/rendering.py's default (32).
        for name in ("PRESENCE_PUSH_INTERVAL", "PAGE_CACHE_MB"):
            if os.environ.get(name):
                setattr(self, name, float(os.environ[name]))
        self.EXPOSE_NODE = _flag("TRADEOFF_EXPOSE_NODE")

    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SESSION_COOKIE_HTTPONLY = True
    # The cookie is set at login (permanent: PERMANENT_SESSION_LIFETIME, as the server-side
    # login row) and again only when the session changes, not re-signed on every response.
    SESSION_REFRESH_EACH_REQUEST = False
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = timedelta(days=14)
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None  # tied to the session, which expires on its own
    WTF_CSRF_HEADERS = ["X-CSRFToken"]
    RATELIMIT_HEADERS_ENABLED = True
    # Redis down must not take logins down: fall back to per-process memory meanwhile.
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    PASSWORD_HASH_PROFILE = "owasp"
    SOCKETIO_ASYNC_MODE = "threading"
    TESTING = False


class TestingConfig(Config):
    """In-memory SQLite, CSRF off (one test module turns it back on), cheap password hashing."""

    __test__ = False  # not a pytest test class

    def __init__(self, **overrides) -> None:
        super().__init__()
        self.TESTING = True
        self.SECRET_KEY = "test-secret-key-not-for-production"
        self.SQLALCHEMY_DATABASE_URI = "sqlite://"
        self.REDIS_URL = None
        self.WTF_CSRF_ENABLED = False
        self.PASSWORD_HASH_PROFILE = "test"
        self.LOGIN_RATE_LIMIT = "1000 per minute"
        self.SERVER_NAME = None
        for key, value in overrides.items():
            setattr(self, key, value)
