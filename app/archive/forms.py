"""The archive's filter form (a GET form: no CSRF token, nothing changes) and the
notification buttons."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField
from wtforms.validators import Length, Optional

from app.services.decisions import ArchiveFilters

STATUS_CHOICES = [("", "Any status"), ("accepted", "Accepted"),
                  ("revisit_due", "Due for revisit"), ("superseded", "Superseded")]


class ArchiveFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Search", validators=[Length(max=100)])
    team = SelectField("Team", choices=[], validate_choice=False)
    chosen = SelectField("Chosen technology", choices=[], validate_choice=False)
    status = SelectField("Status", choices=STATUS_CHOICES, validate_choice=False)
    tag = SelectField("Tag", choices=[], validate_choice=False)
    date_from = DateField("Signed off from", validators=[Optional()])
    date_to = DateField("Signed off until", validators=[Optional()])

    def fill_choices(self, choices: dict) -> None:
        self.team.choices = [("", "All teams")] + [(str(i), n) for i, n in choices["teams"]]
        self.chosen.choices = [("", "Any")] + [(n, n) for n in choices["chosen"]]
        self.tag.choices = [("", "Any")] + [(t, t) for t in choices["tags"]]

    def filters(self) -> ArchiveFilters:
        """The filters as given; a field that does not parse is left out (and shown)."""
        self.validate()
        team = self.team.data or ""
        return ArchiveFilters(
            q=(self.q.data or "")[:100], team_id=int(team) if team.isdigit() else None,
            chosen=self.chosen.data or "", status=self.status.data or "",
            date_from=None if self.date_from.errors else self.date_from.data,
            date_to=None if self.date_to.errors else self.date_to.data,
            tag=self.tag.data or "")


class ReadForm(FlaskForm):
    """Mark one notification (``notification_id``) or, without one, all as read."""

    notification_id = HiddenField()
