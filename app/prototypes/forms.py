"""The prototype note form: it parses types; app/services/notes.py decides what is allowed."""

from __future__ import annotations

from wtforms import FloatField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from app.forms import PrefixedForm
from app.models import PrototypeNote, Review, User
from app.models.notes import DEFAULT_BUDGET_HOURS
from app.services import notes
from app.services.errors import Invalid
from app.services.notes import MAX_BODY, MAX_HOURS, MAX_TITLE, NoteDraft


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class HoursField(FloatField):
    """Hours as a number; accepts a decimal comma ("2,5") and shows 16 rather than 16.0."""

    def process_formdata(self, valuelist):
        if valuelist:
            valuelist = [str(valuelist[0]).strip().replace(",", ".")]
        super().process_formdata(valuelist)

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return f"{self.data:g}" if self.data is not None else ""


def _hours(label: str, default: float) -> HoursField:
    return HoursField(
        label, default=default,
        invalid_value_message="Enter hours as a number, e.g. 16 or 2.5.",
        validators=[
            InputRequired("Enter the hours (0 if none yet)."),
            NumberRange(0, MAX_HOURS, f"Hours must be between 0 and {MAX_HOURS:g}."),
        ],
    )


def _lines(text: str | None) -> list[str]:
    return (text or "").splitlines()


class NoteForm(PrefixedForm):
    prefix_name = "note"
    # Choices are not validated here: an id that is not in the review is the service's
    # NotFound (404), not a form error.
    candidate_id = SelectField("Candidate", coerce=int, validate_choice=False,
                               validators=[InputRequired("Choose a candidate.")],
                               invalid_value_message="Choose one of the candidates.")
    title = StringField("Title", validators=[InputRequired("Give the note a title."),
                                             Length(max=MAX_TITLE)])
    author_ids = CheckboxList("Authors", coerce=int, validate_choice=False,
                              invalid_value_message="Choose authors from the team.",
                              description="Who built the spike. Nobody ticked: you.")
    budget_hours = _hours("Time budget (hours)", DEFAULT_BUDGET_HOURS)
    spent_hours = _hours("Hours spent", 0.0)
    friction = TextAreaField("Friction points", description="One per line.")
    pros = TextAreaField("Pros", description="One per line.")
    cons = TextAreaField("Cons", description="One per line.")
    body = TextAreaField(
        "Notes (Markdown)",
        validators=[Length(max=MAX_BODY, message=f"Notes are limited to {MAX_BODY:,} "
                                                 "characters. Link to longer write-ups instead.")],
        description="Headings, lists, code, tables and links. HTML is shown as text.",
    )
    links = TextAreaField("Links", description="One http(s) address per line: repository, "
                                               "demo, write-up.")

    def validate_links(self, field) -> None:
        """The service's own link check, run here too so that every error shows at once."""
        try:
            notes.clean_links(_lines(field.data))
        except Invalid as err:
            raise ValidationError(err.message) from None

    def draft(self) -> NoteDraft:
        return NoteDraft(
            candidate_id=self.candidate_id.data, title=self.title.data or "",
            author_ids=list(self.author_ids.data or []), budget_hours=self.budget_hours.data,
            spent_hours=self.spent_hours.data, friction=_lines(self.friction.data),
            pros=_lines(self.pros.data), cons=_lines(self.cons.data),
            body=self.body.data or "", links=_lines(self.links.data),
        )


def _note_data(note: PrototypeNote) -> dict:
    return {
        "candidate_id": note.candidate_id, "title": note.title,
        "author_ids": [a.id for a in note.authors], "budget_hours": note.budget_hours,
        "spent_hours": note.spent_hours, "friction": "\n".join(note.friction),
        "pros": "\n".join(note.pros), "cons": "\n".join(note.cons), "body": note.body,
        "links": "\n".join(note.links),
    }


def note_form(review: Review, viewer: User, note: PrototypeNote | None = None,
              **kwargs) -> NoteForm:
    """The form for a new note (the viewer as author) or for editing ``note``, with the
    review's candidates and team as choices. Pass ``formdata=None`` for a blank form."""
    data = _note_data(note) if note else {"author_ids": [viewer.id]}
    form = NoteForm(data=data, **kwargs)
    form.candidate_id.choices = [
        (c.id, c.name + (" (disqualified)" if getattr(c, "disqualified_reason", None) else ""))
        for c in review.candidates
    ]
    form.author_ids.choices = [(u.id, u.name) for u in notes.team_people(review)]
    return form
