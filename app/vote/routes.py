"""Step 5 — the team vote, the decision draft and the sign-off.

The step's template (templates/reviews/steps/vote.html) has two live regions rendered per
viewer — ``vote`` (the ballot form, facilitator controls) and ``decision`` (the draft, the
sign-off) — and one viewer-independent block, ``vote_board`` (who has voted, tallies when the
policy allows, the countdown), which the services also broadcast after every ballot.
"""

from __future__ import annotations

from flask import jsonify
from flask_login import current_user

from app import realtime
from app.access import access
from app.forms import EmptyForm, attempt, form_status
from app.models import Step
from app.rendering import render, wants_fragment
from app.reviews import steps
from app.reviews.forms import CandidateForm, DetailsForm
from app.reviews.routes import render_workspace
from app.services import decisions, votes
from app.vote import bp
from app.vote.forms import (
    DecisionForm,
    OpenVoteForm,
    SignForm,
    TimerForm,
    ballot_form,
    decision_form,
)

TEMPLATE = "reviews/steps/vote.html"
steps.region("vote", Step.VOTE, "vote_region")
steps.region("decision", Step.VOTE, "decision_region")


def _winners(view) -> list:
    session = view.session
    return list((session.result or {}).get("winners", [])) if session and not session.is_open \
        else []


@steps.provides(Step.VOTE)
def vote_context(review, viewer) -> dict:
    """Everything the step renders for this viewer (forms blank or prefilled, never the
    request's data: a POST view passes its own bound form instead)."""
    view = votes.vote_view(review, viewer)
    decision, predecessor = decisions.decision_and_predecessor(review)
    session = view.session
    own_sign = next((s for s in decision.signoffs if s.user_id == viewer.id), None) \
        if decision else None
    quorum_met = bool(session and not session.is_open
                      and (session.result or {}).get("quorum", {}).get("met"))
    return vote_forms(view) | {
        "decision": decision,
        "can_draft": quorum_met and decision is None,
        "decision_form": decision_form(review, decision, _winners(view), formdata=None),
        "signoff": decisions.signoff_status(review, decision) if decision else None,
        "own_signoff": own_sign,
        "sign_form": SignForm(formdata=None, stance=own_sign.stance if own_sign else None,
                              reason=own_sign.reason if own_sign else ""),
        # Computed only where the decision region renders it (the matrix analysis is not free).
        "load_evidence": (lambda: decisions.evidence(review, session, board=view.board))
        if (quorum_met or decision) and not (decision and decision.is_signed_off) else None,
        "predecessor": predecessor,
        "action_form": EmptyForm(formdata=None),
    }


def vote_region_context(review, viewer) -> dict:
    """What the ``vote_region`` block uses, the same values :func:`vote_context` gives it, without
    what only ``decision_region`` shows (the draft's form and evidence, the sign-off): the
    answer to every POST of the vote region, a ballot's above all, renders this block alone.
    ``decision`` matters there only while no vote is open."""
    view = votes.vote_view(review, viewer)
    is_open = bool(view.session and view.session.is_open)
    return vote_forms(view) | {
        "board_html": votes.remembered_board_html(view.board),
        "decision": None if is_open else decisions.decision_and_predecessor(review)[0],
    }


def vote_forms(view) -> dict:
    """The vote, its board and the vote region's blank forms (both contexts above)."""
    session = view.session
    return {
        "vote": view, "board": view.board,
        "open_form": OpenVoteForm(formdata=None),
        "ballot_form": ballot_form(session, view.own, formdata=None)
        if session and session.is_open else None,
        "timer_form": TimerForm(formdata=None),
    }


def respond(review, block: str, *, status: int = 200, **bound):
    """The changed region for htmx; the whole workspace on this step for a plain POST. A bound
    form in ``bound`` (with its errors) replaces the blank one."""
    extra = {key: value for key, value in bound.items() if value is not None}
    if not wants_fragment():
        return render_workspace(review, Step.VOTE, block=None, status=status,
                                candidate_form=CandidateForm(formdata=None),
                                details_form=DetailsForm(formdata=None, obj=review), **extra)
    build = vote_region_context if block == "vote_region" else vote_context
    context = build(review, current_user) | extra
    return render(TEMPLATE, block, review=review, step=Step.VOTE, status=status, **context)


@bp.post("/reviews/<int:review_id>/votes")
@access("review:facilitator")
def open_vote(review):
    form = OpenVoteForm()
    opened = attempt(form, lambda: votes.open_vote(current_user, review, form.settings()))
    return respond(review, "vote_region", status=form_status(form),
                   open_form=None if opened else form)


@bp.post("/reviews/<int:review_id>/votes/<int:session_id>/ballot")
@access("review:member")
def cast(review, session_id: int):
    session = votes.get_session(review, session_id)
    form = ballot_form(session)
    # The caster's answer (which reuses the board just built) is rendered before the board goes
    # out to the room, not while the room's socket threads are sending it.
    with realtime.broadcasts_after_answer():
        cast_ok = attempt(form, lambda: votes.cast_ballot(current_user, review, session_id,
                                                          form.payload()))
        return respond(review, "vote_region", status=form_status(form),
                       ballot_form=None if cast_ok else form)


@bp.post("/reviews/<int:review_id>/votes/<int:session_id>/close")
@access("review:facilitator")
def close(review, session_id: int):
    if EmptyForm().validate_on_submit():
        votes.close_vote(current_user, review, session_id)
    return respond(review, "vote_region")


@bp.post("/reviews/<int:review_id>/votes/<int:session_id>/timer")
@access("review:facilitator")
def timer(review, session_id: int):
    form = TimerForm()
    attempt(form, lambda: votes.set_timer(current_user, review, session_id, form.minutes.data))
    return respond(review, "vote_region", status=form_status(form),
                   timer_form=form if form.errors else None)


@bp.get("/reviews/<int:review_id>/votes/<int:session_id>.json")
@access("review:observer")
def result_json(review, session_id: int):
    """The vote as data: tallies only when the policy allows, ballots only when named."""
    response = jsonify(votes.public_result(votes.get_session(review, session_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/reviews/<int:review_id>/decision")
@access("review:facilitator")
def draft(review):
    form = DecisionForm()
    form.candidate_id.choices = [(c.id, c.name) for c in review.candidates]
    done = attempt(form, lambda: decisions.draft_decision(current_user, review, form.draft()))
    return respond(review, "decision_region", status=form_status(form),
                   decision_form=None if done else form)


@bp.post("/reviews/<int:review_id>/decision/discard")
@access("review:facilitator")
def discard(review):
    if EmptyForm().validate_on_submit():
        decisions.discard_decision(current_user, review)
    return respond(review, "decision_region")


@bp.post("/reviews/<int:review_id>/decision/sign")
@access("review:member")
def sign(review):
    form = SignForm()
    done = attempt(form, lambda: decisions.sign(current_user, review, form.stance.data,
                                                form.reason.data))
    return respond(review, "decision_region", status=form_status(form),
                   sign_form=None if done else form)


@bp.post("/reviews/<int:review_id>/decision/sign-off")
@access("review:facilitator")
def sign_off(review):
    if EmptyForm().validate_on_submit():
        decisions.sign_off(current_user, review)
    return respond(review, "decision_region")
