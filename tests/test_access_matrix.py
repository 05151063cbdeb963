"""Every endpoint × every persona gets the status its declared access rule says.

The rules are read from the views themselves (``@access``), so a new route without one fails
``test_every_endpoint_declares_a_rule``, and a rule that is not enforced fails the matrix."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from flask import url_for

from app import create_app
from app.access import SOCKET_RULES, Rule
from app.config import TestingConfig
from app.models import Role
from app.services import benchmarks, constraints, decisions, mapping, notes, teams, votes
from tests.factories import PASSWORD, make_review
from tests.test_benchmarks import AB_TEXT

PERSONAS = ["anonymous", "non_member", "observer", "member", "facilitator", "owner"]
EXEMPT = {"static"}  # Flask's own file serving: public by nature


def _rules():
    app = create_app(TestingConfig())
    out = []
    for url_rule in app.url_map.iter_rules():
        if url_rule.endpoint in EXEMPT:
            continue
        view = app.view_functions[url_rule.endpoint]
        for method in sorted(url_rule.methods - {"HEAD", "OPTIONS"}):
            out.append((url_rule.endpoint, method, getattr(view, "access_rule", None)))
    return out


RULES = _rules()


def test_every_endpoint_declares_a_rule():
    missing = [f"{e} {m}" for e, m, rule in RULES if rule is None]
    assert not missing, f"endpoints without an @access rule: {missing}"


def expected(rule: Rule, persona: str) -> str:
    if rule.scope == "public":
        return "allowed"
    if persona == "anonymous" or rule.scope == "token":
        return "login"  # the API: only a bearer token authenticates, never these cookies
    if rule.scope == "login":
        return "allowed"
    if persona == "non_member":
        return "not_found"
    return "allowed" if rule.allows(Role(persona)) else "forbidden"


def outcome(response) -> str:
    if response.status_code in (301, 302, 303) and "/login?next=" in response.headers.get("Location", ""):
        return "login"
    return {401: "login", 403: "forbidden", 404: "not_found"}.get(response.status_code, "allowed")


@pytest.fixture
def url_args(world):
    member = world.team.membership_of(world.users["member"].id)
    token = teams.create_invitation(world.users["owner"], world.team, Role.MEMBER,
                                    timedelta(days=1))
    invitation = teams.open_invitations(world.team)[0]
    constraint = constraints.add_constraint(world.users["owner"], world.review, kind="traffic_rps",
                                            priority="must", target=100)
    run = benchmarks.ingest_run(  # uploaded by the member, who may delete it
        world.users["member"], world.review, world.review.candidates[0].id,
        [benchmarks.IncomingFile("ab.txt", io.BytesIO(AB_TEXT.encode()))], benchmarks.RunDetails())
    spike = notes.NoteDraft(candidate_id=world.review.candidates[0].id, title="Spike")
    note = notes.add_note(world.users["member"], world.review, spike)  # the member is its author
    # A closed vote and a proposed decision, so that the record pages exist for everyone.
    choice = world.review.candidates[0].id
    session = votes.open_vote(world.users["owner"], world.review, votes.VoteSettings("single"))
    votes.cast_ballot(world.users["member"], world.review, session.id, choice)
    votes.close_vote(world.users["owner"], world.review, session.id)
    decisions.draft_decision(world.users["owner"], world.review, decisions.DecisionDraft(
        candidate_id=choice, rationale="Because.", revisit_on=date.today() + timedelta(days=30)))
    return {
        "run_id": run.id, "file_id": run.files[0].id,
        "team_id": world.team.id, "review_id": world.review.id, "membership_id": member.id,
        "invitation_id": invitation.id, "candidate_id": world.review.candidates[0].id,
        "step": "mapping", "token": token, "region": "constraints", "key": "api_first",
        "criterion_id": mapping.criteria_of(world.review)[0].id, "constraint_id": constraint.id,
        "note_id": note.id,
        "session_id": session.id,
    }


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("endpoint, method, rule", [r for r in RULES if r[2] is not None],
                         ids=[f"{e}-{m}" for e, m, r in RULES if r is not None])
def test_access_matrix(app, world, url_args, persona, endpoint, method, rule):
    client = app.test_client()
    if persona != "anonymous":
        user = world.users[persona]
        assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
    url_rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with app.test_request_context():
        url = url_for(endpoint, **{k: url_args[k] for k in url_rule.arguments})
    response = client.open(url, method=method, data={})
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    assert outcome(response) == expected(rule, persona), (url, response.status_code)


@pytest.mark.parametrize("persona", PERSONAS)
def test_socket_connect_matrix(app, world, socket_client, persona):
    client = app.test_client()
    if persona != "anonymous":
        client.post("/login", data={"email": world.users[persona].email, "password": PASSWORD})
    sc = socket_client(client, world.review.id)
    assert sc.is_connected() == (expected(SOCKET_RULES["connect"], persona) == "allowed")


@pytest.mark.parametrize("persona", PERSONAS[1:])
@pytest.mark.parametrize("event", sorted(set(SOCKET_RULES) - {"connect"}))
def test_socket_event_matrix(app, world, socket_client, persona, event):
    """Events re-check access: a socket connected to one review cannot act on another."""
    own_team = teams.create_team(world.users[persona], "Own team")
    own_review = make_review(own_team, world.users[persona])
    client = app.test_client()
    client.post("/login", data={"email": world.users[persona].email, "password": PASSWORD})
    sc = socket_client(client, own_review.id)
    assert sc.is_connected()
    ack = sc.emit(event, {"review_id": world.review.id}, callback=True)
    allowed = expected(SOCKET_RULES[event], persona) == "allowed"
    assert (ack.get("ok") is not False) == allowed, ack
