"""After the vote: drafting the decision, signing it, the sign-off rules, the frozen record
(every change path answers 409), its content hash, `flask archive verify`, and the exports
(the MADR export of a full review is compared with tests/fixtures/decision_record.md)."""

from __future__ import annotations

import hashlib
import io
import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from werkzeug.routing import IntegerConverter

import app.models.base
import app.services.decisions
import app.services.mapping
import app.services.votes
from app import realtime
from app.extensions import db
from app.models import AuditEvent, Decision, Review, Role
from app.services import (
    benchmarks,
    constraints,
    decisions,
    mapping,
    notes,
    notifications,
    reviews,
    votes,
)
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from tests.factories import PASSWORD, add_member, make_user
from tests.test_benchmarks import AB_TEXT
from tests.test_vote import HX, blank_review, cast_all, close, ids, login, open_vote

FIXTURES = Path(__file__).parent / "fixtures"
FIXED = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
REVISIT = date(2026, 3, 14)


class FrozenDatetime(datetime):
    """datetime.now() is FIXED; everything else is the real datetime."""

    @classmethod
    def now(cls, tz=None):
        return FIXED.astimezone(tz) if tz else FIXED.replace(tzinfo=None)


@pytest.fixture
def frozen_clock(monkeypatch):
    """Every timestamp the record holds comes from one of these modules' ``datetime.now``."""
    for module in (app.models.base, app.services.mapping, app.services.votes,
                   app.services.decisions):
        monkeypatch.setattr(module, "datetime", FrozenDatetime)
    return FIXED


def draft(world, review, candidate_id=None, **fields) -> Decision:
    fields.setdefault("rationale", "It fits.")
    fields.setdefault("revisit_on", date.today() + timedelta(days=90))
    return decisions.draft_decision(world.users["facilitator"], review, decisions.DecisionDraft(
        candidate_id=candidate_id or ids(review)["A"], **fields))


def voted_review(world, ballots=None, method="single", **settings):
    """A blank review A, B, C whose vote has closed: A wins 2–1 by default."""
    review = blank_review(world)
    a, b, _ = ids(review).values()
    session = open_vote(world, review, method, **settings)
    cast_all(world, review, session, ballots or [a, a, b])
    close(world, review, session)
    return review


def signed_review(world) -> Review:
    review = voted_review(world)
    draft(world, review)
    for persona in ("owner", "facilitator"):
        decisions.sign(world.users[persona], review, "agree")
    decisions.sign(world.users["member"], review, "object", "B scales better.")
    decisions.sign_off(world.users["facilitator"], review)
    db.session.expire_all()
    return db.session.get(Review, review.id)


# --- drafting -------------------------------------------------------------------------------------

def test_drafting_needs_a_closed_vote_that_met_its_quorum(app, world):
    review = blank_review(world)
    with pytest.raises(Conflict, match="Hold a vote"):
        draft(world, review)
    session = open_vote(world, review, quorum_kind="count", quorum_value=2)
    with pytest.raises(Conflict, match="Close the vote"):
        draft(world, review)
    votes.cast_ballot(world.users["member"], review, session.id, ids(review)["A"])
    close(world, review, session)
    with pytest.raises(Conflict, match="did not reach its quorum"):
        draft(world, review)
    page = login(app, world.users["facilitator"]).get(f"/reviews/{review.id}/steps/vote")
    assert "Propose the decision" not in page.get_data(as_text=True)


def test_the_draft_form_defaults_to_the_winner_and_needs_a_reason_otherwise(app, world):
    review = voted_review(world)
    a, b, _ = ids(review).values()
    client = login(app, world.users["facilitator"])
    page = client.get(f"/reviews/{review.id}/steps/vote").get_data(as_text=True)
    assert f'<option selected value="{a}">A</option>' in page
    assert "Evidence gathered from the review" in page and "A wins with 2 votes of 3" in page
    url = f"/reviews/{review.id}/decision"
    form = {"decision-candidate_id": str(b), "decision-rationale": "Because B.",
            "decision-revisit_on": (date.today() + timedelta(days=200)).isoformat(),
            "decision-rule": "consent", "decision-quorum_kind": "share",
            "decision-quorum_value": "50%"}
    r = client.post(url, data=form, headers=HX)
    assert r.status_code == 422 and "Say why the decision differs from the vote" in r.get_data(as_text=True)
    assert decisions.decision_of(review) is None
    r = client.post(url, data=form | {"decision-deviation_reason": "A's licence changed."},
                    headers=HX)
    assert r.status_code == 200, r.get_data(as_text=True)
    decision = decisions.decision_of(review)
    assert (decision.chosen_name, decision.deviation_reason) == ("B", "A's licence changed.")
    assert "Not the vote's winner: A&#39;s licence changed." in r.get_data(as_text=True)


@pytest.mark.parametrize("fields, field, message", [
    ({"rationale": ""}, "rationale", "Write the rationale"),
    ({"revisit_on": None}, "revisit_on", "Set a date"),
    ({"revisit_on": date.today()}, "revisit_on", "in the future"),
    ({"tags": "x" * 31}, "tags", "at most 30"),
    ({"rule": "dictator"}, "rule", "sign-off rule"),
    ({"quorum_kind": "count", "quorum_value": "0"}, "quorum_value", "agreements needed"),
])
def test_bad_drafts(app, world, fields, field, message):
    review = voted_review(world)
    with pytest.raises(Invalid, match=message) as err:
        draft(world, review, **fields)
    assert err.value.field == field
    assert decisions.decision_of(review) is None


def test_a_tie_needs_a_reason_for_either_choice(app, world):
    review = voted_ab(world)
    with pytest.raises(Invalid, match="differs from a tie"):
        draft(world, review)
    assert draft(world, review, deviation_reason="Coin flip by the CTO.").chosen_name == "A"


def voted_ab(world):
    review = blank_review(world)
    a, b, _ = ids(review).values()
    session = open_vote(world, review)
    cast_all(world, review, session, [a, b])
    close(world, review, session)
    return review


def test_tags_are_normalised(app, world):
    review = voted_review(world)
    decision = draft(world, review, tags="Backend, public API ,backend")
    assert decision.tags == ["backend", "public-api"]


def test_revising_the_draft_clears_the_signatures(app, world, socket_client):
    review = voted_review(world)
    draft(world, review)
    decisions.sign(world.users["member"], review, "agree")
    sock = socket_client(login(app, world.users["observer"]), review.id)
    sock.get_received()
    same = draft(world, review)  # nothing changed: the signature stays
    assert len(same.signoffs) == 1 and same.revision == 1
    revised = draft(world, review, rationale="It fits better than we thought.")
    assert revised.revision == 2 and revised.signoffs == []
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "decision.revised"))
    assert event.detail["signoffs_cleared"] == 1
    assert any(m["name"] == "refresh" and "decision" in m["args"][0]["regions"]
               for m in sock.get_received())
    asked = [n.title for n in notifications.notifications_for(world.users["member"])
             if n.kind == "decision_proposed"]
    assert asked == ["Sign the decision: Pick one"] * 2  # once per revision: sign again
    assert not [n for n in notifications.notifications_for(world.users["observer"])
                if n.kind == "decision_proposed"]


def test_discarding_the_draft_allows_a_new_vote(app, world):
    review = voted_review(world)
    draft(world, review)
    with pytest.raises(Conflict, match="discard it"):
        open_vote(world, review)
    r = login(app, world.users["facilitator"]).post(f"/reviews/{review.id}/decision/discard",
                                                    headers=HX)
    assert r.status_code == 200 and decisions.decision_of(review) is None
    assert open_vote(world, review).number == 2


# --- signing -------------------------------------------------------------------------------------

def test_signing_stances_and_reasons(app, world):
    review = voted_review(world)
    draft(world, review)
    url = f"/reviews/{review.id}/decision/sign"
    assert login(app, world.users["observer"]).post(url, data={"signoff-stance": "agree"}).status_code == 403
    with pytest.raises(Forbidden):
        decisions.sign(world.users["observer"], review, "agree")
    member = login(app, world.users["member"])
    r = member.post(url, data={"signoff-stance": "object"}, headers=HX)
    assert r.status_code == 422 and "Say why you object" in r.get_data(as_text=True)
    r = member.post(url, data={"signoff-stance": "veto"}, headers=HX)
    assert r.status_code == 422 and "agree, abstain, object or block" in r.get_data(as_text=True)
    r = member.post(url, data={"signoff-stance": "block", "signoff-reason": "No LTS."}, headers=HX)
    assert r.status_code == 200 and "No LTS." in r.get_data(as_text=True)
    member.post(url, data={"signoff-stance": "agree"}, headers=HX)  # changes the stance
    (row,) = decisions.decision_of(review).signoffs
    assert (row.stance, row.role) == ("agree", "member")


def test_nothing_to_sign_without_a_draft(app, world):
    review = voted_review(world)
    with pytest.raises(NotFound):
        decisions.sign(world.users["member"], review, "agree")


@pytest.mark.parametrize("rule, stances, met", [
    # three voting members; 50 % share → 2 agreements needed
    ("consent", ["agree", "agree", None], True),
    ("consent", ["agree", "abstain", None], False),
    ("consent", ["agree", "agree", "block"], False),
    ("consent", ["agree", "agree", "object"], True),
    ("no_objection", ["agree", "agree", "object"], False),
    ("no_objection", ["agree", "agree", "abstain"], True),
    ("unanimous", ["agree", "agree", "abstain"], False),
    ("unanimous", ["agree", "agree", "agree"], True),
    ("majority", ["agree", "agree", "block"], True),
    ("majority", ["agree", "object", "block"], False),
])
def test_sign_off_rules(app, world, rule, stances, met):
    review = voted_review(world)
    draft(world, review, rule=rule)
    for persona, stance in zip(("owner", "facilitator", "member"), stances, strict=True):
        if stance:
            decisions.sign(world.users[persona], review, stance, "reason")
    status = decisions.signoff_status(review, decisions.decision_of(review))
    assert status.met is met, status.message
    if met:
        decisions.sign_off(world.users["facilitator"], review)
    else:
        with pytest.raises(Conflict, match="Not signed off yet"):
            decisions.sign_off(world.users["facilitator"], review)


def test_agreements_needed_as_a_count(app, world):
    review = voted_review(world)
    draft(world, review, quorum_kind="count", quorum_value="1")
    decisions.sign(world.users["member"], review, "agree")
    status = decisions.signoff_status(review, decisions.decision_of(review))
    assert status.met and status.required == 1
    assert status.waiting == ["Facilitator Person", "Olivia Owner"]


# --- sign-off: frozen, hashed ----------------------------------------------------------------------

def test_the_header_follows_sign_off_live(app, world, socket_client):
    """Everyone in the room sees the review become Archived, and the facilitator loses the
    "Edit title" form and every step's forms, without a reload: sign-off refreshes every
    region a page shows ("*"), the header too."""
    review = voted_review(world)
    draft(world, review)
    for persona in ("owner", "facilitator"):
        decisions.sign(world.users[persona], review, "agree")
    fran = login(app, world.users["facilitator"])
    header = f"/reviews/{review.id}/regions/details"
    before = fran.get(header, headers=HX).get_data(as_text=True)
    assert "Edit title and question" in before and "status-archived" not in before
    checklist = f"/reviews/{review.id}/regions/checklist"
    assert "Add your own below" in fran.get(checklist, headers=HX).get_data(as_text=True)
    assert "<form" in fran.get(f"/reviews/{review.id}/regions/constraints", headers=HX).get_data(as_text=True)
    sock = socket_client(login(app, world.users["observer"]), review.id)
    sock.get_received()
    decisions.sign_off(world.users["facilitator"], review)
    assert any(m["name"] == "refresh" and m["args"][0]["regions"] == [realtime.ALL_REGIONS]
               for m in sock.get_received())
    after = fran.get(header, headers=HX).get_data(as_text=True)
    assert "Add your own below" not in fran.get(checklist, headers=HX).get_data(as_text=True)
    assert "<form" not in fran.get(f"/reviews/{review.id}/regions/constraints", headers=HX).get_data(as_text=True)
    assert 'id="region-details"' in after and "status-archived" in after
    assert "Edit title and question" not in after
    assert fran.get(header).status_code == 303  # a plain visit lands on the workspace


def test_a_new_title_reaches_the_room_live(app, world, socket_client):
    review = blank_review(world)
    sock = socket_client(login(app, world.users["member"]), review.id)
    sock.get_received()
    r = login(app, world.users["facilitator"]).post(
        f"/reviews/{review.id}/details", headers=HX, data={"details-title": "Pick the web stack",
                                                          "details-question": "Which one?"})
    assert r.status_code == 200 and 'id="region-details"' in r.get_data(as_text=True)
    assert any(m["name"] == "refresh" and "details" in m["args"][0]["regions"]
               for m in sock.get_received())
    seen = login(app, world.users["member"]).get(f"/reviews/{review.id}/regions/details", headers=HX)
    assert "Pick the web stack" in seen.get_data(as_text=True)
    assert "Edit title and question" not in seen.get_data(as_text=True)  # a member cannot edit


def test_sign_off_archives_and_hashes_the_canonical_snapshot(app, world):
    review = signed_review(world)
    decision = decisions.decision_of(review)
    assert review.status == "archived" and review.is_frozen and decision.is_signed_off
    data = json.loads(decision.snapshot)
    assert decision.snapshot == json.dumps(data, sort_keys=True, separators=(",", ":"),
                                           ensure_ascii=False)
    assert decision.content_hash == hashlib.sha256(decision.snapshot.encode()).hexdigest()
    assert set(data) >= {"review", "candidates", "constraints", "constraint_checks", "criteria",
                         "matrix", "prototype_notes", "benchmarks", "vote", "decision",
                         "signoffs", "dissent", "audit"}
    assert data["dissent"] == [{"user": "Member Person", "stance": "object",
                                "reason": "B scales better."}]
    assert data["audit"][-1]["action"] == "decision.signed_off"
    assert decisions.verify(decision).ok


def test_sign_off_by_the_page(app, world):
    review = voted_review(world)
    draft(world, review)
    for persona in ("owner", "member"):
        decisions.sign(world.users[persona], review, "agree")
    client = login(app, world.users["facilitator"])
    page = client.get(f"/reviews/{review.id}/steps/vote").get_data(as_text=True)
    assert "Sign off and archive" in page and "The rule is met." in page
    r = client.post(f"/reviews/{review.id}/decision/sign-off", headers=HX)
    assert r.status_code == 200 and "Signed off: A." in r.get_data(as_text=True)
    assert "SHA-256" in r.get_data(as_text=True)


def frozen_args(url_rule) -> dict:
    """URL values for any route: the guard answers before the view reads them."""
    return {name: 1 if isinstance(url_rule._converters.get(name), IntegerConverter) else "x"
            for name in url_rule.arguments}


def test_every_change_path_answers_409_for_every_role_once_signed_off(app, world):
    """Walks app.url_map: every POST on a review (any step, any blueprint) is refused with the
    same message for every role allowed to make it; lower roles still get 403."""
    review = signed_review(world)
    clients = {p: login(app, world.users[p]) for p in ("owner", "facilitator", "member", "observer")}
    audit_before = db.session.scalar(db.select(db.func.count()).select_from(AuditEvent))
    checked = 0
    for url_rule in app.url_map.iter_rules():
        view = app.view_functions[url_rule.endpoint]
        rule = getattr(view, "access_rule", None)
        if ("POST" not in url_rule.methods or "review_id" not in url_rule.arguments
                or rule is None or rule.scope != "review" or getattr(view, "frozen_ok", False)):
            continue
        url = url_rule.build(frozen_args(url_rule) | {"review_id": review.id})[1]
        for persona, client in clients.items():
            r = client.post(url, data={}, headers=HX)
            if rule.allows(Role(persona)):
                assert r.status_code == 409, (url, persona, r.status_code)
                assert "signed off; its record is frozen" in r.get_data(as_text=True)
            else:
                assert r.status_code == 403, (url, persona, r.status_code)
        checked += 1
    assert checked >= 20
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent)) == audit_before
    assert decisions.verify(decisions.decision_of(review)).ok


def test_services_refuse_changes_to_a_signed_off_review(app, world):
    review = signed_review(world)
    owner = world.users["owner"]
    cand, crit = review.candidates[0], mapping.criteria_of(review)
    calls = [
        lambda: reviews.add_candidate(owner, review, "D"),
        lambda: reviews.update_details(owner, review, title="New", question=""),
        lambda: reviews.set_step(owner, review, "mapping"),
        lambda: constraints.add_constraint(owner, review, kind="traffic_rps", priority="must",
                                           target=1),
        lambda: constraints.disqualify(owner, review, cand.id, "late"),
        lambda: mapping.add_criterion(owner, review, "Late", 1),
        lambda: notes.add_note(owner, review, notes.NoteDraft(candidate_id=cand.id, title="x")),
        lambda: votes.open_vote(owner, review, votes.VoteSettings("single")),
        lambda: decisions.draft_decision(owner, review, decisions.DecisionDraft(cand.id, "x")),
        lambda: decisions.sign(owner, review, "block", "too late"),
        lambda: decisions.discard_decision(owner, review),
        lambda: decisions.sign_off(owner, review),
    ]
    if crit:
        calls.append(lambda: mapping.remove_criterion(owner, review, crit[0].id))
    for call in calls:
        with pytest.raises(Conflict, match="frozen"):
            call()
    assert decisions.verify(decisions.decision_of(review)).ok


# --- verify ---------------------------------------------------------------------------------------

def test_archive_verify_passes_then_detects_a_row_changed_in_the_database(app, world, runner):
    review = signed_review(world)
    ok = runner.invoke(args=["archive", "verify"])
    assert ok.exit_code == 0 and "1 record(s) checked, 0 do not match" in ok.output
    db.session.execute(text("UPDATE candidates SET name = 'A (renamed)' WHERE id = :id"),
                       {"id": ids(review)["A"]})
    db.session.commit()
    db.session.expire_all()
    bad = runner.invoke(args=["archive", "verify"])
    assert bad.exit_code == 1, bad.output
    assert "BAD decision" in bad.output and "data changed since sign-off (candidates" in bad.output
    assert "no longer matches its SHA-256" not in bad.output


def test_archive_verify_detects_an_edited_snapshot_and_hash(app, world, runner):
    review = signed_review(world)
    decision = decisions.decision_of(review)
    forged = decision.snapshot.replace('"It fits."', '"It fits perfectly."')
    db.session.execute(text("UPDATE decisions SET snapshot = :s WHERE id = :id"),
                       {"s": forged, "id": decision.id})
    db.session.commit()
    result = runner.invoke(args=["archive", "verify"])
    assert result.exit_code == 1 and "no longer matches its SHA-256 hash" in result.output
    # Re-hashing the forgery does not help: the live rows still disagree.
    db.session.execute(text("UPDATE decisions SET content_hash = :h WHERE id = :id"),
                       {"h": hashlib.sha256(forged.encode()).hexdigest(), "id": decision.id})
    db.session.commit()
    db.session.expire_all()
    result = runner.invoke(args=["archive", "verify"])
    assert result.exit_code == 1 and "data changed since sign-off (decision)" in result.output


def test_verify_ignores_what_happens_after_sign_off(app, world, runner):
    """New members, later audit events and a successor review are not part of the record."""
    review = signed_review(world)
    add_member(world.team, Role.MEMBER, make_user("Later Member"))
    login(app, world.users["owner"]).post(f"/reviews/{review.id}/record/supersede")
    assert runner.invoke(args=["archive", "verify"]).exit_code == 0


# --- record page and exports ------------------------------------------------------------------------

def test_record_page_is_print_ready_and_shows_the_integrity(app, world):
    review = signed_review(world)
    page = login(app, world.users["observer"]).get(f"/reviews/{review.id}/record")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "verified: the record matches its hash" in body and "data-print" in body
    assert "B scales better." in body and "decision.signed_off" in body
    assert "Supersede" not in body  # observers read only


def test_record_of_a_review_without_a_decision_is_404(app, world):
    client = login(app, world.users["member"])
    for suffix in ("record", "record.md", "record.json"):
        assert client.get(f"/reviews/{world.review.id}/{suffix}").status_code == 404


def test_json_export_is_the_hashed_snapshot(app, world):
    review = signed_review(world)
    r = login(app, world.users["member"]).get(f"/reviews/{review.id}/record.json")
    decision = decisions.decision_of(review)
    assert r.headers["Content-Disposition"] == f'attachment; filename="decision-{review.id}.json"'
    assert r.get_data(as_text=True) == decision.snapshot
    assert hashlib.sha256(r.data).hexdigest() == decision.content_hash


def test_a_proposed_decision_exports_a_live_preview(app, world):
    review = voted_review(world)
    draft(world, review)
    md = login(app, world.users["member"]).get(f"/reviews/{review.id}/record.md").get_data(as_text=True)
    assert "* Status: proposed" in md and "Content hash" not in md


def test_anonymous_ballots_stay_anonymous_in_the_record(app, world):
    review = voted_review(world, anonymous=True)
    draft(world, review)
    decisions.sign(world.users["owner"], review, "agree")
    decisions.sign(world.users["member"], review, "agree")
    decisions.sign_off(world.users["facilitator"], review)
    decision = decisions.decision_of(review)
    data = json.loads(decision.snapshot)
    assert "ballots" not in data["vote"] and data["vote"]["anonymous"] is True
    md = decisions.export_markdown(decision)
    assert "Ballots were anonymous." in md and "Member Person: A" not in md


def build_full_review(world) -> Review:
    """A complete review: constraints, a revealed matrix, a prototype note, a ranked vote,
    a decision with tags, two agreements and an objection, signed off."""
    owner, fac, member = world.users["owner"], world.users["facilitator"], world.users["member"]
    review = reviews.create_review(owner, world.team, title="Task queue for the billing jobs",
                                   question="Which task queue runs the nightly billing jobs?",
                                   template="blank", extra_candidates=["Celery", "RQ", "Dramatiq"])
    celery, rq, dramatiq = ids(review).values()
    constraints.add_constraint(owner, review, kind="latency_p95_ms", priority="must",
                               knockout=True, target=200, description="Enqueue from a request.")
    constraints.add_constraint(owner, review, kind="deployment", priority="should",
                               deployment=["containers"])
    reliability = mapping.add_criterion(owner, review, "Reliability", 5)
    simplicity = mapping.add_criterion(owner, review, "Simplicity", 2)
    for user, scores in ((owner, ((5, 3, 4), (2, 5, 4))), (fac, ((4, 3, 4), (2, 4, 3))),
                         (member, ((5, 2, 3), (3, 5, 4)))):
        for crit, row in zip((reliability, simplicity), scores, strict=True):
            for cid, value in zip((celery, rq, dramatiq), row, strict=True):
                mapping.score_cell(user, review, crit.id, cid, value)
    mapping.reveal(fac, review)
    notes.add_note(member, review, notes.NoteDraft(
        candidate_id=rq, title="RQ spike", spent_hours=6, pros=["Tiny API"],
        cons=["No periodic tasks without rq-scheduler"], links=["https://python-rq.org/"]))
    session = votes.open_vote(fac, review, votes.VoteSettings(
        "ranked", quorum_kind="share", quorum_value=0.5))
    for user, ranking in ((owner, [celery, dramatiq]), (fac, [celery, rq]),
                          (member, [rq, dramatiq, celery])):
        votes.cast_ballot(user, review, session.id, ranking)
    votes.close_vote(fac, review, session.id)
    decisions.draft_decision(fac, review, decisions.DecisionDraft(
        candidate_id=celery, tags="billing, queues", revisit_on=REVISIT,
        rationale="Celery is the **most reliable** option and the team knows it.",
        consequences="- Redis stays in the stack.\n- We pin Celery 5.x."))
    decisions.sign(owner, review, "agree")
    decisions.sign(fac, review, "agree")
    decisions.sign(member, review, "object", "RQ would be simpler to run.")
    decisions.sign_off(fac, review)
    return review


def test_madr_export_of_a_full_review_matches_the_expected_file(app, world, frozen_clock):
    review = build_full_review(world)
    decision = decisions.decision_of(review)
    client = login(app, world.users["observer"])
    response = client.get(f"/reviews/{review.id}/record.md")
    assert response.status_code == 200 and response.mimetype == "text/markdown"
    body = response.get_data(as_text=True)
    expected = FIXTURES / "decision_record.md"
    if os.environ.get("UPDATE_FIXTURES") == "1":  # regenerate after a deliberate change
        expected.write_text(body, encoding="utf-8")
    assert body == expected.read_text(encoding="utf-8")
    assert f"`{decision.content_hash}`" in body
    assert decisions.verify(decision).ok


def test_password_is_never_in_the_record(app, world):
    review = signed_review(world)
    snapshot = decisions.decision_of(review).snapshot
    assert PASSWORD not in snapshot and "password" not in snapshot and "@example.com" not in snapshot


def test_the_record_carries_benchmark_summaries_and_constraint_checks(app, world):
    """With a step-4 run (ab: 500 req/s) for A: ≥ 400 req/s is met, ≥ 800 req/s is failed;
    candidates without a run are "not measured"; a knocked-out candidate failed its constraint."""
    review = blank_review(world)
    a, b, c = ids(review).values()
    owner = world.users["owner"]
    low = constraints.add_constraint(owner, review, kind="traffic_rps", priority="must", target=400)
    high = constraints.add_constraint(owner, review, kind="traffic_rps", priority="should",
                                      target=800, knockout=True)
    benchmarks.ingest_run(owner, review, a, [benchmarks.IncomingFile(
        "ab.txt", io.BytesIO(AB_TEXT.encode()))], benchmarks.RunDetails())
    constraints.disqualify(owner, review, c, "Too slow in the spike.", high.id)
    data = decisions.evidence(review)
    (run,) = data["benchmarks"]
    assert (run["candidate"], run["rps"]) == ("A", 500.0)
    checks = {(x["candidate_id"], x["constraint_id"]): x["status"] for x in data["constraint_checks"]}
    assert checks[(a, low.id)] == "pass" and checks[(a, high.id)] == "fail"
    assert checks[(b, low.id)] == "not measured" and checks[(c, high.id)] == "fail"
    session = open_vote(world, review)
    cast_all(world, review, session, [a, a, b])
    close(world, review, session)
    draft(world, review)
    md = decisions.export_markdown(decisions.decision_of(review))
    assert "* Good, because it meets “Expected traffic ≥ 400 req/s”" in md
    assert "* Bad, because it fails “Expected traffic ≥ 800 req/s”" in md
    assert "* Disqualified: Too slow in the spike." in md
