"""The archive: records across a user's teams with search and filters, the revisit flag and its
notification, "supersede", and the demo's whole cycle."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from app.extensions import db
from app.models import Decision, Review, Role, VoteSession
from app.services import constraints, decisions, demo, mapping, notifications, scheduler, votes
from app.services.errors import Conflict
from tests.factories import add_member, make_review, make_team, make_user
from tests.test_decisions import draft, signed_review, voted_review
from tests.test_vote import HX, ids, login


def sign_in_team(team, people, title: str, choose: str, tags: str = "") -> Review:
    """A blank review A, B, C in ``team``: everyone votes ``choose``, all agree, signed off."""
    owner = people[0]
    review = make_review(team, owner, template="blank", title=title,
                         extra_candidates=["A", "B", "C"])
    session = votes.open_vote(owner, review, votes.VoteSettings("single"))
    for person in people:
        votes.cast_ballot(person, review, session.id, ids(review)[choose])
    votes.close_vote(owner, review, session.id)
    decisions.draft_decision(owner, review, decisions.DecisionDraft(
        candidate_id=ids(review)[choose], rationale=f"{choose} fits {title}.", tags=tags,
        revisit_on=date.today() + timedelta(days=100)))
    for person in people:
        decisions.sign(person, review, "agree")
    decisions.sign_off(owner, review)
    return review


def set_signed_off(review, when: datetime) -> None:
    db.session.execute(text("UPDATE decisions SET signed_off_at = :w WHERE review_id = :r"),
                       {"w": when.replace(tzinfo=None).isoformat(sep=" "), "r": review.id})
    db.session.commit()


def set_revisit(review, day: date) -> None:
    db.session.execute(db.update(Review).where(Review.id == review.id).values(revisit_on=day))
    db.session.commit()
    db.session.expire_all()


@pytest.fixture
def archive(app, world):
    """Two teams of the owner with signed-off records, one team the owner is not in, and a
    proposed (not signed) decision that must not be listed."""
    people = [world.users["owner"], world.users["facilitator"], world.users["member"]]
    first = sign_in_team(world.team, people, "Queue", "A", "backend, queues")
    second = sign_in_team(world.team, people, "Cache", "B", "backend")
    other_team = make_team(world.users["owner"], "Data team")
    third = sign_in_team(other_team, [world.users["owner"]], "Warehouse", "C", "data")
    stranger = make_user("Stranger")
    foreign = sign_in_team(make_team(stranger, "Foreign"), [stranger], "Foreign secret", "A")
    pending = voted_review(world)
    draft(world, pending)
    set_signed_off(first, datetime(2024, 1, 10, tzinfo=UTC))
    set_signed_off(second, datetime(2024, 6, 1, tzinfo=UTC))
    set_signed_off(third, datetime(2025, 2, 1, tzinfo=UTC))
    return {"queue": first, "cache": second, "warehouse": third, "foreign": foreign,
            "pending": pending, "data_team": other_team}


def listed(client, query: str = "", headers=None) -> list[str]:
    body = client.get(f"/archive{query}", headers=headers or {}).get_data(as_text=True)
    return [t for t in ("Queue", "Cache", "Warehouse", "Foreign secret", "Pick one") if
            f">{t}</a>" in body]


def test_archive_lists_signed_off_decisions_across_the_users_teams(app, world, archive):
    owner = login(app, world.users["owner"])
    assert listed(owner) == ["Queue", "Cache", "Warehouse"]  # newest first in the table order
    body = owner.get("/archive").get_data(as_text=True)
    assert body.index(">Warehouse<") < body.index(">Cache<") < body.index(">Queue<")
    assert listed(login(app, world.users["member"])) == ["Queue", "Cache"]  # not in Data team
    assert listed(login(app, world.users["non_member"])) == []


@pytest.mark.parametrize("query, expected", [
    ("?q=cache", ["Cache"]),
    ("?q=fits+warehouse", ["Warehouse"]),  # the rationale is searched too
    ("?chosen=b", ["Cache"]),
    ("?tag=backend", ["Queue", "Cache"]),
    ("?tag=queues", ["Queue"]),
    ("?date_from=2024-05-01", ["Cache", "Warehouse"]),
    ("?date_from=2024-01-01&date_to=2024-06-01", ["Queue", "Cache"]),
    ("?date_to=not-a-date", ["Queue", "Cache", "Warehouse"]),
    ("?status=accepted", ["Queue", "Cache", "Warehouse"]),
    ("?status=superseded", []),
])
def test_archive_filters(app, world, archive, query, expected):
    assert sorted(listed(login(app, world.users["owner"]), query)) == sorted(expected)


def test_archive_team_filter_and_htmx_partial(app, world, archive):
    client = login(app, world.users["owner"])
    team_id = archive["data_team"].id
    assert listed(client, f"?team={team_id}") == ["Warehouse"]
    partial = client.get(f"/archive?team={team_id}", headers=HX).get_data(as_text=True)
    assert partial.strip().startswith('<section id="archive-results"') and "<html" not in partial
    choices = decisions.archive_choices(world.users["member"])
    assert choices["chosen"] == ["A", "B"] and choices["tags"] == ["backend", "queues"]


def test_due_for_revisit_is_flagged_and_the_team_notified_once(app, world, archive):
    set_revisit(archive["cache"], date.today() - timedelta(days=1))
    client = login(app, world.users["owner"])
    assert listed(client, "?status=revisit_due") == ["Cache"]
    assert "Cache" not in listed(client, "?status=accepted")
    assert "due for revisit" in client.get(f"/reviews/{archive['cache'].id}/record").get_data(as_text=True)
    sent = scheduler.due_work().revisits  # the scheduler's pass
    assert sent == 4  # the whole team: owner, facilitator, member, observer
    for persona in ("owner", "facilitator", "member", "observer"):
        titles = [n.title for n in notifications.notifications_for(world.users[persona])]
        assert "Time to revisit: Cache" in titles
    assert decisions.notify_revisits_due() == 0  # once
    assert "Time to revisit" not in " ".join(
        n.title for n in notifications.notifications_for(world.users["non_member"]))


def test_supersede_starts_a_prefilled_review_and_links_it(app, world):
    review = signed_review(world)
    old_criteria = {c.name: c.weight for c in mapping.criteria_of(review)}
    client = login(app, world.users["facilitator"])
    r = client.post(f"/reviews/{review.id}/record/supersede")
    assert r.status_code == 303
    db.session.expire_all()
    decision = decisions.decision_of(review)
    new = db.session.get(Review, decision.successor_review_id)
    assert r.headers["Location"].endswith(f"/reviews/{new.id}")
    assert [c.name for c in new.candidates] == ["A", "B", "C"]
    assert {c.name: c.weight for c in mapping.criteria_of(new)} == old_criteria
    assert new.status == "draft" and new.title == "Pick one (revisited)"
    assert decisions.predecessor_of(new).id == decision.id
    record = client.get(f"/reviews/{review.id}/record").get_data(as_text=True)
    assert "superseded" in record and f"/reviews/{new.id}" in record
    md = client.get(f"/reviews/{review.id}/record.md").get_data(as_text=True)
    assert "* Status: superseded by [Pick one (revisited)]" in md
    assert "This review revisits" in client.get(f"/reviews/{new.id}/steps/vote").get_data(as_text=True)
    assert listed(client, "?status=superseded") == ["Pick one"]
    again = client.post(f"/reviews/{review.id}/record/supersede", headers=HX)
    assert again.status_code == 409 and "already been superseded" in again.get_data(as_text=True)
    assert decisions.verify(decision).ok  # the successor link is outside the hash


def test_supersede_copies_constraints_from_the_record(app, world):
    review = voted_review(world)
    # constraints added before the decision: a sign-off needs the review unfrozen
    constraints.add_constraint(world.users["owner"], review, kind="auth", priority="must",
                               auth=["oauth2_oidc"], knockout=True, description="SSO only")
    constraints.add_constraint(world.users["owner"], review, kind="traffic_rps",
                               priority="should", target=250)
    draft(world, review)
    for persona in ("owner", "member"):
        decisions.sign(world.users[persona], review, "agree")
    decisions.sign_off(world.users["facilitator"], review)
    new = decisions.supersede(world.users["owner"], review)
    copied = [(c.kind, c.priority, c.knockout, c.target, c.details, c.description)
              for c in constraints.constraints_of(new)]
    assert copied == [("auth", "must", True, None, {"options": ["oauth2_oidc"]}, "SSO only"),
                      ("traffic_rps", "should", False, 250.0, {}, "")]


def test_supersede_rules(app, world):
    review = voted_review(world)
    draft(world, review)
    with pytest.raises(Conflict, match="Only a signed-off decision"):
        decisions.supersede(world.users["owner"], review)
    signed = signed_review(world)
    for persona in ("member", "observer"):
        assert login(app, world.users[persona]).post(
            f"/reviews/{signed.id}/record/supersede").status_code == 403


def test_demo_shows_the_whole_cycle(app, runner):
    assert runner.invoke(args=["demo"]).exit_code == 0
    main = demo.demo_review()
    assert main.status == "in_progress"
    session = votes.open_session(main)
    assert session is not None and session.is_open
    assert timedelta(days=2, hours=23) < session.closes_at - datetime.now(UTC) <= timedelta(days=3)
    voters = sorted(b.user.name for b in votes.ballots_of(session))
    assert voters == ["Ana Member", "Ben Member"]
    archived = db.session.scalars(db.select(Decision)).all()
    assert len(archived) == 1 and archived[0].is_signed_off
    assert archived[0].review.status == "archived" and archived[0].review_id != main.id
    assert decisions.verify(archived[0]).ok
    assert json.loads(archived[0].snapshot)["dissent"][0]["user"] == "Ben Member"
    verify = runner.invoke(args=["archive", "verify"])
    assert verify.exit_code == 0
    olga = app.test_client()
    olga.post("/login", data={"email": "olga@example.com", "password": demo.DEMO_PASSWORD})
    assert "Web framework for the internal admin portal" in olga.get("/archive").get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(VoteSession)) == 2


def test_observer_member_of_many_teams_sees_each(app, world):
    other = make_team(make_user("Other owner"), "Other")
    add_member(other, Role.OBSERVER, world.users["member"])
    people = [other.owners()[0].user]
    sign_in_team(other, people, "Observed", "A")
    body = login(app, world.users["member"]).get("/archive").get_data(as_text=True)
    assert ">Observed</a>" in body
