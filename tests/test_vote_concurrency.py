"""One ballot per member per vote, and no ballot after the close — under real concurrency, on a
SQLite file database (WAL) and on PostgreSQL: threads, each with its own app context, session
and connection, started together by a barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from app import create_app
from app.config import TestingConfig, normalise_database_url
from app.extensions import db
from app.models import AuditEvent, Ballot, Review, Role, User, VoteSession
from app.services import votes
from app.services.errors import Conflict
from tests.factories import add_member, make_review, make_team, make_user
from tests.services import fresh_postgres_database

THREADS = 50


def build_app(tmp_path, monkeypatch, uri: str, **options):
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    app = create_app(TestingConfig(SQLALCHEMY_DATABASE_URI=uri, **options))
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture
def sqlite_app(tmp_path, monkeypatch):
    app = build_app(tmp_path, monkeypatch, f"sqlite:///{tmp_path / 'race.sqlite3'}")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def postgres_app(tmp_path, monkeypatch):
    url, drop = fresh_postgres_database()
    app = build_app(tmp_path, monkeypatch, normalise_database_url(url),
                    SQLALCHEMY_ENGINE_OPTIONS={"pool_size": THREADS + 5, "max_overflow": 5})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    drop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def race_app(request):
    return request.getfixturevalue(f"{request.param}_app")


def setup_vote(app, members: int = 1) -> dict:
    with app.app_context():
        owner = make_user("Owner")
        team = make_team(owner, "Racers")
        people = [add_member(team, Role.MEMBER, make_user(f"Racer {i}")) for i in range(members)]
        review = make_review(team, owner, template="blank", extra_candidates=["A", "B"])
        session = votes.open_vote(owner, review, votes.VoteSettings("single"))
        return {"review": review.id, "session": session.id, "owner": owner.id,
                "members": [p.id for p in people], "candidates": [c.id for c in review.candidates]}


def in_threads(count: int, work: Callable[[int], object]) -> list:
    """Run work(i) in ``count`` threads released together; results or raised exceptions."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as err:  # noqa: BLE001 - the test inspects every outcome
            results[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results


def cast(app, ids: dict, user_id: int, choice: int):
    with app.app_context():
        try:
            user, review = db.session.get(User, user_id), db.session.get(Review, ids["review"])
            return votes.cast_ballot(user, review, ids["session"], choice).id
        finally:
            db.session.remove()


def close(app, ids: dict):
    with app.app_context():
        try:
            owner, review = db.session.get(User, ids["owner"]), db.session.get(Review, ids["review"])
            return votes.close_vote(owner, review, ids["session"]).id
        finally:
            db.session.remove()


def test_fifty_concurrent_ballots_of_one_member_leave_one_ballot(race_app):
    ids = setup_vote(race_app)
    member, (a, b) = ids["members"][0], ids["candidates"]
    results = in_threads(THREADS, lambda i: cast(race_app, ids, member, a if i % 2 else b))
    assert all(isinstance(r, int) for r in results), [r for r in results if not isinstance(r, int)]
    with race_app.app_context():
        ballots = db.session.scalars(db.select(Ballot)).all()
        assert len(ballots) == 1 and ballots[0].user_id == member
        assert ballots[0].payload in (a, b)
        assert db.session.get(VoteSession, ids["session"]).ballot_count == 1
        actions = db.session.scalars(db.select(AuditEvent.action)).all()
        assert actions.count("vote.ballot_cast") == 1
        assert actions.count("vote.ballot_changed") == THREADS - 1


def test_ballots_racing_the_close_are_counted_or_refused_never_half(race_app):
    """20 members cast while the facilitator closes: every ballot stored is counted in the
    result and in ballot_count; every ballot refused (Conflict) left nothing behind; ballots
    sent after the close are refused."""
    ids = setup_vote(race_app, members=25)
    racers, late = ids["members"][:20], ids["members"][20:]
    a = ids["candidates"][0]

    stored = threading.Condition()
    done = [0]

    def work(i: int):
        if i == len(racers):  # the closer strikes once a few ballots are in, amid the rest
            with stored:
                stored.wait_for(lambda: done[0] >= 3, timeout=60)
            return close(race_app, ids)
        try:
            return cast(race_app, ids, racers[i], a)
        finally:
            with stored:
                done[0] += 1
                stored.notify_all()

    results = in_threads(len(racers) + 1, work)
    assert isinstance(results[-1], int), results[-1]  # the close itself succeeded
    outcomes = dict(zip(racers, results[:-1], strict=True))
    for uid in late:
        with pytest.raises(Conflict):
            cast(race_app, ids, uid, a)
    refused = {uid for uid, r in outcomes.items() if isinstance(r, Conflict)}
    counted = {uid for uid, r in outcomes.items() if isinstance(r, int)}
    assert refused | counted == set(racers), outcomes
    assert len(counted) >= 3
    with race_app.app_context():
        rows = set(db.session.scalars(db.select(Ballot.user_id)).all())
        session = db.session.get(VoteSession, ids["session"])
        assert rows == counted
        assert session.status == "closed" and session.ballot_count == len(counted)
        assert session.result["ballots_counted"] == len(counted)
        assert sum(row["votes"] for row in session.result["tally"]) == len(counted)


def test_concurrent_closers_close_once(race_app):
    ids = setup_vote(race_app)
    with race_app.app_context():
        votes.cast_ballot(db.session.get(User, ids["members"][0]),
                          db.session.get(Review, ids["review"]), ids["session"], ids["candidates"][0])
    results = in_threads(8, lambda i: close(race_app, ids))
    assert sum(isinstance(r, int) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, int))
    with race_app.app_context():
        closes = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "vote.closed"))
        assert len(closes.all()) == 1
        assert db.session.get(VoteSession, ids["session"]).result["ballots_counted"] == 1
