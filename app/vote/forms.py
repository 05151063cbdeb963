"""Step 5 forms: opening a vote, a ballot (shaped by the vote's method), the countdown, the
decision draft and a sign-off. The services check every value; the forms only parse."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, Optional

from app.forms import PrefixedForm
from app.models import QuorumKind, RevealPolicy, SignOffRule, Stance, VoteMethod
from app.reviews.forms import CheckboxList
from app.services.decisions import DecisionDraft
from app.services.votes import VoteSettings

QUORUM_CHOICES = [(QuorumKind.NONE.value, "No quorum"),
                  (QuorumKind.COUNT.value, "At least this many ballots"),
                  (QuorumKind.SHARE.value, "A share of the voting members")]
REVEAL_CHOICES = [(RevealPolicy.LIVE.value, "Live, as ballots come in"),
                  (RevealPolicy.ON_CLOSE.value, "Hidden until the vote closes")]


class OpenVoteForm(PrefixedForm):
    prefix_name = "vote"
    method = SelectField("Method", choices=[(m.value, m.label) for m in VoteMethod],
                         default=VoteMethod.RANKED.value)
    deadline = IntegerField("Closes by itself after (hours)", validators=[Optional()],
                            description="Empty: the facilitator closes it. 72 = three days.")
    quorum_kind = SelectField("Quorum", choices=QUORUM_CHOICES, default=QuorumKind.SHARE.value)
    quorum_value = StringField("Quorum value", default="50%", validators=[Length(max=10)],
                               description="A number of ballots, or a share such as 50%.")
    quorum_each_role = BooleanField("In each role (owners, facilitators, members) separately")
    reveal = SelectField("Tallies", choices=REVEAL_CHOICES, default=RevealPolicy.LIVE.value)
    anonymous = BooleanField("Anonymous ballots: nobody sees who voted what")
    timer_minutes = IntegerField("Countdown for the room (minutes)", validators=[Optional()])

    def settings(self, now: datetime | None = None) -> VoteSettings:
        now = now or datetime.now(UTC)
        hours = self.deadline.data
        return VoteSettings(
            method=self.method.data, quorum_kind=self.quorum_kind.data,
            closes_at=now + timedelta(hours=hours) if hours is not None else None,
            quorum_value=self.quorum_value.data, quorum_each_role=self.quorum_each_role.data,
            reveal=self.reveal.data, anonymous=self.anonymous.data,
            timer_minutes=self.timer_minutes.data)


class TimerForm(PrefixedForm):
    prefix_name = "timer"
    minutes = IntegerField("Countdown (minutes, 0 stops it)", default=5,
                           validators=[Optional()])


def _number(value):
    """"3" → 3; anything else stays as typed, so the counting module names the problem."""
    text = (value or "").strip() if isinstance(value, str) else value
    return int(text) if isinstance(text, str) and text.isdigit() else (text or None)


class BallotForm(PrefixedForm):
    """A ballot; :func:`ballot_form` adds the fields the vote's method needs."""

    prefix_name = "ballot"
    method = ""
    candidate_ids: tuple = ()

    def candidate_fields(self) -> list:
        return [self[f"c{cid}"] for cid in self.candidate_ids]

    def payload(self):
        """The ballot in app/analysis/voting's shape for the method."""
        if self.method == VoteMethod.SINGLE:
            return _number(self.choice.data)
        if self.method == VoteMethod.APPROVAL:
            return [_number(v) for v in self.choice.data or []]
        return {cid: _number(self[f"c{cid}"].data) for cid in self.candidate_ids}


def _initial(session, own) -> dict:
    if own is None:
        return {}
    if session.method == VoteMethod.SINGLE:
        return {"choice": str(own)}
    if session.method == VoteMethod.APPROVAL:
        return {"choice": [str(c) for c in own]}
    if session.method == VoteMethod.RANKED:
        return {f"c{cid}": str(rank) for rank, cid in enumerate(own, 1)}
    return {f"c{cid}": str(score) for cid, score in own.items()}


def ballot_form(session, own=None, **kwargs) -> BallotForm:
    """A ballot form for this vote, prefilled with the viewer's own ballot."""
    choices = [(str(c["id"]), c["name"]) for c in session.candidates]
    attrs = {"method": session.method, "candidate_ids": tuple(session.candidate_ids)}
    if session.method == VoteMethod.SINGLE:
        attrs["choice"] = RadioField("Your choice", choices=choices, validate_choice=False)
    elif session.method == VoteMethod.APPROVAL:
        attrs["choice"] = CheckboxList("Approve any number", choices=choices,
                                       validate_choice=False)
    else:
        ranked = session.method == VoteMethod.RANKED
        options = ([("", "not ranked")] + [(str(i), f"{i}.") for i in range(1, len(choices) + 1)]
                   if ranked else [("", "–")] + [(str(i), str(i)) for i in range(0, 6)])
        for value, name in choices:
            attrs[f"c{value}"] = SelectField(name, choices=options, validate_choice=False)
    form_class = type("MethodBallotForm", (BallotForm,), attrs)
    return form_class(data=_initial(session, own), **kwargs)


class DecisionForm(PrefixedForm):
    prefix_name = "decision"
    candidate_id = SelectField("Chosen candidate", coerce=int, validate_choice=False)
    deviation_reason = TextAreaField("Why it differs from the vote (required if it does)",
                                     validators=[Length(max=20000)])
    rationale = TextAreaField("Rationale (Markdown)", validators=[Length(max=20000)])
    consequences = TextAreaField("Consequences (Markdown)", validators=[Length(max=20000)])
    tags = StringField("Tags, comma-separated", validators=[Length(max=400)],
                       description="For the archive's filters, e.g. backend, api")
    revisit_on = DateField("Revisit on", validators=[Optional()])
    rule = SelectField("Signed off when", choices=[(r.value, r.label) for r in SignOffRule],
                       default=SignOffRule.CONSENT.value)
    quorum_kind = SelectField("Agreements needed", choices=[("share", "A share of the voting "
                              "members"), ("count", "A number of members")], default="share")
    quorum_value = StringField("Agreements value", default="50%", validators=[Length(max=10)])

    def draft(self) -> DecisionDraft:
        return DecisionDraft(
            candidate_id=self.candidate_id.data, rationale=self.rationale.data,
            consequences=self.consequences.data, deviation_reason=self.deviation_reason.data,
            tags=self.tags.data or "", revisit_on=self.revisit_on.data, rule=self.rule.data,
            quorum_kind=self.quorum_kind.data, quorum_value=self.quorum_value.data)


def decision_form(review, decision, winners, **kwargs) -> DecisionForm:
    """The draft form: the current draft, or the vote's winner and a revisit in a year."""
    if decision is not None:
        data = dict(candidate_id=decision.candidate_id, rationale=decision.rationale,
                    consequences=decision.consequences, tags=", ".join(decision.tags),
                    deviation_reason=decision.deviation_reason, revisit_on=review.revisit_on,
                    rule=decision.rule, quorum_kind=decision.quorum_kind,
                    quorum_value=f"{decision.quorum_value:g}")
    else:
        data = dict(candidate_id=winners[0] if len(winners) == 1 else None,
                    revisit_on=date.today() + timedelta(days=365))
    form = DecisionForm(data=data, **kwargs)
    form.candidate_id.choices = [(c.id, c.name) for c in review.candidates if not c.disqualified]
    return form


class SignForm(PrefixedForm):
    prefix_name = "signoff"
    stance = RadioField("Your stance", choices=[(s.value, s.label) for s in Stance],
                        validate_choice=False)
    reason = TextAreaField("Reason (required to object or block)",
                           validators=[Length(max=20000)])
