"""Step 5, the vote: opening, ballots, each counting method on hand-computed examples (through
the service, stored on the session, shown on the page), quorum, the live board, and that hidden
tallies and anonymous ballots leak nowhere."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.models import AuditEvent, Ballot, Role, VoteSession
from app.services import constraints, votes
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from tests.factories import PASSWORD, add_member, make_review, make_user
from tests.test_socketio import element

HX = {"HX-Request": "true"}
LISTED = re.compile(r'"(ballots|tally|winners)":\s*\[|"result":\s*\{')  # ballots or counts


def login(app, user):
    client = app.test_client()
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
    return client


def blank_review(world, names=("A", "B", "C"), title="Pick one"):
    return make_review(world.team, template="blank", title=title, extra_candidates=list(names))


def ids(review) -> dict[str, int]:
    return {c.name: c.id for c in review.candidates}


def open_vote(world, review, method="single", **settings) -> VoteSession:
    return votes.open_vote(world.users["facilitator"], review, votes.VoteSettings(method, **settings))


def voters(world, count: int) -> list:
    """The world's three voters (owner, facilitator, member) and more members up to count."""
    people = [world.users["owner"], world.users["facilitator"], world.users["member"]]
    while len(people) < count:
        people.append(add_member(world.team, Role.MEMBER, make_user(f"Voter {len(people) + 1}")))
    return people[:count]


def cast_all(world, review, session, ballots) -> None:
    for user, ballot in zip(voters(world, len(ballots)), ballots, strict=True):
        votes.cast_ballot(user, review, session.id, ballot)


def close(world, review, session) -> dict:
    votes.close_vote(world.users["facilitator"], review, session.id)
    db.session.expire_all()
    return db.session.get(VoteSession, session.id).result


def vote_page(app, world, review, persona="observer") -> str:
    return login(app, world.users[persona]).get(f"/reviews/{review.id}/steps/vote").get_data(as_text=True)


# --- opening ---------------------------------------------------------------------------------

def test_facilitator_opens_a_vote_from_the_page(app, world):
    review = blank_review(world)
    constraints.disqualify(world.users["owner"], review, ids(review)["C"], "fails the SLA")
    client = login(app, world.users["facilitator"])
    r = client.post(f"/reviews/{review.id}/votes", headers=HX, data={
        "vote-method": "approval", "vote-deadline": "48", "vote-quorum_kind": "count",
        "vote-quorum_value": "2", "vote-reveal": "on_close", "vote-anonymous": "y"})
    assert r.status_code == 200, r.get_data(as_text=True)
    session = votes.latest_session(review)
    assert (session.method, session.reveal, session.anonymous) == ("approval", "on_close", True)
    assert [c["name"] for c in session.candidates] == ["A", "B"]  # disqualified C is left out
    assert (session.quorum_kind, session.quorum_value) == ("count", 2)
    assert timedelta(hours=47) < session.closes_at - datetime.now(UTC) <= timedelta(hours=48)
    assert 'id="region-vote"' in r.get_data(as_text=True) and "Approve any number" not in r.get_data(as_text=True)


@pytest.mark.parametrize("data, field, message", [
    ({"vote-method": "plurality"}, "vote-method", "Not a valid choice"),
    ({"vote-method": "single", "vote-quorum_kind": "share", "vote-quorum_value": "150%"},
     "vote-quorum_value", "a share such as"),
    ({"vote-method": "single", "vote-quorum_kind": "count", "vote-quorum_value": "0"},
     "vote-quorum_value", "whole number of ballots"),
    ({"vote-method": "single", "vote-deadline": "9999"}, "vote-deadline", "at most 90 days"),
    ({"vote-method": "single", "vote-timer_minutes": "500"}, "vote-timer_minutes", "1 to 180"),
])
def test_bad_vote_settings_are_422_on_their_field(app, world, data, field, message):
    review = blank_review(world)
    r = login(app, world.users["facilitator"]).post(f"/reviews/{review.id}/votes", data=data,
                                                    headers=HX)
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and message in body
    assert f'id="{field}"' in body and 'aria-invalid="true"' in body
    assert votes.latest_session(review) is None


def test_a_vote_needs_two_candidates_and_only_one_opens_at_a_time(app, world):
    review = blank_review(world, names=("A", "B"))
    constraints.disqualify(world.users["owner"], review, ids(review)["B"], "no")
    with pytest.raises(Invalid, match="at least two"):
        open_vote(world, review)
    constraints.requalify(world.users["owner"], review, ids(review)["B"])
    open_vote(world, review)
    with pytest.raises(Conflict, match="already open"):
        open_vote(world, review)


def test_members_and_observers_cannot_open_or_close(app, world):
    review = blank_review(world)
    for persona in ("member", "observer"):
        r = login(app, world.users[persona]).post(f"/reviews/{review.id}/votes",
                                                  data={"vote-method": "single"})
        assert r.status_code == 403
    session = open_vote(world, review)
    assert login(app, world.users["member"]).post(
        f"/reviews/{review.id}/votes/{session.id}/close").status_code == 403


# --- ballots ---------------------------------------------------------------------------------

def test_observers_cannot_vote(app, world):
    review = blank_review(world)
    session = open_vote(world, review)
    with pytest.raises(Forbidden):
        votes.cast_ballot(world.users["observer"], review, session.id, ids(review)["A"])
    r = login(app, world.users["observer"]).post(f"/reviews/{review.id}/votes/{session.id}/ballot",
                                                 data={"ballot-choice": str(ids(review)["A"])})
    assert r.status_code == 403
    assert db.session.scalar(db.select(db.func.count()).select_from(Ballot)) == 0
    assert "Observers watch the vote" in vote_page(app, world, review)


def test_a_member_changes_their_ballot_until_the_close(app, world):
    review = blank_review(world)
    a, b = ids(review)["A"], ids(review)["B"]
    session = open_vote(world, review)
    client = login(app, world.users["member"])
    url = f"/reviews/{review.id}/votes/{session.id}/ballot"
    assert client.post(url, data={"ballot-choice": str(a)}, headers=HX).status_code == 200
    r = client.post(url, data={"ballot-choice": str(b)}, headers=HX)
    assert r.status_code == 200 and "Change my ballot" in r.get_data(as_text=True)
    (ballot,) = db.session.scalars(db.select(Ballot)).all()
    assert ballot.payload == b
    db.session.refresh(db.session.get(VoteSession, session.id))
    assert db.session.get(VoteSession, session.id).ballot_count == 1
    actions = [e.action for e in db.session.scalars(db.select(AuditEvent))]
    assert actions.count("vote.ballot_cast") == 1 and actions.count("vote.ballot_changed") == 1
    # The page shows the member's own ballot checked.
    page = client.get(f"/reviews/{review.id}/steps/vote").get_data(as_text=True)
    assert re.search(rf'<input checked [^>]*value="{b}"', page)
    close(world, review, session)
    r = client.post(url, data={"ballot-choice": str(a)}, headers=HX)
    assert r.status_code == 409 and "closed" in r.get_data(as_text=True)
    with pytest.raises(Conflict):
        votes.cast_ballot(world.users["member"], review, session.id, a)
    assert db.session.scalar(db.select(Ballot)).payload == b


@pytest.mark.parametrize("method, form, message", [
    ("ranked", {"c:A": "1", "c:B": "3"}, "gap in the ranking"),
    ("ranked", {"c:A": "1", "c:B": "1"}, "share rank 1"),
    ("ranked", {}, "rank at least one"),
    ("score", {"c:A": "7"}, "scores go from 0 to 5"),
    ("single", {}, "choose one candidate"),
    ("single", {"choice": "foreign"}, "not a candidate in this vote"),
])
def test_bad_ballots_are_422(app, world, method, form, message):
    review = blank_review(world)
    other = blank_review(world, names=("X", "Y"), title="Other")
    named = ids(review)
    session = open_vote(world, review, method)
    data = {}
    for key, value in form.items():
        if key.startswith("c:"):
            data[f"ballot-c{named[key[2:]]}"] = value
        else:
            data[f"ballot-{key}"] = str(other.candidates[0].id) if value == "foreign" else value
    r = login(app, world.users["member"]).post(f"/reviews/{review.id}/votes/{session.id}/ballot",
                                               data=data, headers=HX)
    assert r.status_code == 422 and message in r.get_data(as_text=True).lower()
    assert db.session.scalar(db.select(db.func.count()).select_from(Ballot)) == 0


def test_ballots_for_another_reviews_candidates_or_vote_are_refused(app, world):
    review, other = blank_review(world), blank_review(world, names=("X", "Y"), title="Other")
    session, other_session = open_vote(world, review, "ranked"), open_vote(world, other, "ranked")
    with pytest.raises(Invalid, match="not a candidate"):
        votes.cast_ballot(world.users["member"], review, session.id,
                          [ids(review)["A"], ids(other)["X"]])
    with pytest.raises(NotFound):
        votes.cast_ballot(world.users["member"], review, other_session.id, [ids(other)["X"]])
    assert login(app, world.users["member"]).post(
        f"/reviews/{review.id}/votes/{other_session.id}/ballot", data={}).status_code == 404


def test_a_ranking_is_a_permutation_of_a_prefix(app, world):
    review = blank_review(world)
    a, b, c = ids(review).values()
    session = open_vote(world, review, "ranked")
    votes.cast_ballot(world.users["member"], review, session.id, {b: 1, a: 2})  # prefix: ok
    assert db.session.scalar(db.select(Ballot)).payload == [b, a]
    for bad in ([a, a], [a, None, b], {a: 2}, [], [a, b, c, 999]):
        with pytest.raises(Invalid):
            votes.cast_ballot(world.users["member"], review, session.id, bad)


# --- each method, hand-computed, through the service and onto the page ---------------------

def test_single_choice(app, world):
    """A, A, B, C, A: A has 3 of 5 votes (60 %)."""
    review = blank_review(world)
    a, b, c = ids(review).values()
    session = open_vote(world, review, "single")
    cast_all(world, review, session, [a, a, b, c, a])
    result = close(world, review, session)
    assert result["winners"] == [a] and result["ballots_counted"] == 5
    assert [(r["name"], r["votes"], r["rank"]) for r in result["tally"]] == [
        ("A", 3, 1), ("B", 1, 2), ("C", 1, 2)]
    assert result["summary"] == "A wins with 3 votes of 5 (60%)."
    assert "A wins with 3 votes of 5 (60%)." in vote_page(app, world, review)


def test_approval(app, world):
    """{A, B}, {B}, {B, C}, {A}: B has 3 approvals of 4 ballots (75 %), A 2, C 1."""
    review = blank_review(world)
    a, b, c = ids(review).values()
    session = open_vote(world, review, "approval")
    cast_all(world, review, session, [[a, b], [b], [b, c], [a]])
    result = close(world, review, session)
    assert result["winners"] == [b]
    assert [(r["name"], r["votes"]) for r in result["tally"]] == [("B", 3), ("A", 2), ("C", 1)]
    assert "B wins with 3 approvals of 4 (75%)." in vote_page(app, world, review)


def test_score(app, world):
    """{A 5, B 3}, {A 2, B 4, C 5}, {B 4}: totals A 7, B 11, C 5; means A 3.5, B 3.67, C 5.
    B wins on the total although C has the best mean (one ballot)."""
    review = blank_review(world)
    a, b, c = ids(review).values()
    session = open_vote(world, review, "score")
    cast_all(world, review, session, [{a: 5, b: 3}, {a: 2, b: 4, c: 5}, {b: 4}])
    result = close(world, review, session)
    rows = {r["name"]: r for r in result["tally"]}
    assert result["winners"] == [b]
    assert (rows["A"]["votes"], rows["B"]["votes"], rows["C"]["votes"]) == (7, 11, 5)
    assert rows["A"]["mean"] == 3.5 and rows["B"]["mean"] == pytest.approx(11 / 3)
    assert rows["C"]["mean"] == 5
    page = vote_page(app, world, review)
    assert "3.67" in page and "Points" in page


def test_score_ballot_from_the_form(app, world):
    review = blank_review(world)
    a, b, c = ids(review).values()
    session = open_vote(world, review, "score")
    r = login(app, world.users["member"]).post(
        f"/reviews/{review.id}/votes/{session.id}/ballot",
        data={f"ballot-c{a}": "4", f"ballot-c{b}": "0", f"ballot-c{c}": ""}, headers=HX)
    assert r.status_code == 200
    assert votes.load_payload("score", db.session.scalar(db.select(Ballot)).payload) == {a: 4, b: 0}


def test_ranked_irv_with_a_borda_tie_break(app, world):
    """3× A>C>B, 2× B>C>A, 2× C>B>A (7 ballots, 4 win).
    Round 1: A 3, B 2, C 2 — B and C tie for last; no earlier round, so Borda decides:
    B 2·2 + 2·1 = 6, C 3·1 + 2·1 + 2·2 = 9 → B is eliminated.
    Round 2: A 3, C 4 → C wins; C also beats A (4–3) and B (5–2) head-to-head: they agree."""
    review = blank_review(world)
    a, b, c = ids(review).values()
    session = open_vote(world, review, "ranked")
    cast_all(world, review, session, [[a, c, b]] * 3 + [[b, c, a]] * 2 + [[c, b, a]] * 2)
    result = close(world, review, session)
    first, second = result["rounds"]
    assert dict(map(tuple, first["counts"])) == {a: 3, b: 2, c: 2}
    assert first["eliminated"] == b and first["tie_break"] == "borda"
    assert "Borda" in first["note"]
    assert dict(map(tuple, second["counts"])) == {a: 3, c: 4} and second["elected"] == [c]
    assert result["winners"] == [c]
    assert result["condorcet"]["winner"] == c and result["condorcet"]["agrees_with_irv"] is True
    page = vote_page(app, world, review)
    assert "Instant-runoff rounds (2)" in page and "lowest Borda score" in page


def test_ranked_irv_and_condorcet_disagree(app, world):
    """4× A>B>C, 3× C>B>A, 2× B>A>C (9 ballots, 5 win).
    IRV: round 1 A 4, C 3, B 2 → B out; its ballots go to A: A 6, C 3 → A wins.
    Head-to-head B beats A 5–4 and C 6–3: B is the Condorcet winner — the methods disagree."""
    review = blank_review(world)
    a, b, c = ids(review).values()
    session = open_vote(world, review, "ranked")
    cast_all(world, review, session, [[a, b, c]] * 4 + [[c, b, a]] * 3 + [[b, a, c]] * 2)
    result = close(world, review, session)
    assert result["winners"] == [a]
    assert [r["eliminated"] for r in result["rounds"]] == [b, None]
    condorcet = result["condorcet"]
    assert condorcet["winner"] == b and condorcet["agrees_with_irv"] is False
    assert "the methods disagree" in result["summary"]
    pairwise = {(x, y): n for x, y, n in condorcet["pairwise"]}
    assert (pairwise[(b, a)], pairwise[(a, b)], pairwise[(b, c)]) == (5, 4, 6)
    page = vote_page(app, world, review)
    assert "beats every other candidate head-to-head" in page and 'class="condorcet disagree"' in page


def test_ranked_final_tie(app, world):
    """A>B and B>A: every round leaves A and B at 1 vote each — a tie, no winner is picked."""
    review = blank_review(world, names=("A", "B"))
    a, b = ids(review).values()
    session = open_vote(world, review, "ranked")
    cast_all(world, review, session, [[a, b], [b, a]])
    result = close(world, review, session)
    assert result["winners"] == [a, b] and len(result["rounds"]) == 1
    assert "tie" in result["summary"]


# --- quorum ------------------------------------------------------------------------------------

def test_quorum_share_count_and_each_role(app, world):
    """Voters: owner, facilitator, member (3). Share 60 %: ceil(1.8) = 2 ballots."""
    review = blank_review(world)
    a = ids(review)["A"]
    session = open_vote(world, review, quorum_kind="share", quorum_value="60%")
    votes.cast_ballot(world.users["member"], review, session.id, a)
    status = votes.board(review).quorum
    assert (status["met"], status["required"]) == (False, 2)
    votes.cast_ballot(world.users["owner"], review, session.id, a)
    assert votes.board(review).quorum["met"]
    close(world, review, session)

    each = open_vote(world, review, quorum_kind="count", quorum_value=1, quorum_each_role=True)
    votes.cast_ballot(world.users["member"], review, each.id, a)
    votes.cast_ballot(world.users["owner"], review, each.id, a)
    result = close(world, review, each)
    assert not result["quorum"]["met"] and "facilitator 0/1" in result["quorum"]["message"]
    assert "The quorum was not met" in vote_page(app, world, review)


# --- hidden tallies and anonymous ballots leak nowhere ---------------------------------------

def test_hidden_tallies_leak_nowhere_until_the_close(app, world, socket_client):
    """Policy "hidden until close": the page, the partials, the JSON, the socket pushes and the
    audit trail show who voted but never what — until the vote closes."""
    review = blank_review(world, names=("Zebraframework", "Other"))
    zebra = ids(review)["Zebraframework"]
    session = open_vote(world, review, "single", reveal="on_close")
    watcher = login(app, world.users["observer"])
    sock = socket_client(watcher, review.id)
    sock.get_received()
    member = login(app, world.users["member"])
    r = member.post(f"/reviews/{review.id}/votes/{session.id}/ballot",
                    data={"ballot-choice": str(zebra)}, headers=HX)
    assert r.status_code == 200

    def leaked(text: str) -> bool:  # a tally or the ballot itself
        return any(s in text for s in ("Live tally", "Zebraframework wins", "1 vote", "(100%)",
                                       "Member Person: ")) or bool(LISTED.search(text))

    for url in (f"/reviews/{review.id}/steps/vote", f"/reviews/{review.id}/regions/vote",
                f"/reviews/{review.id}/regions/decision", f"/reviews/{review.id}/votes/{session.id}.json",
                f"/teams/{world.team.id}"):
        for client in (watcher, member, login(app, world.users["owner"])):
            body = client.get(url, headers=HX if "regions" in url else {}).get_data(as_text=True)
            assert not leaked(body), url
    data = watcher.get(f"/reviews/{review.id}/votes/{session.id}.json").get_json()
    assert data["result"] is None and data["voted"] == ["Member Person"] and "ballots" not in data
    assert "Tallies are hidden until the vote closes" in vote_page(app, world, review)
    pushed = sock.get_received()
    assert pushed and all(not leaked(json.dumps(m)) for m in pushed)
    assert any("Member Person" in m["args"][0]["html"] for m in pushed if m["name"] == "fragment")
    for event in db.session.scalars(db.select(AuditEvent)):
        assert str(zebra) not in json.dumps(event.detail) or event.action != "vote.ballot_cast"

    votes.close_vote(world.users["facilitator"], review, session.id)
    assert "Zebraframework wins" in vote_page(app, world, review)
    assert watcher.get(f"/reviews/{review.id}/votes/{session.id}.json").get_json()["result"]


def test_anonymous_ballots_never_name_the_voter(app, world, socket_client):
    review = blank_review(world)
    a, b = ids(review)["A"], ids(review)["B"]
    session = open_vote(world, review, "single", anonymous=True)  # tallies live
    sock = socket_client(login(app, world.users["observer"]), review.id)
    votes.cast_ballot(world.users["member"], review, session.id, a)
    votes.cast_ballot(world.users["owner"], review, session.id, b)
    close(world, review, session)
    texts = [vote_page(app, world, review),
             login(app, world.users["owner"]).get(
                 f"/reviews/{review.id}/votes/{session.id}.json").get_data(as_text=True),
             json.dumps(sock.get_received())]
    for text in texts:
        assert "Member Person: A" not in text and "Olivia Owner: B" not in text
        assert not re.search(r'"ballots":\s*\[', text) and '"voter"' not in text
    assert "A and B tie" in texts[0]

    named = blank_review(world, title="Named")
    s2 = open_vote(world, named, "single")
    votes.cast_ballot(world.users["member"], named, s2.id, ids(named)["A"])
    close(world, named, s2)
    assert "Member Person: A" in vote_page(app, world, named)


# --- the live board ------------------------------------------------------------------------------

def test_ballot_pushes_the_board_the_page_renders(app, world, socket_client):
    review = blank_review(world)
    session = open_vote(world, review, "single")
    watcher = login(app, world.users["observer"])
    sock = socket_client(watcher, review.id)
    sock.get_received()
    votes.cast_ballot(world.users["member"], review, session.id, ids(review)["A"])
    (pushed,) = [m["args"][0]["html"] for m in sock.get_received() if m["name"] == "fragment"]
    assert "csrf" not in pushed and "Live tally" in pushed and "Member Person" in pushed
    for persona in ("observer", "owner", "member"):
        page = vote_page(app, world, review, persona)
        assert element(page, "vote-board") == pushed.strip()
    partial = watcher.get(f"/reviews/{review.id}/regions/vote", headers=HX).get_data(as_text=True)
    assert element(partial, "vote-board") == pushed.strip()


def test_open_and_close_tell_the_room_to_refresh(app, world, socket_client):
    review = blank_review(world)
    sock = socket_client(login(app, world.users["member"]), review.id)
    sock.get_received()
    session = open_vote(world, review)
    close(world, review, session)
    refreshes = [m["args"][0]["regions"] for m in sock.get_received() if m["name"] == "refresh"]
    assert refreshes == [["vote", "decision"]] * 2


def test_countdown_timer_is_pushed_to_the_room(app, world, socket_client):
    review = blank_review(world)
    session = open_vote(world, review)
    sock = socket_client(login(app, world.users["observer"]), review.id)
    sock.get_received()
    r = login(app, world.users["facilitator"]).post(
        f"/reviews/{review.id}/votes/{session.id}/timer", data={"timer-minutes": "5"}, headers=HX)
    assert r.status_code == 200
    (pushed,) = [m["args"][0]["html"] for m in sock.get_received() if m["name"] == "fragment"]
    assert 'role="timer"' in pushed and "--secs: 29" in pushed  # 299 or 300 seconds left
    bad = login(app, world.users["facilitator"]).post(
        f"/reviews/{review.id}/votes/{session.id}/timer", data={"timer-minutes": "999"}, headers=HX)
    assert bad.status_code == 422


def test_plain_post_without_htmx_renders_the_whole_workspace(app, world):
    review = blank_review(world)
    client = login(app, world.users["facilitator"])
    r = client.post(f"/reviews/{review.id}/votes", data={"vote-method": "nope"})
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and "<html" in body and 'id="step-nav"' in body
    assert "Not a valid choice" in body


def test_a_voter_demoted_to_observer_stays_named_on_the_board(app, world):
    """A ballot cast before its voter lost the member role still counts and is still named;
    the vote page keeps working for everyone (it once failed with a 500 here)."""
    from app.models import Membership  # noqa: PLC0415
    from app.services import teams  # noqa: PLC0415

    review = blank_review(world)
    session = open_vote(world, review)
    member = world.users["member"]
    votes.cast_ballot(member, review, session.id, ids(review)["A"])
    membership = db.session.scalar(db.select(Membership).where(
        Membership.team_id == world.team.id, Membership.user_id == member.id))
    teams.change_role(world.users["owner"], world.team, membership.id, Role.OBSERVER)
    page = vote_page(app, world, review, persona="facilitator")
    assert member.name in page
    assert votes.vote_view(review, world.users["facilitator"]).board.voted == [member.name]
