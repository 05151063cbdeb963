"""The archive of signed-off decisions, each record's page and exports, "supersede", and the
user's notifications."""

from __future__ import annotations

from flask import flash, request, url_for
from flask_login import current_user

from app.access import access
from app.archive import bp
from app.archive.forms import ArchiveFilterForm, ReadForm
from app.archive.guard import frozen_ok
from app.forms import EmptyForm
from app.rendering import attachment, redirect_to, render, wants_fragment
from app.services import decisions, notifications
from app.services.markdown import render_markdown

bp.add_app_template_filter(render_markdown, "markdown")


@bp.app_context_processor
def notification_helpers() -> dict:
    def unread_notifications() -> int:
        return notifications.unread_count(current_user) if current_user.is_authenticated else 0

    return {"unread_notifications": unread_notifications}


@bp.get("/archive")
@access("login")
def index():
    form = ArchiveFilterForm(request.args)
    form.fill_choices(decisions.archive_choices(current_user))
    entries = decisions.archive_entries(current_user, form.filters())
    return render("archive/index.html", "results", form=form, entries=entries)


def _record_context(review) -> dict:
    decision = decisions.record_of(review)
    data = decisions.record(decision)
    return {
        "review": review, "decision": decision, "data": data,
        "verification": decisions.verify(decision) if decision.is_signed_off else None,
        "due": decisions.is_due(decision, review),
        "supersede_form": EmptyForm(formdata=None),
    }


@bp.get("/reviews/<int:review_id>/record")
@access("review:observer")
def record_page(review):
    """The decision record, print-ready (a live preview until it is signed off)."""
    return render("archive/record.html", **_record_context(review))


@bp.get("/reviews/<int:review_id>/record.md")
@access("review:observer")
def export_markdown(review):
    decision = decisions.record_of(review)
    body = decisions.export_markdown(decision, base_url=request.url_root)
    return attachment(body, "text/markdown", f"decision-{review.id}.md")


@bp.get("/reviews/<int:review_id>/record.json")
@access("review:observer")
def export_json(review):
    decision = decisions.record_of(review)
    return attachment(decisions.export_json(decision), "application/json",
                     f"decision-{review.id}.json")


@bp.post("/reviews/<int:review_id>/record/supersede")
@access("review:facilitator")
@frozen_ok
def supersede(review):
    if not EmptyForm().validate_on_submit():
        return redirect_to(url_for("archive.record_page", review_id=review.id))
    new = decisions.supersede(current_user, review)
    flash("A new review starts from this record: its candidates, constraints, criteria and "
          "weights. The record now shows it as superseded.", "success")
    return redirect_to(url_for("reviews.workspace", review_id=new.id))


@bp.get("/notifications")
@access("login")
def notifications_page():
    return render("notifications/index.html", "notification_list",
                  items=notifications.notifications_for(current_user), read_form=ReadForm())


@bp.post("/notifications/read")
@access("login")
def mark_read():
    """Mark one notification read (``notification_id``), or all of them without an id."""
    form = ReadForm()
    if form.validate_on_submit():
        raw = (form.notification_id.data or "").strip()
        if raw.isdigit():
            notifications.mark_read(current_user, int(raw))
        elif not raw:
            notifications.mark_all_read(current_user)
    if wants_fragment():
        return render("notifications/index.html", "notification_list",
                      items=notifications.notifications_for(current_user), read_form=ReadForm())
    return redirect_to(url_for("archive.notifications_page"))
