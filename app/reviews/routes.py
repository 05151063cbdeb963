"""A review's workspace: the five steps, the workshop's current step, candidates."""

from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_login import current_user

from app import realtime
from app.access import access
from app.forms import EmptyForm, attempt, form_status
from app.models import Step
from app.rendering import redirect_to, render, wants_fragment
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


def render_workspace(review, step: Step, *, block: str | None = "step_section", status=200,
                     candidate_form=None, details_form=None, **extra):
    context = steps.context_for(review, step, current_user) | extra
    return render(
        WORKSPACE, block, review=review, step=step, status=status, **context,
        present=realtime.present_users(review.id),
        candidate_form=candidate_form or CandidateForm(),
        details_form=details_form or DetailsForm(obj=review),
        step_form=StepForm(step=review.current_step),
    )


@bp.get("/reviews/<int:review_id>")
@access("review:observer")
def workspace(review):
    return render_workspace(review, review.step)


@bp.get("/reviews/<int:review_id>/steps/<step>")
@access("review:observer")
def show_step(review, step: str):
    try:
        viewed = Step(step)
    except ValueError:
        abort(404)
    return render_workspace(review, viewed)


@bp.get("/reviews/<int:review_id>/live")
@access("review:observer")
def live(review):
    """The whole workspace for this viewer, showing ``?step=`` (default: the workshop's step):
    what a client re-fetches after it reconnects or notices it missed an update."""
    try:
        viewed = Step(request.args.get("step") or review.current_step)
    except ValueError:
        abort(404)
    return render_workspace(review, viewed, block="workspace")


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


@bp.get("/reviews/<int:review_id>/regions/<region>")
@access("review:observer")
def region(review, region: str):
    """One live region for this viewer (what a client re-fetches after a ``refresh`` push);
    a plain visit lands on the step page instead."""
    found = steps.find_region(region)
    if found is None:
        abort(404)
    step, block = found
    if not wants_fragment():
        return redirect_to(url_for("reviews.show_step", review_id=review.id, step=step.value))
    context = steps.context_for(review, step, current_user)
    return render(f"reviews/steps/{step.value}.html", block, review=review, step=step, **context)
