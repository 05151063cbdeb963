from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.models import ROLES, Role

ROLE_CHOICES = [(r.value, r.label) for r in ROLES]


class TeamForm(FlaskForm):
    name = StringField("Team name", validators=[DataRequired(), Length(max=80)])


class InvitationForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.MEMBER.value)
    note = StringField("Note (who is it for?)", validators=[Length(max=120)])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
