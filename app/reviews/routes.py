"""A review's workspace: the five steps, the workshop's current step, candidates."""

from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block

from app import realtime
from app.access import access
from app.forms import EmptyForm, attempt, form_status
from app.models import Step
from app.rendering import (
    cached_page,
    page_viewer,
    redirect_to,
    render,
    render_body,
    serve_cached,
    wants_fragment,
)
from app.reviews import bp, steps
from app.reviews.forms import CandidateForm, DetailsForm, ReviewForm, StepForm
from app.services import reviews
from app.services.templates import TEMPLATES

WORKSPACE = "reviews/workspace.html"


@bp.get("/reviews")
@access("login")
def index():
    return render("reviews/index.html", reviews=reviews.reviews_of(current_user))


@bp.route("/teams/<int:team_id>/reviews/new", methods=["GET", "POST"])
@access("team:facilitator")
def create(team):
    form = ReviewForm()
    review = attempt(form, lambda: reviews.create_review(
        current_user, team, title=form.title.data, question=form.question.data,
        template=form.template.data, extra_candidates=form.extra_candidates()))
    if review:
        flash("Review created. Start with the constraints.", "success")
        return redirect_to(url_for("reviews.workspace", review_id=review.id))
    return render("reviews/new.html", "form", form=form, team=team, templates=TEMPLATES,
                  status=form_status(form))


def workspace_context(review, step: Step, *, candidate_form=None, details_form=None, **extra) -> dict:
    """What templates/reviews/workspace.html renders for ``step``, as the current user sees it."""
    return steps.context_for(review, step, current_user) | extra | {
        "review": review, "step": step, "present": realtime.present_users(review.id),
        "candidate_form": candidate_form or CandidateForm(),
        "details_form": details_form or DetailsForm(obj=review),
        "step_form": StepForm(step=review.current_step),
    }


def render_workspace(review, step: Step, *, block: str | None = "step_section", status=200, **forms):
    return render(WORKSPACE, block, status=status, **workspace_context(review, step, **forms))


def cached_workspace(review, step: Step, *, block: str = "step_section"):
    """A GET of the workspace (whole page, step fragment or whole workspace block) through the
    page cache (app/rendering.py): the same HTML as render_workspace, rendered once per key."""
    viewer = page_viewer()
    unread = viewer.unread if viewer else None  # the count in the page's key
    if unread is None and not wants_fragment():  # the whole page shows it in the header
        from app.services import notifications
        unread = notifications.unread_count(current_user)

    def produce():
        context = workspace_context(review, step)
        body = render_body(WORKSPACE, block, **context, unread_notifications=lambda: unread)
        return body, steps.is_volatile(context)

    return serve_cached(produce)


@bp.get("/reviews/<int:review_id>")
@cached_page
@access("review:observer")
def workspace(review):
    return cached_workspace(review, review.step)


@bp.get("/reviews/<int:review_id>/steps/<step>")
@cached_page
@access("review:observer")
def show_step(review, step: str):
    try:
        viewed = Step(step)
    except ValueError:
        abort(404)
    return cached_workspace(review, viewed)


@bp.get("/reviews/<int:review_id>/live")
@cached_page
@access("review:observer")
def live(review):
    """The whole workspace for this viewer, showing ``?step=`` (default: the workshop's step):
    what a client re-fetches after it reconnects or notices it missed an update."""
    try:
        viewed = Step(request.args.get("step") or review.current_step)
    except ValueError:
        abort(404)
    return cached_workspace(review, viewed, block="workspace")


@bp.post("/reviews/<int:review_id>/step")
@access("review:facilitator")
def set_step(review):
    form = StepForm()
    attempt(form, lambda: reviews.set_step(current_user, review, form.step.data))
    return render_workspace(review, review.step, status=form_status(form))


@bp.post("/reviews/<int:review_id>/details")
@access("review:facilitator")
def update_details(review):
    form = DetailsForm()
    attempt(form, lambda: reviews.update_details(current_user, review, title=form.title.data,
                                                 question=form.question.data))
    return render_workspace(review, review.step, block="details", details_form=form,
                            status=form_status(form))


@bp.post("/reviews/<int:review_id>/candidates")
@access("review:facilitator")
def add_candidate(review):
    form = CandidateForm()
    added = attempt(form, lambda: reviews.add_candidate(current_user, review, form.name.data,
                                                        form.description.data or ""))
    return render_workspace(review, review.step, block="candidates_panel",
                            candidate_form=None if added else form, status=form_status(form))


@bp.post("/reviews/<int:review_id>/candidates/<int:candidate_id>/remove")
@access("review:facilitator")
def remove_candidate(review, candidate_id: int):
    if EmptyForm().validate_on_submit():
        reviews.remove_candidate(current_user, review, candidate_id)
    return render_workspace(review, review.step, block="candidates_panel")


steps.region(reviews.DETAILS_REGION, None, "details")


def workspace_region(review, region: str, block: str):
    """A live region of the workspace itself (the header), the same on every step."""
    if not wants_fragment():
        return redirect_to(url_for("reviews.workspace", review_id=review.id))

    def produce():
        return render_block(WORKSPACE, block, review=review, details_form=DetailsForm(obj=review)), False

    return serve_cached(produce)


@bp.get("/reviews/<int:review_id>/regions/<region>")
@cached_page
@access("review:observer")
def region(review, region: str):
    """One live region for this viewer (what a client re-fetches after a ``refresh`` push);
    a plain visit lands on the step page instead."""
    found = steps.find_region(region)
    if found is None:
        abort(404)
    step, block = found
    if step is None:
        return workspace_region(review, region, block)
    if not wants_fragment():
        return redirect_to(url_for("reviews.show_step", review_id=review.id, step=step.value))
    template = f"reviews/steps/{step.value}.html"

    def produce():
        context = steps.context_for(review, step, current_user)
        return render_block(template, block, review=review, step=step, **context), steps.is_volatile(context)

    return serve_cached(produce)
