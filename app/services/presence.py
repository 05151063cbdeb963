"""Who is in a review's room right now.

Two stores with one interface: in memory for the embedded single process, Redis when
``REDIS_URL`` is set so that every server process sees the same room. Entries carry a
last-seen time refreshed by client heartbeats, so a crashed process's sockets fade out.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass

import redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

STALE_AFTER_S = 90


@dataclass(frozen=True)
class Entry:
    sid: str
    review_id: int
    user_id: int
    login_key: str


class MemoryPresence:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Entry, float]] = {}

    def join(self, entry: Entry) -> None:
        with self._lock:
            self._entries[entry.sid] = (entry, time.time())

    def touch(self, sid: str) -> None:
        with self._lock:
            if sid in self._entries:
                self._entries[sid] = (self._entries[sid][0], time.time())

    def leave(self, sid: str) -> Entry | None:
        with self._lock:
            found = self._entries.pop(sid, None)
        return found[0] if found else None

    def _fresh(self) -> list[Entry]:
        cutoff = time.time() - STALE_AFTER_S
        with self._lock:
            return [e for e, seen in self._entries.values() if seen >= cutoff]

    def user_ids(self, review_id: int) -> set[int]:
        return {e.user_id for e in self._fresh() if e.review_id == review_id}

    # What to close: every socket still registered, fresh or not. A client that stops sending
    # heartbeats (while engine.io pings keep it connected) must not escape a logout or removal.
    def _all(self) -> list[Entry]:
        with self._lock:
            return [e for e, _seen in self._entries.values()]

    def sids_for_login(self, login_key: str) -> list[Entry]:
        return [e for e in self._all() if e.login_key == login_key]

    def sids_for_user(self, user_id: int) -> list[Entry]:
        return [e for e in self._all() if e.user_id == user_id]


def _degrade(default):
    """Presence is a nicety: while Redis is unreachable, log and carry on with ``default``
    instead of failing the page or the vote that asked for it."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except RedisError as err:
                log.warning("presence store unavailable (%s): %s", method.__name__, err)
                return default() if callable(default) else default

        return wrapper

    return decorate


class RedisPresence:
    """The same interface over Redis: a hash sid → entry and one sorted set (by last seen)
    per review. Every method degrades to "nobody" while Redis is down."""

    PREFIX = "tradeoff:presence"

    def __init__(self, client) -> None:
        self.r = client

    def _room(self, review_id: int) -> str:
        return f"{self.PREFIX}:room:{review_id}"

    @staticmethod
    def _encode(e: Entry) -> str:
        return f"{e.review_id}|{e.user_id}|{e.login_key}"

    @staticmethod
    def _decode(sid: str, raw: bytes | str) -> Entry:
        raw = raw.decode() if isinstance(raw, bytes) else raw
        review_id, user_id, login_key = raw.split("|", 2)
        return Entry(sid, int(review_id), int(user_id), login_key)

    @_degrade(None)
    def join(self, entry: Entry) -> None:
        pipe = self.r.pipeline()
        pipe.hset(f"{self.PREFIX}:sids", entry.sid, self._encode(entry))
        pipe.zadd(self._room(entry.review_id), {entry.sid: time.time()})
        pipe.execute()

    @_degrade(None)
    def touch(self, sid: str) -> None:
        raw = self.r.hget(f"{self.PREFIX}:sids", sid)
        if raw:
            self.r.zadd(self._room(self._decode(sid, raw).review_id), {sid: time.time()})

    @_degrade(None)
    def leave(self, sid: str) -> Entry | None:
        raw = self.r.hget(f"{self.PREFIX}:sids", sid)
        if not raw:
            return None
        entry = self._decode(sid, raw)
        pipe = self.r.pipeline()
        pipe.hdel(f"{self.PREFIX}:sids", sid)
        pipe.zrem(self._room(entry.review_id), sid)
        pipe.execute()
        return entry

    def _entries(self, sids) -> list[Entry]:
        sids = [s.decode() if isinstance(s, bytes) else s for s in sids]
        if not sids:
            return []
        raws = self.r.hmget(f"{self.PREFIX}:sids", sids)
        return [self._decode(s, raw) for s, raw in zip(sids, raws, strict=True) if raw]

    @_degrade(set)
    def user_ids(self, review_id: int) -> set[int]:
        sids = self.r.zrangebyscore(self._room(review_id), time.time() - STALE_AFTER_S, "+inf")
        return {e.user_id for e in self._entries(sids)}

    def _all(self) -> list[Entry]:
        return [self._decode(k.decode() if isinstance(k, bytes) else k, v)
                for k, v in self.r.hgetall(f"{self.PREFIX}:sids").items()]

    @_degrade(list)
    def sids_for_login(self, login_key: str) -> list[Entry]:
        return [e for e in self._all() if e.login_key == login_key]

    @_degrade(list)
    def sids_for_user(self, user_id: int) -> list[Entry]:
        return [e for e in self._all() if e.user_id == user_id]


def create_store(redis_url: str | None):
    if not redis_url:
        return MemoryPresence()
    return RedisPresence(redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2))
