"""Step 2 — the weighted criteria matrix: criteria, blind scoring, reveal, rounds, exports."""

from __future__ import annotations

from flask_login import current_user

from app.access import access
from app.forms import EmptyForm, attempt, form_status
from app.mapping import bp
from app.mapping.forms import CriterionForm, MoveForm, ScoreForm
from app.models import Step
from app.rendering import attachment, render
from app.reviews import steps
from app.services import mapping

TEMPLATE = "reviews/steps/mapping.html"
EDIT_PREFIX = "criterion-edit"
steps.region("mapping", Step.MAPPING, "mapping_region")
steps.region("mapping-progress", Step.MAPPING, "progress_region")


@steps.provides(Step.MAPPING)
def mapping_context(review, viewer, **extra) -> dict:
    return {
        "view": mapping.matrix_view(review, viewer),
        "criterion_form": extra.get("criterion_form") or CriterionForm(),
        "evidence_options": steps.Lazy(lambda: mapping.evidence_options(review)),
        "evidence_url": lambda ref: mapping.evidence_url(review, ref),
        "cell_errors": extra.get("cell_errors", {}),
        "edit_criterion": extra.get("edit_criterion"),
        "edit_form": extra.get("edit_form"),
    }


def region(review, block: str = "mapping_region", *, status: int = 200, **extra):
    return render(TEMPLATE, block, review=review, status=status,
                  **mapping_context(review, current_user, **extra))


@bp.post("/reviews/<int:review_id>/criteria")
@access("review:facilitator")
def add_criterion(review):
    form = CriterionForm()
    added = attempt(form, lambda: mapping.add_criterion(current_user, review, form.name.data,
                                                        form.weight.data))
    return region(review, status=form_status(form), criterion_form=None if added else form)


@bp.get("/reviews/<int:review_id>/criteria/<int:criterion_id>/edit")
@access("review:facilitator")
def edit_criterion(review, criterion_id: int):
    criterion = mapping.get_criterion(review, criterion_id)
    form = CriterionForm(prefix=EDIT_PREFIX, name=criterion.name, weight=f"{criterion.weight:g}")
    return region(review, edit_criterion=criterion.id, edit_form=form)


@bp.post("/reviews/<int:review_id>/criteria/<int:criterion_id>")
@access("review:facilitator")
def update_criterion(review, criterion_id: int):
    form = CriterionForm(prefix=EDIT_PREFIX)
    done = attempt(form, lambda: mapping.update_criterion(current_user, review, criterion_id,
                                                          form.name.data, form.weight.data))
    if done:
        return region(review)
    return region(review, status=form_status(form), edit_criterion=criterion_id, edit_form=form)


@bp.post("/reviews/<int:review_id>/criteria/<int:criterion_id>/move")
@access("review:facilitator")
def move_criterion(review, criterion_id: int):
    form = MoveForm()
    attempt(form, lambda: mapping.move_criterion(current_user, review, criterion_id,
                                                 form.direction.data) or True)
    return region(review, status=form_status(form))


@bp.post("/reviews/<int:review_id>/criteria/<int:criterion_id>/remove")
@access("review:facilitator")
def remove_criterion(review, criterion_id: int):
    if EmptyForm().validate_on_submit():
        mapping.remove_criterion(current_user, review, criterion_id)
    return region(review)


@bp.post("/reviews/<int:review_id>/scores/<int:criterion_id>/<int:candidate_id>")
@access("review:member")
def score(review, criterion_id: int, candidate_id: int):
    """Save one cell of the viewer's own scores; answers with that cell re-rendered."""
    form = ScoreForm()
    attempt(form, lambda: mapping.score_cell(current_user, review, criterion_id, candidate_id,
                                             form.value.data, form.rationale.data,
                                             form.evidence.data or None))
    errors = {(criterion_id, candidate_id): [e for errs in form.errors.values() for e in errs]
              + list(form.form_errors)}
    context = mapping_context(review, current_user, cell_errors=errors)
    crit = next(c for c in context["view"].criteria if c.id == criterion_id)
    cand = next(c for c in context["view"].candidates if c.id == candidate_id)
    return render(TEMPLATE, "score_cell", review=review, crit=crit, cand=cand,
                  status=form_status(form), **context)


@bp.post("/reviews/<int:review_id>/mapping/reveal")
@access("review:facilitator")
def reveal(review):
    if EmptyForm().validate_on_submit():
        mapping.reveal(current_user, review)
    return region(review)


@bp.post("/reviews/<int:review_id>/mapping/rounds")
@access("review:facilitator")
def new_round(review):
    if EmptyForm().validate_on_submit():
        mapping.start_new_round(current_user, review)
    return region(review)


@bp.get("/reviews/<int:review_id>/mapping/export.csv")
@access("review:observer")
def export_csv(review):
    view = mapping.matrix_view(review, current_user)
    return attachment(mapping.export_csv(view), "text/csv", f"review-{review.id}-matrix.csv")


@bp.get("/reviews/<int:review_id>/mapping/export.md")
@access("review:observer")
def export_markdown(review):
    view = mapping.matrix_view(review, current_user)
    return attachment(mapping.export_markdown(review, view), "text/markdown",
                     f"review-{review.id}-matrix.md")
