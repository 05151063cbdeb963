from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from app.forms import PrefixedForm
from app.models import STEPS
from app.services.templates import PYTHON_WEB_FRAMEWORK, TEMPLATES


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ReviewForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=120)])
    question = TextAreaField("The question this review answers", validators=[Length(max=2000)])
    template = RadioField(
        "Template", choices=[(t.key, t.label) for t in TEMPLATES.values()],
        default=PYTHON_WEB_FRAMEWORK.key, validators=[DataRequired()],
    )
    extra = CheckboxList(
        "Also compare (framework template)",
        choices=[(n, n) for n, _ in PYTHON_WEB_FRAMEWORK.optional_candidates],
        validate_choice=True,
    )
    more = StringField(
        "Other candidates, comma-separated", validators=[Length(max=500)],
        description="For a blank review, name every option you are choosing between.",
    )

    def extra_candidates(self) -> list[str]:
        typed = [n.strip() for n in (self.more.data or "").split(",")]
        picked = self.extra.data if self.template.data == PYTHON_WEB_FRAMEWORK.key else []
        return [*picked, *[n for n in typed if n]]


class DetailsForm(PrefixedForm):
    prefix_name = "details"
    title = StringField("Title", validators=[DataRequired(), Length(max=120)])
    question = TextAreaField("Question", validators=[Length(max=2000)])


class CandidateForm(PrefixedForm):
    prefix_name = "candidate"
    name = StringField("Candidate", validators=[DataRequired(), Length(max=60)])
    description = StringField("Short description", validators=[Length(max=300)])


class StepForm(FlaskForm):
    step = SelectField("Step", choices=[(s.value, s.label) for s in STEPS])
