"""The one place that decides between a full page and an htmx fragment."""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps

from flask import Response, current_app, g, make_response, render_template, request
from jinja2_fragments.flask import render_block
from sqlalchemy import event, or_, select
from sqlalchemy import update as sa_update
from sqlalchemy.orm.util import identity_key

from app.sessions import csrf_token


def wants_fragment() -> bool:
    """An htmx request that is not a boosted navigation or a history restore."""
    hx = request.htmx
    return bool(hx) and not hx.boosted and not hx.history_restore_request


def render_body(template: str, block: str | None = None, **context) -> str:
    """``template`` whole, or only ``block`` for an htmx request; same context either way."""
    if block and wants_fragment():
        return render_block(template, block, **context)
    return render_template(template, **context)


def render(template: str, block: str | None = None, *, status: int = 200, **context) -> Response:
    """The response of ``render_body``."""
    return _html_response(render_body(template, block, **context), status)


def attachment(body: str, mimetype: str, filename: str) -> Response:
    """An export sent as a download (never rendered inline, never cached)."""
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect_to(url: str) -> Response:
    """A redirect that htmx follows as a full navigation (HX-Location keeps history right)."""
    if request.htmx:
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    response = make_response("", 303)
    response.headers["Location"] = url
    return response


# -- cached workspace pages ---------------------------------------------------------------------
#
# A step page, its htmx fragment and every live region are rendered from the review's data for
# one viewer. They are kept, rendered, in a bounded per-process LRU, keyed by everything the HTML
# depends on (see ``page_key``): the review's live revision and its ``updated_at`` stamp, which
# every write to the review's data moves in the same transaction (``_after_flush`` below, a
# session hook: ORM flushes and Core UPDATE/DELETE alike), the viewer, their role, the URL and
# the htmx mode. Both live in the database, so a write in another process is seen by the next
# request here. A hit is answered before the view runs (``cached_page``): one statement checks the
# login and the role as the view would and reads the key's values. Content that depends on the
# clock (a running countdown, a deadline, a parse in progress) is never kept. The CSRF token is not
# part of the kept HTML: it is rendered as a per-process placeholder and replaced with the
# request's own token on the way out.

PAGE_CACHE_VERSION = "1"  # bump when templates change meaning without a process restart
_CSRF_PLACEHOLDER = "csrfph" + secrets.token_hex(16)
_CSRF_PLACEHOLDER_BYTES = _CSRF_PLACEHOLDER.encode()


class PageCache:
    """A thread-safe LRU of rendered HTML (UTF-8, encoded once) bounded by its total size."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes, self.size = max_bytes, 0
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return body

    def put(self, key: str, body: bytes) -> None:
        if len(body) > self.max_bytes // 4:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= len(old)
            self._items[key] = body
            self.size += len(body)
            while self.size > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.size -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.size = 0

    def __len__(self) -> int:
        return len(self._items)


def page_cache() -> PageCache | None:
    """This process's cache of rendered pages, at most PAGE_CACHE_MB (config or environment,
    default 32) of HTML; None (no caching) when it is 0 or templates reload (development)."""
    app = current_app._get_current_object()
    found = app.extensions.get("tradeoff.page_cache", False)
    if found is False:
        mb = float(app.config.get("PAGE_CACHE_MB", os.environ.get("PAGE_CACHE_MB", 32)))
        found = PageCache(int(mb * 1024 * 1024)) if mb > 0 and not app.jinja_env.auto_reload else None
        app.extensions["tradeoff.page_cache"] = found
    return found


@dataclass(frozen=True)
class PageViewer:
    """Who asks for a review's page and the review's state: with the URL, the htmx mode and who
    is in the room, everything a workspace page depends on (read in one statement by
    ``access.peek_viewer``). ``stamp`` and ``revision`` move with every write to the review's
    data, its team's, its members' and their users' (see the review stamp below)."""

    user_id: int
    name: str
    email: str
    role: str
    review_id: int
    revision: int
    stamp: datetime | None
    current_step: str
    unread: int | None = None  # whole pages show it in the header; None for fragments


def page_key(viewer: PageViewer) -> str:
    """The page cache's key of this request's page for ``viewer``: the view (endpoint), the URL
    with its query, the htmx mode, the viewer and the review's state, who is in the room."""
    from app import realtime

    present = tuple(sorted(realtime.presence_store().user_ids(viewer.review_id) or ()))
    raw = repr((PAGE_CACHE_VERSION, request.endpoint, request.scheme, request.host, request.path,
                request.query_string, wants_fragment(), viewer, present))
    return hashlib.sha256(raw.encode()).hexdigest()


def _csrf_secret() -> str:
    from flask import session

    return str(session.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), ""))


def cacheable_request() -> bool:
    from flask import session

    return request.method == "GET" and "_flashes" not in session


_PAGE = "tradeoff_page"  # g: (key, viewer) of a page the view is to render and keep


def cached_page(view):
    """Serve a GET of a review's workspace page, fragment or live region from the page cache,
    before the view (under this decorator's ``@access``) loads anything: one statement checks
    the login and the viewer's role exactly as the view's own checks do (``peek_viewer``) and
    gives the key. On a miss the view runs as usual and ``serve_cached`` keeps what it renders
    under that key. The view's output must depend only on what the key holds (``page_key``);
    whatever depends on the clock is marked volatile and never kept."""
    from app.access import peek_viewer

    rule = view.access_rule

    @wraps(view)
    def wrapper(**kwargs):
        cache = page_cache() if cacheable_request() else None
        if cache is not None:
            viewer = peek_viewer(rule, kwargs.get("review_id"), unread=not wants_fragment())
            if viewer is not None:
                key = page_key(viewer)
                body = cache.get(key)
                if body is not None:
                    return _cached_response(key, body)
                setattr(g, _PAGE, (key, viewer))
        return view(**kwargs)

    return wrapper


def page_viewer() -> PageViewer | None:
    """The viewer ``cached_page`` found for this request's page, if the page is to be kept."""
    found = g.get(_PAGE)
    return found[1] if found else None


def serve_cached(produce: Callable[[], tuple[str, bool]]) -> Response:
    """The response of ``produce()`` -> (html, volatile), rendered now and, unless volatile, kept
    under the key ``cached_page`` worked out for it. Without one (the page cache off, a request
    that is not cacheable: not a GET, or a flash message waiting), it is only rendered."""
    found = g.pop(_PAGE, None)
    cache = page_cache()
    if found is None or cache is None:
        body, _volatile = produce()
        return _html_response(body)
    key = found[0]
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    saved = g.pop(field, None)
    setattr(g, field, _CSRF_PLACEHOLDER)
    try:
        body, volatile = produce()
    finally:
        g.pop(field, None)
        if saved is not None:
            setattr(g, field, saved)
    if volatile:
        return _html_response(body.replace(_CSRF_PLACEHOLDER, csrf_token()))
    encoded = body.encode()
    cache.put(key, encoded)
    return _cached_response(key, encoded)


def _cached_response(key: str, body: bytes) -> Response:
    """A kept page with this request's CSRF token, an ETag of the key and this session's CSRF
    secret (the browser's copy carries a token of the same session), and 304 for a GET whose
    If-None-Match names it."""
    token = csrf_token()  # first: it makes the session's CSRF secret if there is none yet
    etag = hashlib.sha256(f"{key}:{_csrf_secret()}".encode()).hexdigest()[:32]
    headers = [("Vary", "HX-Request, Cookie"), ("Cache-Control", "private, no-cache"), ("ETag", f'"{etag}"')]
    if request.if_none_match.contains(etag):
        return current_app.response_class(b"", 304, headers, mimetype="text/html")
    body = body.replace(_CSRF_PLACEHOLDER_BYTES, token.encode())
    return current_app.response_class(body, 200, headers, mimetype="text/html")


def _html_response(body: str | bytes, status: int = 200) -> Response:
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


# -- the review stamp: every write to a review's data moves reviews.updated_at ------------------

def _review_scoped(table) -> bool:
    return "review_id" in table.c


def _parents(table):
    """(fk column of ``table``, parent table) for parents whose rows belong to a review."""
    for fk in table.foreign_keys:
        parent = fk.column.table
        if parent.name != "reviews" and _review_scoped(parent):
            yield fk.parent, fk.column, parent


def _stamp(connection, where) -> None:
    from app.models import Review

    reviews = Review.__table__
    connection.execute(sa_update(reviews).where(where).values(updated_at=datetime.now(UTC)))


def _stamp_for_rows(connection, table, whereclause) -> None:
    """Stamp the reviews owning the rows of ``table`` matched by ``whereclause`` (None: all)."""
    from app.models import Review

    reviews = Review.__table__
    if table.name == "reviews":
        ids = select(table.c.id)
    elif _review_scoped(table):
        ids = select(table.c.review_id)
    elif table.name in ("teams", "memberships", "invitations"):
        column = table.c.id if table.name == "teams" else table.c.team_id
        inner = select(column)
        if whereclause is not None:
            inner = inner.where(whereclause)
        _stamp(connection, reviews.c.team_id.in_(inner))
        return
    elif table.name == "users":
        from app.models import Membership

        inner = select(table.c.id)
        if whereclause is not None:
            inner = inner.where(whereclause)
        members = Membership.__table__
        teams = select(members.c.team_id).where(members.c.user_id.in_(inner))
        _stamp(connection, reviews.c.team_id.in_(teams))
        return
    else:
        for column, target, parent in _parents(table):
            inner = select(column)
            if whereclause is not None:
                inner = inner.where(whereclause)
            _stamp(connection, reviews.c.id.in_(select(parent.c.review_id).where(target.in_(inner))))
        return
    if whereclause is not None:
        ids = ids.where(whereclause)
    _stamp(connection, reviews.c.id.in_(ids))


_UNSTAMPED = frozenset({"login_sessions", "api_tokens"})

# Reviews whose stamp this transaction has already moved, together with their live revision
# (realtime.bump_revision(commit=False) sets both in one UPDATE): later writes of the same
# transaction need no second stamp, since they become visible at the same commit as it. Forgotten
# at every commit and rollback.
_STAMPED = "tradeoff.stamped_reviews"
# Execution option naming the one review a Core UPDATE/DELETE writes to (see _before_core_write).
REVIEW_OPTION = "tradeoff_review"


def mark_stamped(session, review_id: int) -> None:
    """Record that this transaction has moved ``review_id``'s stamp (and revision)."""
    session.info.setdefault(_STAMPED, set()).add(review_id)


def _stamped(session) -> set[int]:
    return session.info.get(_STAMPED) or set()


def _forget_stamped(session, *_args) -> None:
    session.info.pop(_STAMPED, None)


_PARENT_CLASSES: dict = {}


def _loaded_review_id(session, parent, target, value) -> int | None:
    """The review id of the ``parent`` row whose key ``target`` is ``value``, if that row is in
    the session's identity map with its review_id loaded (no query); None otherwise."""
    if not target.primary_key or len(parent.primary_key.columns) != 1:
        return None
    cls = _PARENT_CLASSES.get(parent)
    if cls is None:
        from app.extensions import db

        cls = next((m.class_ for m in db.Model.registry.mappers if m.local_table is parent), False)
        _PARENT_CLASSES[parent] = cls
    if not cls:
        return None
    found = session.identity_map.get(identity_key(cls, value))
    return found.__dict__.get("review_id") if found is not None else None


def _after_flush(session, _context) -> None:
    """Stamp every review whose data this flush wrote (in the same transaction)."""
    review_ids: set[int] = set()
    team_ids: set[int] = set()
    user_ids: set[int] = set()
    parent_ids: dict[tuple, set] = {}
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(type(obj), "__table__", None)
        if table is None or table.name in _UNSTAMPED:
            continue
        if table.name == "reviews":
            if session.is_modified(obj) or obj in session.new or obj in session.deleted:
                review_ids.add(obj.id)
        elif _review_scoped(table):
            if obj.review_id is not None:
                review_ids.add(obj.review_id)
        elif table.name == "teams":
            team_ids.add(obj.id)
        elif table.name in ("memberships", "invitations"):
            team_ids.add(obj.team_id)
        elif table.name == "users":
            user_ids.add(obj.id)
        else:
            for column, target, parent in _parents(table):
                value = getattr(obj, column.key, None)
                if value is None:
                    continue
                known = _loaded_review_id(session, parent, target, value)
                if known is not None:
                    review_ids.add(known)
                else:
                    parent_ids.setdefault((parent, target), set()).add(value)
    review_ids -= _stamped(session)  # moved already in this transaction
    if not (review_ids or team_ids or user_ids or parent_ids):
        return
    from app.models import Membership, Review

    reviews, members = Review.__table__, Membership.__table__
    which = []  # one UPDATE per flush, whatever it wrote
    if review_ids:
        which.append(reviews.c.id.in_(review_ids))
    if team_ids:
        which.append(reviews.c.team_id.in_(team_ids))
    if user_ids:
        which.append(reviews.c.team_id.in_(select(members.c.team_id).where(members.c.user_id.in_(user_ids))))
    for (parent, target), ids in parent_ids.items():
        which.append(reviews.c.id.in_(select(parent.c.review_id).where(target.in_(ids))))
    _stamp(session.connection(), or_(*which))


def _before_core_write(state) -> None:
    """A Core or bulk ORM UPDATE/DELETE through the session bypasses the flush: stamp the
    reviews of the rows it matches first (same transaction). The live revision's own counter
    update needs no stamp (the revision is part of the key)."""
    if not (state.is_update or state.is_delete):
        return
    statement = state.statement
    table = getattr(statement, "table", None)
    if table is None or getattr(table, "name", None) in _UNSTAMPED:
        return
    if table.name == "reviews" and state.is_update:
        values = {getattr(k, "key", k) for k in (statement._values or {})}
        if values <= {"revision", "updated_at"}:  # the revision (and stamp) itself
            return
    review_id = state.execution_options.get(REVIEW_OPTION)
    if review_id is not None and review_id in _stamped(state.session):
        return  # the caller says which review it writes to, and that one is stamped already
    _stamp_for_rows(state.session.connection(), table, statement.whereclause)


def install_review_stamp(scoped_session) -> None:
    event.listen(scoped_session, "after_flush", _after_flush)
    event.listen(scoped_session, "do_orm_execute", _before_core_write)
    for name in ("after_commit", "after_rollback", "after_soft_rollback"):
        event.listen(scoped_session, name, _forget_stamped)


def _install() -> None:
    from app.extensions import db

    install_review_stamp(db.session)


_install()
