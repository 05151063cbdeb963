"""Live updates: render a template block once and push it to a review's Socket.IO room.

Everything pushed here is viewer-independent HTML (no current_user, no CSRF token), rendered by
the same block the page renders; the browser swaps it in with htmx. Viewer-dependent parts are
not pushed: clients are told to re-fetch them through the ordinary htmx route instead.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import Flask, current_app, g, has_app_context, has_request_context
from jinja2_fragments.flask import render_block
from redis.exceptions import RedisError
from sqlalchemy import bindparam, update

from app.extensions import db, socketio
from app.models import Review, User
from app.rendering import mark_stamped
from app.services.presence import RedisPresence

log = logging.getLogger(__name__)

# At most one presence push per room per this many seconds and process (see PresencePushes).
PRESENCE_PUSH_INTERVAL_S = 0.25


def room(review_id: int) -> str:
    return f"review:{review_id}"


def presence_store():
    return current_app.extensions["tradeoff.presence"]


@contextmanager
def render_context():
    """Templates use url_for; outside a request (scheduler, CLI) give them a request context."""
    if has_request_context():
        yield
    else:
        with current_app.test_request_context("/"):
            yield


def render_fragment(template: str, block: str, **context) -> str:
    with render_context():
        return render_block(template, block, **context)


def bump_revision(review_id: int, *, commit: bool = True) -> int:
    """Count one more live update of the review and return the new revision.

    Committed on its own, right after the change it announces: clients compare it with the
    revision their heartbeat reports, so a broadcast they missed (reconnect, Redis outage)
    makes them re-fetch instead of silently showing stale state. ``commit=False`` counts it in
    the caller's transaction instead, committed together with the change (one commit, not two,
    on the hot path of a ballot); the caller then passes the revision to the broadcast."""
    # A plain UPDATE … RETURNING (_BUMP): one statement, no ORM bookkeeping. It moves the
    # review's page-cache stamp too, so the rest of the transaction's writes need no stamp of
    # their own (app/rendering.py, mark_stamped).
    rev = db.session.execute(_BUMP, {"review_id": review_id, "now": datetime.now(UTC)}).scalar()
    if commit:
        db.session.commit()
    elif rev is not None:
        mark_stamped(db.session(), review_id)
    return rev or 0


_BUMP = (update(Review.__table__).where(Review.__table__.c.id == bindparam("review_id"))
         .values(revision=Review.__table__.c.revision + 1, updated_at=bindparam("now"))
         .returning(Review.__table__.c.revision))


def _emit(event: str, data: dict, review_id: int) -> None:
    held = g.get("tradeoff_held_broadcasts") if has_app_context() else None
    if held is not None:
        held.append((event, data, room(review_id)))
    else:
        socketio.emit(event, data, to=room(review_id))


@contextmanager
def broadcasts_after_answer():
    """Hold the broadcasts made inside the block and send them, in order, when it ends (also
    when it raises: what was committed is announced). A view wraps its answer in it so that
    rendering the answer happens before the fan-out instead of during it: in threading mode
    every socket of the room has a writer thread, and a request thread rendering while they
    write slows all of them down (they wait for the GIL after every send)."""
    if g.get("tradeoff_held_broadcasts") is not None:  # an outer block sends them
        yield
        return
    held: list[tuple[str, dict, str]] = []
    g.tradeoff_held_broadcasts = held
    try:
        yield
    finally:
        g.tradeoff_held_broadcasts = None
        for event, data, to in held:
            socketio.emit(event, data, to=to)


def broadcast_fragment(review_id: int, html: str, rev: int | None = None) -> None:
    """Send HTML whose top-level elements carry ids; each client swaps them in by id. ``rev``:
    the revision the caller already counted and committed (see bump_revision)."""
    _emit("fragment", {"html": html, "rev": bump_revision(review_id) if rev is None else rev}, review_id)


def present_users(review_id: int):
    ids = presence_store().user_ids(review_id)
    if not ids:
        return []
    return list(db.session.scalars(db.select(User).where(User.id.in_(ids)).order_by(User.name)))


def render_presence(review) -> str:
    return render_fragment("reviews/workspace.html", "presence", review=review,
                           present=present_users(review.id))


def render_step_nav(review) -> str:
    return render_fragment("reviews/workspace.html", "step_nav", review=review)


def render_candidates(review) -> str:
    return render_fragment("reviews/workspace.html", "candidates", review=review)


def presence_changed(review_id: int) -> None:
    """Someone joined or left the room: push the presence list to it, now or, when the room had
    a push less than PRESENCE_PUSH_INTERVAL_S ago, once at the end of that interval."""
    if presence_pushes().request(review_id):
        push_presence_now(review_id)


def push_presence_now(review_id: int) -> None:
    """Count first, render after: the list sent is never older than its revision, so when
    pushes from several processes arrive out of order, the one clients keep (the highest
    revision) shows the room as it was at or after the last change."""
    rev = bump_revision(review_id)
    review = db.session.get(Review, review_id)
    if review is not None:
        broadcast_fragment(review_id, render_presence(review), rev=rev)


class PresencePushes:
    """Coalesces presence pushes per room. Every join pushed the whole list to the whole room,
    so N joins sent N²/2 messages: with hundreds of sockets joining, their send queues filled
    and sockets were dropped.

    A change in a room that had no push in the last ``interval`` seconds is pushed at once by
    the caller (the usual case: one person arrives). A change inside the interval schedules
    one trailing push at its end, done by this object's thread; further changes before it
    runs join it. The trailing push reads the room only after it has been taken off the
    schedule, so it always includes every change that found it scheduled: the last push
    shows the final state. ``interval`` 0 pushes every change at once.

    With ``slots`` (Redis, several processes) the interval holds across processes: a push
    first takes the room's slot for ``interval`` seconds. When another process holds it, the
    push waits for the slot's end, and is dropped then if the holder took the slot after the
    change it was for (that push read the room later, so it includes the change). Revisions
    order what arrives (see push_presence_now)."""

    def __init__(self, app: Flask, interval: float, push=None, slots=None) -> None:
        self.app, self.interval, self.slots = app, interval, slots
        self._push = push or push_presence_now
        self._cond = threading.Condition()
        self._last: dict[int, float] = {}  # review id -> when its latest push here started
        self._due: dict[int, tuple[float, float]] = {}  # review id -> (runs at, earliest change)
        self._thread: threading.Thread | None = None

    def _schedule(self, review_id: int, when: float, since: float) -> None:
        """Under the lock."""
        if review_id in self._due:
            when, since = max(when, self._due[review_id][0]), min(since, self._due[review_id][1])
        self._due[review_id] = (when, since)
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="presence-pushes", daemon=True)
            self._thread.start()
        self._cond.notify()

    def _take(self, review_id: int) -> float:
        """0 when this process may push now, else the seconds the holder of the slot still has."""
        if self.slots is None or self.interval <= 0:
            return 0.0
        return self.slots.take(review_id, self.interval)

    def request(self, review_id: int) -> bool:
        """True: push now (the caller does). False: a trailing push is scheduled."""
        now = time.monotonic()
        with self._cond:
            if review_id in self._due:
                return False
            last = self._last.get(review_id)
            if last is not None and now - last < self.interval:
                self._schedule(review_id, last + self.interval, now)
                return False
        left = self._take(review_id)
        with self._cond:
            if left > 0:
                self._schedule(review_id, now + left, now)
                return False
            if len(self._last) > 1024:
                self._last = {k: t for k, t in self._last.items() if now - t < self.interval}
            self._last[review_id] = now
            return True

    def pending(self) -> int:
        with self._cond:
            return len(self._due)

    def _next(self) -> tuple[int, float]:
        with self._cond:
            while True:
                if not self._due:
                    self._cond.wait()
                    continue
                review_id, (when, since) = min(self._due.items(), key=lambda item: item[1][0])
                wait = when - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                del self._due[review_id]  # before reading the room: later changes schedule anew
                return review_id, since

    def _run(self) -> None:
        while True:
            review_id, since = self._next()
            left = self._take(review_id)
            now = time.monotonic()
            if left > 0:
                if now - (self.interval - left) > since:
                    continue  # the holder's push started after the change: it includes it
                with self._cond:
                    self._schedule(review_id, now + left, since)
                continue
            with self._cond:
                self._last[review_id] = now
            try:
                with self.app.app_context():
                    self._push(review_id)
            except Exception:  # noqa: BLE001 - a failed push must not stop later ones
                log.exception("presence push for review %s failed", review_id)


class RedisSlots:
    """The rooms' push slots in Redis (``SET NX PX``): one presence push per room and interval
    whichever process makes it. While Redis is unreachable every process may push."""

    PREFIX = "tradeoff:presence:push"

    def __init__(self, client) -> None:
        self.r = client

    def take(self, review_id: int, interval: float) -> float:
        key, ms = f"{self.PREFIX}:{review_id}", max(int(interval * 1000), 1)
        try:
            if self.r.set(key, "1", nx=True, px=ms):
                return 0.0
            left = self.r.pttl(key)
        except RedisError as err:
            log.warning("presence push slots unavailable: %s", err)
            return 0.0
        return left / 1000 if left > 0 else 0.0


_pushes_lock = threading.Lock()


def presence_pushes() -> PresencePushes:
    """This app's coalescer. ``PRESENCE_PUSH_INTERVAL`` overrides the interval; under TESTING it
    defaults to 0 (every change pushed at once, in the caller's thread), since the in-process
    test database is one connection that a second thread must not use."""
    app = current_app._get_current_object()
    found = app.extensions.get("tradeoff.presence_pushes")
    if found is None:
        default = 0.0 if app.testing else PRESENCE_PUSH_INTERVAL_S
        store = presence_store()
        slots = RedisSlots(store.r) if isinstance(store, RedisPresence) else None
        with _pushes_lock:
            found = app.extensions.setdefault("tradeoff.presence_pushes", PresencePushes(
                app, float(app.config.get("PRESENCE_PUSH_INTERVAL", default)), slots=slots))
    return found


def push_candidates(review) -> None:
    broadcast_fragment(review.id, render_candidates(review))


def push_step(review) -> None:
    """Move everyone in the room: the nav fragment, then each client loads the step section
    (which may be viewer-dependent) through its own htmx request."""
    _emit("step", {"step": review.current_step, "nav": render_step_nav(review),
                   "rev": bump_revision(review.id)}, review.id)


# In a refresh's region list: every live region on the page (static/js/app.js).
ALL_REGIONS = "*"


def push_refresh(review_id: int, *regions: str) -> None:
    """Tell every client in the room that these regions changed. Each client re-fetches its own
    view of a region (``data-live-region`` + ``data-refresh-url``) through the ordinary htmx
    route, so viewer-dependent HTML (blind scores, role-specific buttons) is never broadcast.
    :data:`ALL_REGIONS` names every region a page shows (a change that freezes the review)."""
    _emit("refresh", {"regions": list(regions), "rev": bump_revision(review_id)}, review_id)
