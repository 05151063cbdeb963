"""The page cache of the review workspace (app/rendering.py): a page, fragment or live region
served from the cache is exactly what a fresh render gives (apart from the CSRF token), after
every kind of change, for every viewer; one viewer never gets another's page; pages that
depend on the clock are never kept; conditional GETs answer 304 only while nothing changed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import update

from app.extensions import db
from app.models import Constraint, Membership, Role, Score, Step
from app.rendering import page_cache
from app.reviews import steps
from app.services import constraints, mapping, notes, reviews, teams, votes

HX = {"HX-Request": "true"}
TOKEN = re.compile(r"I[jm][\w-]{20,}\.[\w-]+\.[\w-]+")


def paths(review_id: int) -> list[tuple[str, dict]]:
    found = [(f"/reviews/{review_id}", {}), (f"/reviews/{review_id}/live", HX)]
    for step in Step:
        found += [(f"/reviews/{review_id}/steps/{step.value}", {}),
                  (f"/reviews/{review_id}/steps/{step.value}", HX)]
    found += [(f"/reviews/{review_id}/regions/{name}", HX) for name in steps.live_regions()]
    return found


def body(response) -> str:
    return TOKEN.sub("TOKEN", response.get_data(as_text=True))


def fresh(app, client, path, headers) -> str:
    """The same request rendered without the cache."""
    saved = app.extensions["tradeoff.page_cache"]
    app.extensions["tradeoff.page_cache"] = None
    try:
        response = client.get(path, headers=headers)
    finally:
        app.extensions["tradeoff.page_cache"] = saved
    assert response.status_code == 200, (path, response.status_code)
    return body(response)


def served(client, path, headers) -> str:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    return body(response)


@pytest.fixture
def cache(app):
    with app.test_request_context("/"):
        found = page_cache()
    assert found is not None, "the page cache is on in the test configuration"
    return found


@pytest.fixture
def scene(world, login_as):
    """The world's review with some of everything, and logged-in clients of three roles."""
    review, owner, member = world.review, world.users["owner"], world.users["member"]
    constraints.add_constraint(owner, review, kind="traffic_rps", priority="must", target=800,
                               description="Peak traffic")
    criteria = mapping.criteria_of(review)
    candidates = list(review.candidates)
    mapping.score_cell(member, review, criteria[0].id, candidates[0].id, 4, rationale="member's own view")
    notes.add_note(member, review, notes.NoteDraft(
        candidate_id=candidates[0].id, title="Spike on it", author_ids=[member.id], budget_hours=16,
        spent_hours=3, friction=["slow start"], pros=["docs"], cons=[], body="**bold**", links=[]))
    clients = {name: login_as(world.users[name]) for name in ("facilitator", "member", "observer")}
    for c in clients.values():
        c.get(f"/reviews/{review.id}")  # the login's flash message is shown (and gone)
    return world, clients


def assert_served_equals_fresh(app, clients, review_id) -> dict:
    """Every page for every client: warm, served (from the cache) == rendered fresh."""
    seen = {}
    for name, c in clients.items():
        for path, headers in paths(review_id):
            first = served(c, path, headers)
            again = served(c, path, headers)
            assert again == first, (name, path)
            assert again == fresh(app, c, path, headers), (name, path)
            seen[(name, path, bool(headers))] = again
    return seen


def test_cached_pages_are_the_fresh_render(app, scene, cache):
    world, clients = scene
    cache.clear()
    assert_served_equals_fresh(app, clients, world.review.id)
    assert cache.hits > 0 and len(cache) > 0


def _rename_user(w):
    w.users["member"].name = "Renamed Member"
    db.session.commit()


def _rename_team(w):
    w.team.name = "Renamed team"
    db.session.commit()


def _change_role(w):
    found = db.session.scalar(db.select(Membership).where(Membership.user_id == w.users["observer"].id))
    teams.change_role(w.users["owner"], w.team, found.id, Role.MEMBER)


def _core_update_constraint(w):
    db.session.execute(update(Constraint).where(Constraint.review_id == w.review.id)
                       .values(description="Changed by a Core UPDATE"))
    db.session.commit()


def _core_update_score(w):  # a table without review_id (scores belong to a round of the review)
    db.session.execute(update(Score).values(rationale="Changed rationale"))
    db.session.commit()


def _reveal(w):
    mapping.reveal(w.users["owner"], w.review)


def _add_criterion(w):
    mapping.add_criterion(w.users["owner"], w.review, "Brand new criterion", 3)


def _add_constraint(w):
    constraints.add_constraint(w.users["owner"], w.review, kind="memory_mb", priority="could", target=256)


def _add_note(w):
    candidate = list(w.review.candidates)[1]
    notes.add_note(w.users["facilitator"], w.review, notes.NoteDraft(
        candidate_id=candidate.id, title="Another spike", author_ids=[w.users["facilitator"].id],
        budget_hours=16, spent_hours=20, friction=[], pros=[], cons=["over budget"], body="", links=[]))


def _candidates(w):
    reviews.add_candidate(w.users["owner"], w.review, "Litestar", "ASGI")
    reviews.remove_candidate(w.users["owner"], w.review, list(w.review.candidates)[0].id)


def _details(w):
    reviews.update_details(w.users["owner"], w.review, title="A new title", question="Why?")


def _step(w):
    reviews.set_step(w.users["owner"], w.review, "vote")


def _vote(w):
    session = votes.open_vote(w.users["owner"], w.review, votes.VoteSettings(method="single"))
    votes.cast_ballot(w.users["member"], w.review, session.id, list(w.review.candidates)[0].id)
    votes.close_vote(w.users["owner"], w.review, session.id)  # a Core UPDATE of the session


def _expertise(w):
    keys = [key for key, _ in constraints.subjects(w.review)]
    constraints.rate_expertise(w.users["member"], w.review, {keys[0]: 5})


def _remove_member(w):
    found = db.session.scalar(db.select(Membership).where(Membership.user_id == w.users["member"].id))
    teams.remove_member(w.users["owner"], w.team, found.id)


MUTATIONS = [_rename_user, _rename_team, _change_role, _core_update_constraint, _core_update_score, _reveal,
             _add_criterion, _add_constraint, _add_note, _candidates, _details, _step, _vote, _expertise]


@pytest.mark.parametrize("mutate", MUTATIONS, ids=lambda f: f.__name__.strip("_"))
def test_every_kind_of_change_is_seen_at_once(app, scene, cache, mutate):
    world, clients = scene
    before = assert_served_equals_fresh(app, clients, world.review.id)
    mutate(world)
    after = assert_served_equals_fresh(app, clients, world.review.id)
    assert any(before[k] != after[k] for k in before), "the change shows somewhere"


def test_a_removed_member_is_refused_not_served_from_the_cache(app, scene, cache):
    world, clients = scene
    path = f"/reviews/{world.review.id}/steps/mapping"
    assert clients["member"].get(path).status_code == 200
    _remove_member(world)
    assert clients["member"].get(path).status_code == 404


def test_one_viewer_never_gets_anothers_page(app, world, login_as, cache):
    review, member = world.review, world.users["member"]
    criteria, candidates = mapping.criteria_of(review), list(review.candidates)
    mapping.score_cell(member, review, criteria[0].id, candidates[0].id, 2, rationale="my-private-rationale")
    facilitator, own, observer = (login_as(world.users[n]) for n in ("facilitator", "member", "observer"))
    path = f"/reviews/{review.id}/steps/mapping"
    for c in (facilitator, own, observer):
        c.get(f"/reviews/{review.id}")
    mine = own.get(path).get_data(as_text=True)
    assert "my-private-rationale" in mine  # blind round: the member sees their own score
    assert own.get(path).get_data(as_text=True) == mine  # from the cache now
    for other in (facilitator, observer):
        page = other.get(path).get_data(as_text=True)
        assert "my-private-rationale" not in page
    # Role-dependent controls: the facilitator's page (cached first) is not the observer's.
    step_path = f"/reviews/{review.id}/steps/constraints"
    assert "Manage candidates" in facilitator.get(step_path).get_data(as_text=True)
    assert "Manage candidates" in facilitator.get(step_path).get_data(as_text=True)
    assert "Manage candidates" not in observer.get(step_path).get_data(as_text=True)
    # Each response carries its own session's CSRF token, never a cached one of another.
    for c in (facilitator, own, observer):
        html = c.get(step_path).get_data(as_text=True)
        with c.session_transaction() as sess:
            secret = sess["csrf_token"]
        tokens = set(TOKEN.findall(html))
        assert tokens, "the page has forms"
        s = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token")
        assert {s.loads(t) for t in tokens} == {secret}


def test_pages_that_depend_on_the_clock_are_not_kept(app, world, login_as, cache):
    review, owner = world.review, world.users["owner"]
    votes.open_vote(owner, review, votes.VoteSettings(
        method="single", closes_at=datetime.now(UTC) + timedelta(hours=3)))
    c = login_as(world.users["member"])
    c.get(f"/reviews/{review.id}")
    cache.clear()
    for _ in range(2):
        assert c.get(f"/reviews/{review.id}/steps/vote").status_code == 200
        c.get(f"/reviews/{review.id}/regions/vote", headers=HX)
    assert len(cache) == 0 and cache.hits == 0
    c.get(f"/reviews/{review.id}/steps/constraints")
    assert len(cache) == 1


def test_conditional_get_answers_304_until_something_changes(app, world, login_as, cache):
    review = world.review
    c = login_as(world.users["member"])
    c.get(f"/reviews/{review.id}")  # the login's flash message is shown (a page with one is not kept)
    path = f"/reviews/{review.id}/regions/constraints"
    first = c.get(path, headers=HX)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and first.headers["Cache-Control"] == "private, no-cache"
    again = c.get(path, headers={**HX, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    constraints.add_constraint(world.users["owner"], review, kind="memory_mb", priority="could", target=64)
    changed = c.get(path, headers={**HX, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    # Another session of the same person has another CSRF secret: never a 304 for this copy.
    other = login_as(world.users["member"])
    other.get(f"/reviews/{review.id}")
    assert other.get(path, headers={**HX, "If-None-Match": changed.headers["ETag"]}).status_code == 200


def test_a_post_is_never_served_from_the_cache(app, world, login_as, cache):
    c = login_as(world.users["facilitator"])
    c.get(f"/reviews/{world.review.id}")
    size = len(cache)
    response = c.post(f"/reviews/{world.review.id}/details", data={"title": "", "question": ""}, headers=HX)
    assert response.status_code in (200, 400, 422)
    assert len(cache) == size


def test_statements_of_a_cached_page(app, world, login_as, cache):
    """Served from the cache, a step page costs one statement whatever the page: the login, the
    review with the viewer's role and (whole pages) the unread count (access.peek_viewer)."""
    from bench.pages import statements

    c = login_as(world.users["member"])
    c.get(f"/reviews/{world.review.id}")
    for step in Step:
        path = f"/reviews/{world.review.id}/steps/{step.value}"
        c.get(path)  # the first view of the matrix starts its first scoring round (a write)
        c.get(path)
        with statements() as seen:
            assert c.get(path).status_code == 200
        assert len(seen) == 1, (step, seen)


@pytest.fixture
def statements(app):
    """The SQL statements the database runs while the fixture is active."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_a_ballot_moves_the_stamp_once_and_every_page_sees_it(app, scene, cache, statements):
    world, clients = scene
    owner = world.users["owner"]
    session = votes.open_vote(owner, world.review, votes.VoteSettings(method="single"))
    votes.cast_ballot(world.users["facilitator"], world.review, session.id, list(world.review.candidates)[0].id)
    before = assert_served_equals_fresh(app, clients, world.review.id)
    stamp, revision = world.review.updated_at, world.review.revision
    statements.clear()
    votes.cast_ballot(world.users["member"], world.review, session.id, list(world.review.candidates)[1].id)
    updates = [s for s in statements if s.startswith("UPDATE reviews")]
    assert len(updates) == 1 and "revision" in updates[0] and "updated_at" in updates[0], updates
    db.session.refresh(world.review)
    assert world.review.revision > revision and world.review.updated_at != stamp
    after = assert_served_equals_fresh(app, clients, world.review.id)
    assert any(before[k] != after[k] for k in before), "the ballot shows somewhere"


def test_a_transactions_stamp_covers_only_its_review_and_only_until_it_ends(app, world, statements):
    from app import realtime
    from tests.factories import make_review

    other = make_review(world.team, template="blank", title="Another review", extra_candidates=["X", "Y"])
    first, second = world.review, other
    with app.test_request_context("/"):
        realtime.bump_revision(first.id, commit=False)
        statements.clear()
        constraints.add_constraint(world.users["owner"], second, kind="memory_mb", priority="could",
                                   target=256)  # commits: the other review is stamped
        stamped = [s for s in statements if s.startswith("UPDATE reviews")]
        assert stamped, "a write to another review is stamped even inside a stamped transaction"
        statements.clear()
        constraints.add_constraint(world.users["owner"], first, kind="memory_mb", priority="could",
                                   target=512)  # a new transaction: stamped again
        assert [s for s in statements if s.startswith("UPDATE reviews")], "forgotten at the commit"
        realtime.bump_revision(first.id, commit=False)
        db.session.rollback()
        statements.clear()
        constraints.add_constraint(world.users["owner"], first, kind="traffic_rps", priority="could",
                                   target=10)
        assert [s for s in statements if s.startswith("UPDATE reviews")], "forgotten at the rollback"
