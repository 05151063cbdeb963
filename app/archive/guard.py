"""Nothing changes a signed-off review: every state-changing request on a frozen review answers
409, for every role allowed to make it, before any form is read.

The services refuse the same changes (``ensure_editable`` raises Conflict); this guard makes
the answer uniform — an invalid form on a frozen review is a 409, not a 422 — and covers any
route added later. It runs after CSRF and only for callers who pass the view's own access rule,
so non-members still get 404 and lower roles 403. A view that legitimately acts on a frozen
review (superseding it) is marked with :func:`frozen_ok`.
"""

from __future__ import annotations

from flask import abort, current_app, request
from flask_login import current_user

from app.access import membership_for
from app.archive import bp
from app.extensions import db
from app.models import Review

FROZEN_MESSAGE = "This review is signed off; its record is frozen and cannot change."
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def frozen_ok(view):
    """Mark a view that may act on a signed-off review (the access rule still applies)."""
    view.frozen_ok = True
    return view


@bp.before_app_request
def refuse_changes_to_frozen_reviews():
    if request.method in SAFE_METHODS or "review_id" not in (request.view_args or {}):
        return None
    view = current_app.view_functions.get(request.endpoint)
    rule = getattr(view, "access_rule", None)
    if rule is None or rule.scope != "review" or getattr(view, "frozen_ok", False):
        return None
    if not current_user.is_authenticated:
        return None
    review = db.session.get(Review, request.view_args["review_id"])
    if review is None or not review.is_frozen:
        return None
    found = membership_for(review.team_id, current_user)
    if found is None or not rule.allows(found.role_enum):
        return None  # the view's own check answers 404 or 403
    abort(409, FROZEN_MESSAGE)
