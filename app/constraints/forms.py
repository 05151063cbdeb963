from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.forms import IdField, PrefixedForm
from app.models import ConstraintKind, Priority
from app.models.constraints import AUTH_OPTIONS, DEPLOYMENT_OPTIONS, RELATIONSHIPS
from app.reviews.forms import CheckboxList


def _kind_label(kind: ConstraintKind) -> str:
    unit = f" ({kind.spec.unit})" if kind.spec.unit else ""
    return kind.spec.label + unit


class ConstraintForm(PrefixedForm):
    """One form for every kind; the service checks what each kind needs (target, options)."""

    prefix_name = "constraint"

    kind = SelectField("Kind", choices=[(k.value, _kind_label(k)) for k in ConstraintKind])
    priority = SelectField("Priority", choices=[(p.value, p.value.capitalize()) for p in Priority],
                           default=Priority.SHOULD.value)
    knockout = BooleanField("Knock-out: a candidate that fails this is disqualified")
    target = StringField("Target", validators=[Length(max=30)],
                         description="A number in the kind's unit (models for data complexity).")
    relationships = SelectField("Relationships", choices=[("", "—"), *RELATIONSHIPS], default="")
    auth = CheckboxList("Authentication needs", choices=AUTH_OPTIONS)
    deployment = CheckboxList("Deployment", choices=DEPLOYMENT_OPTIONS)
    description = TextAreaField("Notes", validators=[Length(max=2000)])

    def fields_for_service(self) -> dict:
        return dict(kind=self.kind.data, priority=self.priority.data, knockout=self.knockout.data,
                    target=(self.target.data or "").strip() or None,
                    relationships=self.relationships.data, auth=self.auth.data,
                    deployment=self.deployment.data, description=self.description.data)


class AnswerForm(FlaskForm):
    answer = RadioField("Answer", choices=[("yes", "Yes"), ("no", "No"), ("", "Not sure")],
                        validate_choice=True, default="")

    def value(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.answer.data)


class QuestionForm(PrefixedForm):
    prefix_name = "question"
    text = StringField("Question", validators=[DataRequired(), Length(max=200)])
    suggests = CheckboxList("A “yes” suggests", choices=[])
    reason = StringField("Why", validators=[Length(max=200)])


class DisqualifyForm(PrefixedForm):
    prefix_name = "dq"
    candidate_id = IdField("Candidate")
    constraint_id = SelectField("Knock-out constraint", coerce=str, choices=[], validate_choice=False)
    reason = StringField("Reason", validators=[DataRequired(), Length(max=300)])


def expertise_form(subjects, current: dict[str, int]) -> FlaskForm:
    """A form with one 0–5 select per subject (each candidate, and async Python)."""

    class ExpertiseForm(FlaskForm):
        """Built per review: its fields are that review's subjects."""

    choices = [("", "—")] + [(str(i), str(i)) for i in range(6)]
    for key, label in subjects:
        field = SelectField(label, choices=choices, default=str(current.get(key, "")),
                            validators=[Optional()])
        setattr(ExpertiseForm, "level_" + key.replace(":", "_"), field)
    form = ExpertiseForm()
    form.subject_keys = [key for key, _ in subjects]
    return form


def expertise_levels(form) -> dict[str, int | None]:
    levels = {}
    for key in form.subject_keys:
        raw = getattr(form, "level_" + key.replace(":", "_")).data
        levels[key] = int(raw) if raw not in (None, "") else None
    return levels
