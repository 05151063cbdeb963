"""The live review room: who may join, presence, step changes, and that the pushed fragment
is the very block the page renders."""

from __future__ import annotations

import re

from app import realtime
from app.extensions import db
from tests.factories import PASSWORD


def logged_in(app, user):
    client = app.test_client()
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
    return client


def events(sc, name):
    return [m["args"][0] for m in sc.get_received() if m["name"] == name]


def element(html: str, element_id: str) -> str:
    """The outer HTML of the element with this id (blocks are one element each)."""
    start = html.index(f'id="{element_id}"')
    start = html.rindex("<", 0, start)
    tag = re.match(r"<(\w+)", html[start:]).group(1)
    depth, i = 0, start
    for m in re.finditer(rf"<(/?){tag}\b[^>]*>", html[start:]):
        depth += -1 if m.group(1) else 1
        if depth == 0:
            i = start + m.end()
            break
    return html[start:i]


def test_anonymous_is_refused(app, world, socket_client):
    assert not socket_client(app.test_client(), world.review.id).is_connected()


def test_non_member_is_refused(app, world, socket_client):
    assert not socket_client(logged_in(app, world.users["non_member"]), world.review.id).is_connected()


def test_foreign_origin_is_refused(app, world, socket_client):
    client = logged_in(app, world.users["member"])
    sc = socket_client(client, world.review.id, headers={"Origin": "https://evil.example"})
    assert not sc.is_connected()
    ok = socket_client(client, world.review.id, headers={"Origin": "http://localhost"})
    assert ok.is_connected()


def test_connect_needs_a_review(app, world, socket_client):
    client = logged_in(app, world.users["member"])
    assert not socket_client(client, "not-a-number").is_connected()
    assert not socket_client(client, 999999).is_connected()


def test_presence_reaches_other_members_and_matches_the_page(app, world, socket_client):
    fac_client = logged_in(app, world.users["facilitator"])
    fac = socket_client(fac_client, world.review.id)
    fac.get_received()
    member_client = logged_in(app, world.users["member"])
    socket_client(member_client, world.review.id)

    pushed = events(fac, "fragment")[-1]["html"]
    assert "Member Person" in pushed and "Facilitator Person" in pushed
    page = fac_client.get(f"/reviews/{world.review.id}").get_data(as_text=True)
    assert element(page, "presence") == pushed.strip()


def test_presence_updates_when_someone_leaves(app, world, socket_client):
    fac = socket_client(logged_in(app, world.users["facilitator"]), world.review.id)
    member = socket_client(logged_in(app, world.users["member"]), world.review.id)
    fac.get_received()
    member.disconnect()
    pushed = events(fac, "fragment")[-1]["html"]
    assert "Facilitator Person" in pushed and "Member Person" not in pushed


def test_step_change_moves_everyone(app, world, socket_client):
    fac_client = logged_in(app, world.users["facilitator"])
    member_client = logged_in(app, world.users["member"])
    member = socket_client(member_client, world.review.id)
    member.get_received()

    r = fac_client.post(f"/reviews/{world.review.id}/step", data={"step": "benchmarks"},
                        headers={"HX-Request": "true"})
    assert r.status_code == 200 and 'data-step="benchmarks"' in r.get_data(as_text=True)

    (step,) = events(member, "step")
    assert step["step"] == "benchmarks"
    page = member_client.get(f"/reviews/{world.review.id}").get_data(as_text=True)
    assert element(page, "step-nav") == step["nav"].strip()
    assert 'aria-current="step"' in step["nav"]
    # What the client then fetches: the step section through the htmx route.
    partial = member_client.get(f"/reviews/{world.review.id}/steps/benchmarks",
                                headers={"HX-Request": "true"}).get_data(as_text=True)
    assert partial.strip().startswith('<section id="step-section"')
    assert element(page, "step-section") == partial.strip()


def test_pushed_fragments_do_not_depend_on_the_viewer(app, world):
    """Rendered for the owner or the observer, the broadcast blocks are identical."""
    with app.test_request_context():
        as_nobody = realtime.render_step_nav(world.review), realtime.render_candidates(world.review)
    for persona in ("owner", "observer"):
        client = logged_in(app, world.users[persona])
        page = client.get(f"/reviews/{world.review.id}").get_data(as_text=True)
        assert element(page, "step-nav") == as_nobody[0].strip()
        assert element(page, "candidates") == as_nobody[1].strip()
        assert "csrf" not in as_nobody[0] + as_nobody[1]


def test_candidate_added_is_pushed(app, world, socket_client):
    member = socket_client(logged_in(app, world.users["member"]), world.review.id)
    member.get_received()
    logged_in(app, world.users["facilitator"]).post(
        f"/reviews/{world.review.id}/candidates", data={"candidate-name": "Litestar"})
    assert "Litestar" in events(member, "fragment")[-1]["html"]


def test_logout_closes_that_browsers_sockets(app, world, socket_client):
    client = logged_in(app, world.users["member"])
    other_browser = logged_in(app, world.users["member"])
    sc = socket_client(client, world.review.id)
    other = socket_client(other_browser, world.review.id)
    assert sc.is_connected() and other.is_connected()
    client.post("/logout")
    assert not sc.is_connected()
    assert other.is_connected()


def test_password_change_closes_every_socket_of_the_user(app, world, socket_client):
    client = logged_in(app, world.users["member"])
    other = socket_client(logged_in(app, world.users["member"]), world.review.id)
    client.post("/account", data={"current_password": PASSWORD, "password": "another long one",
                                  "confirm": "another long one"})
    assert not other.is_connected()


def test_events_recheck_membership(app, world, socket_client):
    """Removed from the team while connected: the next event is refused."""
    sc = socket_client(logged_in(app, world.users["member"]), world.review.id)
    assert sc.emit("heartbeat", {"review_id": world.review.id}, callback=True)["ok"] is True
    membership = world.team.membership_of(world.users["member"].id)
    db.session.delete(membership)
    db.session.commit()
    ack = sc.emit("heartbeat", {"review_id": world.review.id}, callback=True)
    assert ack["ok"] is False and ack["status"] == 404


def test_heartbeat_reports_the_revision_so_missed_updates_are_noticed(app, world, socket_client):
    """A client that missed broadcasts (reconnect, Redis outage) sees a higher revision in its
    heartbeat and re-fetches its view through the live route."""
    member_client = logged_in(app, world.users["member"])
    sc = socket_client(member_client, world.review.id)
    before = sc.emit("heartbeat", {"review_id": world.review.id}, callback=True)["rev"]
    logged_in(app, world.users["facilitator"]).post(f"/reviews/{world.review.id}/step",
                                                    data={"step": "vote"})
    after = sc.emit("heartbeat", {"review_id": world.review.id}, callback=True)["rev"]
    assert after > before
    live = member_client.get(f"/reviews/{world.review.id}/live", headers={"HX-Request": "true"})
    body = live.get_data(as_text=True).strip()
    assert body.startswith('<div class="workspace" id="workspace"')
    assert f'data-revision="{after}"' in body and 'data-step="vote"' in body
