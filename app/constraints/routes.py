"""Step 1 — constraints, the decision checklist, members' expertise and disqualification."""

from __future__ import annotations

from flask_login import current_user

from app.access import access
from app.constraints import bp
from app.constraints.forms import (
    AnswerForm,
    ConstraintForm,
    DisqualifyForm,
    QuestionForm,
    expertise_form,
    expertise_levels,
)
from app.forms import EmptyForm, attempt, form_status
from app.models import Step
from app.rendering import render
from app.reviews import steps
from app.services import constraints, mapping

TEMPLATE = "reviews/steps/constraints.html"
EDIT_PREFIX = "constraint-edit"
for _name, _block in (("constraints", "constraints_region"), ("checklist", "checklist_region"),
                      ("expertise", "expertise_region"), ("disqualify", "disqualify_region")):
    steps.region(_name, Step.CONSTRAINTS, _block)


@steps.provides(Step.CONSTRAINTS)
def constraints_context(review, viewer, **forms) -> dict:
    expertise = constraints.expertise_of(review)
    own = {subject: level for (uid, subject), level in expertise.items() if uid == viewer.id}
    question_form = forms.get("question_form") or QuestionForm()
    question_form.suggests.choices = [(c.name, c.name) for c in review.candidates]
    rows, answers = constraints.constraints_of(review), constraints.answers(review)  # read once
    disqualify_form = forms.get("disqualify_form") or DisqualifyForm()
    disqualify_form.constraint_id.choices = [("", "—")] + [
        (str(c.id), f"{c.kind_enum.spec.label} ({c.priority})") for c in rows if c.knockout]
    return {
        "constraints": rows,
        "constraint_form": forms.get("constraint_form") or ConstraintForm(),
        "questions": constraints.questions(review),
        "answers": answers,
        "suggestions": constraints.suggestions(review, answers),
        "question_form": question_form,
        "subjects": constraints.subjects(review),
        "expertise": expertise,
        "expertise_form": forms.get("expertise_form") or expertise_form(constraints.subjects(review), own),
        "team": mapping.voters(review),
        "disqualify_form": disqualify_form,
        "edit_id": forms.get("edit_id"),
        "edit_form": forms.get("edit_form"),
    }


def region(review, block: str, *, status: int = 200, **forms):
    """Render one region of the step for this viewer (the page renders the same block)."""
    return render(TEMPLATE, block, review=review, status=status,
                  **constraints_context(review, current_user, **forms))


@bp.post("/reviews/<int:review_id>/constraints")
@access("review:member")
def add(review):
    form = ConstraintForm()
    added = attempt(form, lambda: constraints.add_constraint(current_user, review,
                                                             **form.fields_for_service()))
    return region(review, "constraints_region", status=form_status(form),
                  constraint_form=None if added else form)


@bp.get("/reviews/<int:review_id>/constraints/<int:constraint_id>/edit")
@access("review:member")
def edit(review, constraint_id: int):
    constraint = constraints.get_constraint(review, constraint_id)
    options = constraint.details.get("options", [])
    form = ConstraintForm(prefix=EDIT_PREFIX, kind=constraint.kind, priority=constraint.priority,
                          knockout=constraint.knockout, target=_target_text(constraint.target),
                          relationships=constraint.details.get("relationships", ""),
                          auth=options, deployment=options, description=constraint.description)
    return region(review, "constraints_region", edit_id=constraint.id, edit_form=form)


def _target_text(value) -> str:
    return "" if value is None else f"{value:g}"


@bp.post("/reviews/<int:review_id>/constraints/<int:constraint_id>")
@access("review:member")
def update(review, constraint_id: int):
    form = ConstraintForm(prefix=EDIT_PREFIX)
    done = attempt(form, lambda: constraints.update_constraint(
        current_user, review, constraint_id, **form.fields_for_service()))
    if done:
        return region(review, "constraints_region")
    return region(review, "constraints_region", status=form_status(form), edit_id=constraint_id,
                  edit_form=form)


@bp.post("/reviews/<int:review_id>/constraints/<int:constraint_id>/remove")
@access("review:member")
def remove(review, constraint_id: int):
    if EmptyForm().validate_on_submit():
        constraints.remove_constraint(current_user, review, constraint_id)
    return region(review, "constraints_region")


@bp.post("/reviews/<int:review_id>/checklist/<key>")
@access("review:member")
def answer(review, key: str):
    form = AnswerForm()
    attempt(form, lambda: constraints.answer_question(current_user, review, key, form.value()))
    return region(review, "checklist_region", status=form_status(form))


@bp.post("/reviews/<int:review_id>/checklist")
@access("review:facilitator")
def add_question(review):
    form = QuestionForm()
    form.suggests.choices = [(c.name, c.name) for c in review.candidates]
    added = attempt(form, lambda: constraints.add_question(
        current_user, review, form.text.data, form.suggests.data, form.reason.data) or True)
    return region(review, "checklist_region", status=form_status(form),
                  question_form=None if added else form)


@bp.post("/reviews/<int:review_id>/checklist/<key>/remove")
@access("review:facilitator")
def remove_question(review, key: str):
    if EmptyForm().validate_on_submit():
        constraints.remove_question(current_user, review, key)
    return region(review, "checklist_region")


@bp.post("/reviews/<int:review_id>/expertise")
@access("review:member")
def rate_expertise(review):
    form = expertise_form(constraints.subjects(review), {})
    attempt(form, lambda: constraints.rate_expertise(current_user, review, expertise_levels(form)) or True)
    return region(review, "expertise_region", status=form_status(form), expertise_form=form)


@bp.post("/reviews/<int:review_id>/disqualify")
@access("review:facilitator")
def disqualify(review):
    form = DisqualifyForm()
    form.constraint_id.choices = [("", "—")]
    done = attempt(form, lambda: constraints.disqualify(
        current_user, review, form.candidate_id.data, form.reason.data,
        int(form.constraint_id.data) if (form.constraint_id.data or "").isdigit() else None))
    return region(review, "disqualify_region", status=form_status(form),
                  disqualify_form=None if done else form)


@bp.post("/reviews/<int:review_id>/candidates/<int:candidate_id>/requalify")
@access("review:facilitator")
def requalify(review, candidate_id: int):
    if EmptyForm().validate_on_submit():
        constraints.requalify(current_user, review, candidate_id)
    return region(review, "disqualify_region")
