"""Step 3 — prototype notes: the step's context, its live region and the note routes.

The step's section (templates/reviews/steps/prototypes.html) has two blocks that routes render
alone for htmx: ``note_form`` (the new-note form, outside the live region so that a refresh
never eats a long Markdown draft) and ``notes_region`` (the notes: the live region "prototypes"
that every client re-fetches through ``reviews.region`` when the room hears ``refresh``).
Editing happens on the edit page of the note, for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import flash, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from app.access import access
from app.extensions import db
from app.forms import EmptyForm, attempt, form_status
from app.models import Step
from app.prototypes import bp
from app.prototypes.forms import note_form
from app.rendering import redirect_to, render, wants_fragment
from app.reviews import steps
from app.reviews.routes import render_workspace
from app.services import mapping, notes
from app.services.errors import Conflict, DomainError, Forbidden, NotFound
from app.services.markdown import render_markdown

T = TypeVar("T")
STEP_TEMPLATE = "reviews/steps/prototypes.html"
REGION_BLOCK = "notes_region"
# Sent with HX-Trigger after an htmx change, so this viewer's region reloads even without a
# live socket; everyone else hears the Socket.IO ``refresh``.
CHANGED_EVENT = "prototypes-changed"

steps.region(notes.REGION, Step.PROTOTYPES, REGION_BLOCK)  # GET /reviews/<id>/regions/prototypes


def _cited_note(review, note_id: int):
    try:
        return notes.get_note(review, note_id)
    except NotFound:
        return None


# A matrix cell can cite a prototype note as evidence (step 2 links to it).
mapping.register_evidence("note", mapping.EvidenceSource(
    label="Prototype note",
    resolve=_cited_note,
    options=lambda review: [(note_id, f"{candidate} — {title}")
                            for note_id, candidate, title in notes.note_titles(review)],
    url=lambda review, note_id: url_for("prototypes.show_note", review_id=review.id, note_id=note_id),
))
bp.add_app_template_filter(render_markdown, "markdown")
bp.add_app_template_global(notes.FIELD_LABELS, "NOTE_FIELD_LABELS")


@steps.provides(Step.PROTOTYPES)
def prototypes_context(review, viewer) -> dict:
    """What the step's section renders, for this viewer (their edit rights, a blank form)."""
    groups = notes.notes_by_candidate(review)
    return {
        "note_groups": groups,
        "editable": notes.editable_note_ids(viewer, review, [n for _, ns in groups for n in ns]),
        "note_form": note_form(review, viewer, formdata=None),
        "delete_form": EmptyForm(formdata=None),
    }


def step_url(review, note=None) -> str:
    anchor = f"note-{note.id}" if note else None
    return url_for("reviews.show_step", review_id=review.id, step=Step.PROTOTYPES.value,
                   _anchor=anchor)


def render_step(review, block: str, *, status: int = 200, **extra):
    """One block of the step for htmx; otherwise the whole workspace on this step."""
    if not wants_fragment():
        return render_workspace(review, Step.PROTOTYPES, block=None, status=status, **extra)
    context = prototypes_context(review, current_user) | extra
    return render(STEP_TEMPLATE, block, review=review, status=status, **context)


def show_error(form: FlaskForm, err: DomainError) -> None:
    field = getattr(form, err.field, None) if err.field else None
    if field is not None:
        field.errors = [*field.errors, err.message]
    else:
        form.form_errors.append(err.message)


def submit(form: FlaskForm, action: Callable[[], T]) -> tuple[T | None, int]:
    """attempt(), and a NotFound (a candidate of another review), Forbidden or Conflict from the
    service shown on the form too, with its own status, so nobody loses what they typed.
    Returns the action's result (or None) and the status to answer with."""
    try:
        result = attempt(form, action)
    except (NotFound, Forbidden, Conflict) as err:
        db.session.rollback()
        show_error(form, err)
        return None, err.status
    return result, form_status(form)


@bp.post("/reviews/<int:review_id>/prototypes/notes")
@access("review:member")
def create_note(review):
    form = note_form(review, current_user)
    note, status = submit(form, lambda: notes.add_note(current_user, review, form.draft()))
    if note is None:
        return render_step(review, "note_form", note_form=form, status=status)
    if not wants_fragment():
        flash(f"Note “{note.title}” added.", "success")
        return redirect_to(step_url(review, note))
    response = render_step(review, "note_form", status=201, added=note)
    response.headers["HX-Trigger"] = CHANGED_EVENT
    return response


@bp.get("/reviews/<int:review_id>/prototypes/notes/<int:note_id>")
@access("review:observer")
def show_note(review, note_id: int):
    """A note's own page: the stable address a matrix cell cites as evidence."""
    note = notes.get_note(review, note_id)
    return render("prototypes/note.html", review=review, note=note, step_url=step_url(review),
                  editable=notes.editable_note_ids(current_user, review, [note]),
                  delete_form=EmptyForm(formdata=None))


@bp.route("/reviews/<int:review_id>/prototypes/notes/<int:note_id>/edit",
          methods=["GET", "POST"])
@access("review:member")
def edit_note(review, note_id: int):
    note = notes.note_for_edit(current_user, review, note_id)
    form = note_form(review, current_user, note)
    saved, status = submit(form, lambda: notes.update_note(current_user, review, note_id,
                                                           form.draft()))
    if saved is not None:
        flash(f"Note “{saved.title}” saved.", "success")
        return redirect_to(step_url(review, saved))
    return render("prototypes/edit.html", "edit_form", review=review, note=note, form=form,
                  step_url=step_url(review, note), status=status)


@bp.post("/reviews/<int:review_id>/prototypes/notes/<int:note_id>/delete")
@access("review:member")
def delete_note(review, note_id: int):
    """The delete button lives in the live region: for htmx a refusal is shown inside the
    region (with its status) rather than replacing it with an error page."""
    try:
        confirmed = EmptyForm().validate_on_submit()
        if confirmed:
            notes.delete_note(current_user, review, note_id)
    except (NotFound, Forbidden, Conflict) as err:
        if not wants_fragment():
            raise
        db.session.rollback()
        return render_step(review, REGION_BLOCK, status=err.status, problem=err.message)
    if wants_fragment():
        return render_step(review, REGION_BLOCK)
    if confirmed:
        flash("Note deleted.", "success")
    return redirect_to(step_url(review))
