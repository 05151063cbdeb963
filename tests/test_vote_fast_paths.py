"""The ballot's fast path gives the same results as the plain one: the caster's answer reuses the
board the broadcast was built from and renders only what the vote region uses; broadcasts are
held until the answer is rendered (and still sent when it fails); SQLite's synchronous setting."""

from __future__ import annotations

import pytest

from app import create_app, realtime
from app.config import TestingConfig
from app.extensions import db, socketio
from app.models import Role
from app.services import votes
from app.vote import routes
from tests.factories import add_member, make_user
from tests.test_page_cache import TOKEN
from tests.test_socketio import element
from tests.test_vote import HX, blank_review, ids, login, open_vote


def plain_path(monkeypatch) -> None:
    """The answer built as before: the whole step's context, the board counted again."""
    monkeypatch.setattr(routes, "vote_region_context", routes.vote_context)
    monkeypatch.setattr(votes, "_remembered_board", lambda _session: None)


@pytest.mark.parametrize("persona", ["member", "facilitator", "owner"])
@pytest.mark.parametrize("method", ["ranked", "single"])
def test_the_answer_to_a_ballot_is_what_the_plain_path_renders(app, world, socket_client, monkeypatch,
                                                                persona, method):
    review = blank_review(world, names=("A", "B", "C", "D"))
    session = open_vote(world, review, method)
    for i in range(3):
        voter = add_member(world.team, Role.MEMBER, make_user(f"Early Voter {i}"))
        ballot = [ids(review)[n] for n in "ABCD"[i:] + "ABCD"[:i]] if method == "ranked" else ids(review)["B"]
        votes.cast_ballot(voter, review, session.id, ballot)
    watcher = socket_client(login(app, world.users["observer"]), review.id)
    watcher.get_received()
    client = login(app, world.users[persona])
    url = f"/reviews/{review.id}/votes/{session.id}/ballot"
    form = ({f"ballot-c{ids(review)[n]}": str(rank) for rank, n in enumerate("CAB", 1)}
            if method == "ranked" else {"ballot-choice": str(ids(review)["C"])})
    fast = client.post(url, data=form, headers=HX)
    (pushed,) = [m["args"][0]["html"] for m in watcher.get_received() if m["name"] == "fragment"]
    assert fast.status_code == 200
    fast_html = fast.get_data(as_text=True)
    assert element(fast_html, "vote-board") == pushed.strip()  # the very board the room got

    plain_path(monkeypatch)
    plain = client.post(url, data=form, headers=HX)  # the same ballot again: nothing changes
    assert plain.status_code == 200
    # Equal byte for byte but for the CSRF tokens, which carry the second they were signed in.
    assert TOKEN.sub("TOKEN", fast_html) == TOKEN.sub("TOKEN", plain.get_data(as_text=True))


def test_the_vote_regions_answers_match_the_region_route_when_closed_and_open(app, world):
    review = blank_review(world)
    session = open_vote(world, review, "single")
    votes.cast_ballot(world.users["member"], review, session.id, ids(review)["A"])
    fac = login(app, world.users["facilitator"])
    region = f"/reviews/{review.id}/regions/vote"
    timer = fac.post(f"/reviews/{review.id}/votes/{session.id}/timer", data={"timer-minutes": "5"}, headers=HX)
    assert timer.status_code == 200
    expected = fac.get(region, headers=HX).get_data(as_text=True)
    assert element(timer.get_data(as_text=True), "region-vote") == element(expected, "region-vote")
    closed = fac.post(f"/reviews/{review.id}/votes/{session.id}/close", headers=HX)
    assert closed.status_code == 200 and "Open a new vote" in closed.get_data(as_text=True)
    expected = fac.get(region, headers=HX).get_data(as_text=True)
    assert element(closed.get_data(as_text=True), "region-vote") == element(expected, "region-vote")


def test_a_write_after_the_broadcast_forgets_the_remembered_board(app, world):
    review = blank_review(world)
    session = open_vote(world, review, "single")
    votes.cast_ballot(world.users["member"], review, session.id, ids(review)["A"])
    assert votes._remembered_board(session) is not None
    votes.cast_ballot(world.users["owner"], review, session.id, ids(review)["B"])
    view = votes.vote_view(review, world.users["owner"]).board
    assert len(view.voted) == 2  # rebuilt (or remembered from the second cast), never the first
    db.session.commit()
    assert votes._remembered_board(session) is None


def test_broadcasts_are_held_until_the_answer_is_rendered_and_sent_even_if_it_fails(app, world, monkeypatch):
    sent = []
    monkeypatch.setattr(socketio, "emit", lambda event, data, to=None: sent.append((event, to)))
    with app.test_request_context("/"):
        with realtime.broadcasts_after_answer():
            realtime.broadcast_fragment(world.review.id, "<p id=x></p>", rev=1)
            with realtime.broadcasts_after_answer():  # nested: the outer block sends
                realtime.push_refresh(world.review.id, "vote")
            assert sent == []
        assert sent == [("fragment", f"review:{world.review.id}"), ("refresh", f"review:{world.review.id}")]
        sent.clear()
        with pytest.raises(RuntimeError), realtime.broadcasts_after_answer():
            realtime.broadcast_fragment(world.review.id, "<p id=x></p>", rev=2)
            raise RuntimeError("the answer failed")
        assert sent == [("fragment", f"review:{world.review.id}")]
        realtime.broadcast_fragment(world.review.id, "<p id=x></p>", rev=3)  # no block: at once
        assert len(sent) == 2


@pytest.mark.parametrize(("setting", "expected"), [(None, 1), ("full", 2), ("NORMAL", 1)])
def test_sqlite_synchronous_setting(tmp_path, monkeypatch, setting, expected):
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    if setting:
        monkeypatch.setenv("SQLITE_SYNCHRONOUS", setting)
    else:
        monkeypatch.delenv("SQLITE_SYNCHRONOUS", raising=False)
    app = create_app(TestingConfig(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.sqlite3'}"))
    with app.app_context():
        assert db.session.execute(db.text("PRAGMA synchronous")).scalar() == expected
        assert db.session.execute(db.text("PRAGMA journal_mode")).scalar() == "wal"
        db.engine.dispose()


def test_a_bad_sqlite_synchronous_setting_stops_the_start(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEOFF_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SQLITE_SYNCHRONOUS", "off")
    with pytest.raises(RuntimeError, match="SQLITE_SYNCHRONOUS"):
        create_app(TestingConfig(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.sqlite3'}"))


def test_the_board_is_rendered_once_per_ballot_and_the_answer_embeds_it(app, world, socket_client, monkeypatch):
    review = blank_review(world)
    session = open_vote(world, review, "single")
    watcher = socket_client(login(app, world.users["observer"]), review.id)
    watcher.get_received()
    rendered, embedded = [], []
    render_fragment, remembered = realtime.render_fragment, votes.remembered_board_html

    def counting_render(template, block, **context):
        html = render_fragment(template, block, **context)
        rendered.append((block, html))
        return html

    def spying_remembered(board_view):
        found = remembered(board_view)
        embedded.append(found)
        return found

    monkeypatch.setattr(realtime, "render_fragment", counting_render)
    monkeypatch.setattr(votes, "remembered_board_html", spying_remembered)
    template = app.jinja_env.get_template(routes.TEMPLATE)
    block, runs = template.blocks["vote_board"], []

    def counting_block(context):
        runs.append(1)
        yield from block(context)

    monkeypatch.setitem(template.blocks, "vote_board", counting_block)
    client = login(app, world.users["member"])
    answer = client.post(f"/reviews/{review.id}/votes/{session.id}/ballot",
                         data={"ballot-choice": str(ids(review)["A"])}, headers=HX)
    assert answer.status_code == 200
    assert [name for name, _ in rendered] == ["vote_board"]  # the broadcast's render
    assert len(runs) == 1  # and the block ran for it alone: the answer did not render it again
    assert embedded == [rendered[0][1]]  # the answer took that very HTML
    (pushed,) = [m["args"][0]["html"] for m in watcher.get_received() if m["name"] == "fragment"]
    assert pushed == rendered[0][1]
    assert element(answer.get_data(as_text=True), "vote-board") == pushed.strip()


def test_remembered_board_html_is_only_for_the_board_it_was_rendered_from(app, world):
    review = blank_review(world)
    session = open_vote(world, review, "single")
    with app.test_request_context("/"):
        html = votes.render_board(review, session)
        built = votes._remembered_board(session)
        assert votes.remembered_board_html(built[0]) == html
        assert votes.remembered_board_html(votes.board(review, session)) is None  # another board
        votes.cast_ballot(world.users["member"], review, session.id, ids(review)["B"])
        assert votes.remembered_board_html(built[0]) is None  # a write since: forgotten
        fresh = votes.vote_view(review, world.users["member"]).board
        assert fresh.voted == [world.users["member"].name]
        db.session.commit()
        assert votes.remembered_board_html(fresh) is None


def test_the_board_reads_rows_equal_to_the_ballots(app, world):
    """The board's ballots are plain rows; they carry what the ORM objects carry."""
    review = blank_review(world)
    session = open_vote(world, review, "ranked")
    for persona, order in (("member", "ABC"), ("owner", "CBA"), ("facilitator", "BAC")):
        votes.cast_ballot(world.users[persona], review, session.id, [ids(review)[n] for n in order])
    _view, rows, eligible = votes._board(review, session)
    objects = votes.ballots_of(session)
    assert [(r.id, r.user_id, r.role, r.payload) for r in rows] == \
        [(b.id, b.user_id, b.role, b.payload) for b in objects]
    assert eligible == votes.eligible_roles(review)
