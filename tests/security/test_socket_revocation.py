"""A socket outlives nothing: once its user logged out, was removed from the team or lost a
role, it can no longer act or listen — disconnected or refused, at once.

tests/test_socketio.py already shows that a logout closes that browser's sockets, a password
change closes all of the user's sockets, and that an event after a removal is refused. Here:
the removal closes the socket (no more room broadcasts), a client that stopped sending
heartbeats is closed all the same, a lost role is refused on the very next event, and — against
gunicorn — neither the same Engine.IO connection nor the captured cookie gets back in."""

from __future__ import annotations

import re

import pytest

from app.access import SOCKET_RULES, socket_event
from app.extensions import socketio
from app.models import Role
from app.services import presence, teams
from tests.factories import PASSWORD
from tests.security.attack_server import RawSocket, logged_in, polling_handshake, serve


def login(app, user):
    client = app.test_client()
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
    return client


def events(sc, name):
    return [m["args"][0] for m in sc.get_received() if m["name"] == name]


@pytest.fixture
def member_event(app):
    """A socket event that needs the member role, registered through @socket_event like every
    real one (today's only event, heartbeat, is open to observers) and removed afterwards."""
    name = "security-probe:member"

    @socket_event(name, "review:member")
    def probe(review, payload):
        return {"ok": True, "review": review.id}

    yield name
    SOCKET_RULES.pop(name, None)
    socketio.server.handlers.get("/", {}).pop(name, None)


def test_removed_member_is_disconnected_and_stops_receiving(app, world, socket_client):
    member = world.users["member"]
    watcher = socket_client(login(app, world.users["facilitator"]), world.review.id)
    sc = socket_client(login(app, member), world.review.id)
    assert sc.is_connected()
    sc.get_received()
    teams.remove_member(world.users["owner"], world.team, world.team.membership_of(member.id).id)
    assert not sc.is_connected()
    # The room goes on without them: a later broadcast does not reach the removed socket.
    watcher.get_received()
    seen = len(sc.queue)  # what the test client stored; get_received() needs a connection
    login(app, world.users["facilitator"]).post(f"/reviews/{world.review.id}/candidates",
                                                data={"candidate-name": "Litestar"})
    assert "Litestar" in events(watcher, "fragment")[-1]["html"]
    assert sc.queue[seen:] == []
    # ... and the same browser cannot come back.
    assert not socket_client(login(app, member), world.review.id).is_connected()


def test_removal_through_the_team_page_closes_the_socket(app, world, socket_client):
    member = world.users["member"]
    sc = socket_client(login(app, member), world.review.id)
    membership = world.team.membership_of(member.id)
    r = login(app, world.users["owner"]).post(
        f"/teams/{world.team.id}/members/{membership.id}/remove", headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert not sc.is_connected()


def test_removal_closes_only_that_teams_sockets(app, world, socket_client):
    """Removed from one team, the member keeps a socket in another team's review."""
    member = world.users["member"]
    own_team = teams.create_team(member, "Member's own team")
    from tests.factories import make_review

    own_review = make_review(own_team, member)
    client = login(app, member)
    here = socket_client(client, world.review.id)
    there = socket_client(client, own_review.id)
    teams.remove_member(world.users["owner"], world.team, world.team.membership_of(member.id).id)
    assert not here.is_connected()
    assert there.is_connected()


@pytest.mark.parametrize("ending", ["logout", "removal"])
def test_a_socket_without_heartbeats_is_closed_too(app, world, socket_client, monkeypatch, ending):
    """A client that keeps the connection (Engine.IO pings) but stops the app's heartbeats
    falls out of the presence list; it must not fall out of the list of sockets to close."""
    member = world.users["member"]
    client = login(app, member)
    sc = socket_client(client, world.review.id)
    monkeypatch.setattr(presence, "STALE_AFTER_S", -1)  # every entry is now stale
    assert member.id not in app.extensions["tradeoff.presence"].user_ids(world.review.id)
    if ending == "logout":
        client.post("/logout")
    else:
        teams.remove_member(world.users["owner"], world.team, world.team.membership_of(member.id).id)
    assert not sc.is_connected()


@pytest.mark.parametrize("old, new", [("member", Role.OBSERVER), ("facilitator", Role.OBSERVER),
                                      ("owner", Role.OBSERVER)])
def test_a_lost_role_is_refused_on_the_next_event(app, world, socket_client, member_event, old, new):
    user = world.users[old]
    sc = socket_client(login(app, user), world.review.id)
    assert sc.emit(member_event, {"review_id": world.review.id}, callback=True)["ok"] is True
    if old == "owner":  # the team keeps an owner
        teams.change_role(user, world.team, world.team.membership_of(world.users["facilitator"].id).id,
                          Role.OWNER)
    teams.change_role(world.users["owner"] if old != "owner" else world.users["facilitator"],
                      world.team, world.team.membership_of(user.id).id, new)
    ack = sc.emit(member_event, {"review_id": world.review.id}, callback=True)
    assert ack == {"ok": False, "status": 403, "error": "not allowed"}
    # Still a legitimate observer of the room: an observer's event is answered.
    assert sc.emit("heartbeat", {"review_id": world.review.id}, callback=True)["ok"] is True


def test_a_regained_role_is_honoured_again(app, world, socket_client, member_event):
    """The check reads the role at each event; it is not cached from the connect."""
    user = world.users["observer"]
    sc = socket_client(login(app, user), world.review.id)
    assert sc.emit(member_event, {"review_id": world.review.id}, callback=True)["status"] == 403
    teams.change_role(world.users["owner"], world.team, world.team.membership_of(user.id).id,
                      Role.MEMBER)
    assert sc.emit(member_event, {"review_id": world.review.id}, callback=True)["ok"] is True


# -- against gunicorn: the same Engine.IO connection and the captured cookie ---------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve(tmp_path_factory)


def closed_or_refused(raw: RawSocket, review_id: int) -> str:
    """After a server-side disconnect: the namespace is gone; try to connect it again on the
    same Engine.IO connection (what a malicious client would do)."""
    frame = raw.recv()
    # Room events already on their way (a presence push is coalesced, so it may leave a little
    # later) can come first; the socket's websocket timeout bounds the wait for the disconnect.
    for _ in range(20):
        if not frame.startswith("42"):
            break
        frame = raw.recv()
    assert frame.startswith("41") or frame == "1", frame  # DISCONNECT of the namespace / CLOSE
    if frame == "1":
        return "closed"
    try:
        return raw.connect(review_id)
    except Exception as err:  # noqa: BLE001 - any end of the connection is a refusal here
        return f"closed: {type(err).__name__}"


def test_live_logout_disconnects_and_the_captured_cookie_stays_out(server):
    review = server.world["review_id"]
    browser = logged_in(server, "member")
    captured = browser.cookie_header()
    raw = RawSocket(server, cookie=captured)
    try:
        assert raw.connect(review) == "connected"
        assert browser.logout().status_code == 303
        outcome = closed_or_refused(raw, review)
        assert outcome != "connected", outcome
    finally:
        raw.close()
    assert polling_handshake(server, cookie=captured).status_code == 401
    assert polling_handshake(server, cookie=captured, origin=server.url).status_code == 401


def test_live_removal_disconnects_and_reconnect_is_refused(server):
    review = server.world["review_id"]
    spare = logged_in(server, "spare0@example.com")
    owner = logged_in(server, "owner")
    raw = RawSocket(server, cookie=spare.cookie_header())
    try:
        assert raw.connect(review) == "connected"
        team = server.world["team_id"]
        page = owner.get(f"/teams/{team}").text
        membership = re.search(rf"/teams/{team}/members/(\d+)/remove",
                               page[page.index("Spare 0"):]).group(1)
        r = owner.post(f"/teams/{team}/members/{membership}/remove",
                       headers={"X-CSRFToken": owner.csrf(f"/teams/{team}"), "HX-Request": "true"})
        assert r.status_code == 200
        outcome = closed_or_refused(raw, review)
        assert outcome != "connected", outcome
    finally:
        raw.close()
    # The session is still valid (only the membership went): a new socket is refused by the room.
    fresh = RawSocket(server, cookie=spare.cookie_header())
    try:
        assert fresh.connect(review).startswith("refused")
    finally:
        fresh.close()
