from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.forms import PrefixedForm


class CriterionForm(PrefixedForm):
    prefix_name = "criterion"
    name = StringField("Criterion", validators=[DataRequired(), Length(max=80)])
    weight = StringField("Weight (0–5)", default="3", validators=[DataRequired(), Length(max=10)])


class MoveForm(FlaskForm):
    direction = HiddenField(validators=[DataRequired()])


class ScoreForm(FlaskForm):
    """One cell. The value is checked by the service (1–5), so a bad value gets its message."""

    value = SelectField("Score", choices=[("", "–")] + [(str(i), str(i)) for i in range(1, 6)],
                        validate_choice=False)
    rationale = StringField("Why (one line)", validators=[Length(max=200)])
    evidence = SelectField("Evidence", choices=[], validate_choice=False)
