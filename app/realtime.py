"""Live updates: render a template block once and push it to a review's Socket.IO room.

Everything pushed here is viewer-independent HTML (no current_user, no CSRF token), rendered by
the same block the page renders; the browser swaps it in with htmx. Viewer-dependent parts are
not pushed: clients are told to re-fetch them through the ordinary htmx route instead.
"""

from __future__ import annotations

from contextlib import contextmanager

from flask import current_app, has_request_context
from jinja2_fragments.flask import render_block

from app.extensions import db, socketio
from app.models import Review, User


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
    db.session.execute(db.update(Review).where(Review.id == review_id)
                       .values(revision=Review.revision + 1))
    if commit:
        db.session.commit()
    return current_revision(review_id)


def current_revision(review_id: int) -> int:
    return db.session.scalar(db.select(Review.revision).where(Review.id == review_id)) or 0


def broadcast_fragment(review_id: int, html: str, rev: int | None = None) -> None:
    """Send HTML whose top-level elements carry ids; each client swaps them in by id. ``rev``:
    the revision the caller already counted and committed (see bump_revision)."""
    socketio.emit("fragment", {"html": html, "rev": bump_revision(review_id) if rev is None else rev},
                  to=room(review_id))


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


def push_presence(review) -> None:
    broadcast_fragment(review.id, render_presence(review))


def push_candidates(review) -> None:
    broadcast_fragment(review.id, render_candidates(review))


def push_step(review) -> None:
    """Move everyone in the room: the nav fragment, then each client loads the step section
    (which may be viewer-dependent) through its own htmx request."""
    socketio.emit("step", {"step": review.current_step, "nav": render_step_nav(review),
                           "rev": bump_revision(review.id)}, to=room(review.id))


def push_refresh(review_id: int, *regions: str) -> None:
    """Tell every client in the room that these regions changed. Each client re-fetches its own
    view of a region (``data-live-region`` + ``data-refresh-url``) through the ordinary htmx
    route, so viewer-dependent HTML (blind scores, role-specific buttons) is never broadcast."""
    socketio.emit("refresh", {"regions": list(regions), "rev": bump_revision(review_id)},
                  to=room(review_id))
