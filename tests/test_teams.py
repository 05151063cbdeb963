"""Teams: creation, invitations with roles and expiry, role changes, removal, visibility."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.models import AuditEvent, Invitation, Membership, Role
from app.services import teams
from app.services.errors import Conflict, Forbidden, NotFound
from tests.factories import PASSWORD, add_member, make_team, make_user


def login(app, user):
    c = app.test_client()
    c.post("/login", data={"email": user.email, "password": PASSWORD})
    return c


def test_create_team_makes_the_creator_owner(app):
    user = make_user()
    c = login(app, user)
    r = c.post("/teams", data={"name": "Payments"})
    assert r.status_code == 303
    team_page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "Payments" in team_page and "You are owner" in team_page


def test_create_team_needs_a_name(app):
    r = login(app, make_user()).post("/teams", data={"name": "   "})
    assert r.status_code == 422


def test_everyone_sees_only_their_own_teams(app, world):
    outsider = login(app, world.users["non_member"])
    listing = outsider.get("/teams").get_data(as_text=True)
    assert "Other team" in listing and "Core team" not in listing
    assert outsider.get(f"/teams/{world.team.id}").status_code == 404
    assert "Core team" not in outsider.get("/").get_data(as_text=True)


def test_invitation_link_joins_with_its_role(app, world):
    fac = login(app, world.users["facilitator"])
    r = fac.post(f"/teams/{world.team.id}/invitations", data={"role": "member", "note": "for Zed"},
                 headers={"HX-Request": "true"})
    assert r.status_code == 201
    link = re.search(r'value="(http://localhost/invite/[^"]+)"', r.get_data(as_text=True)).group(1)
    newcomer = make_user("Zed")
    zed = login(app, newcomer)
    assert "Join Core team" in zed.get(link).get_data(as_text=True)
    assert zed.post(link).status_code == 303
    assert world.team.membership_of(newcomer.id).role == "member"
    assert zed.get(f"/teams/{world.team.id}").status_code == 200


def test_invitation_link_for_anonymous_goes_through_login(app, world):
    token = teams.create_invitation(world.users["owner"], world.team, Role.OBSERVER, timedelta(days=1))
    r = app.test_client().get(f"/invite/{token}")
    assert r.status_code == 302 and f"next=/invite/{token}" in r.headers["Location"]


def test_expired_and_revoked_invitations_are_refused(app, world):
    token = teams.create_invitation(world.users["owner"], world.team, Role.MEMBER, timedelta(days=1))
    invitation = db.session.scalar(db.select(Invitation))
    invitation.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    c = login(app, make_user())
    r = c.get(f"/invite/{token}")
    assert r.status_code == 409 and "expired" in r.get_data(as_text=True)
    assert c.get("/invite/made-up-token").status_code == 404


def test_a_facilitator_cannot_invite_an_owner(app, world):
    with pytest.raises(Forbidden):
        teams.create_invitation(world.users["facilitator"], world.team, Role.OWNER, timedelta(days=1))


def test_only_the_token_hash_is_stored(app, world):
    token = teams.create_invitation(world.users["owner"], world.team, Role.MEMBER, timedelta(days=1))
    stored = db.session.scalar(db.select(Invitation))
    assert token not in stored.token_hash and len(stored.token_hash) == 64


def test_revoke_invitation(app, world):
    token = teams.create_invitation(world.users["owner"], world.team, Role.MEMBER, timedelta(days=1))
    invitation = db.session.scalar(db.select(Invitation))
    r = login(app, world.users["owner"]).post(
        f"/teams/{world.team.id}/invitations/{invitation.id}/revoke")
    assert r.status_code == 200
    db.session.expire_all()
    with pytest.raises(Conflict):
        teams.find_invitation(token)


def test_owner_changes_roles_and_it_is_audited(app, world):
    member = world.team.membership_of(world.users["member"].id)
    r = login(app, world.users["owner"]).post(
        f"/teams/{world.team.id}/members/{member.id}/role", data={"role": "facilitator"},
        headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.get_data(as_text=True).strip().startswith('<div id="members">')
    db.session.expire_all()
    assert db.session.get(Membership, member.id).role == "facilitator"
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "membership.role_changed"))
    assert event.detail == {"user_id": member.user_id, "old": "member", "new": "facilitator"}


def test_the_last_owner_stays(app, world):
    owner = world.team.membership_of(world.users["owner"].id)
    c = login(app, world.users["owner"])
    r = c.post(f"/teams/{world.team.id}/members/{owner.id}/role", data={"role": "member"})
    assert r.status_code == 409 and "at least one owner" in r.get_data(as_text=True)
    r = c.post(f"/teams/{world.team.id}/members/{owner.id}/remove")
    assert r.status_code == 409


def test_owner_removes_a_member(app, world):
    member = world.team.membership_of(world.users["member"].id)
    r = login(app, world.users["owner"]).post(f"/teams/{world.team.id}/members/{member.id}/remove")
    assert r.status_code == 200
    assert login(app, world.users["member"]).get(f"/teams/{world.team.id}").status_code == 404


def test_membership_ids_of_other_teams_are_not_reachable(app, world):
    other = make_team(make_user(), "Elsewhere")
    foreign = add_member(other, Role.MEMBER)
    foreign_membership = other.membership_of(foreign.id)
    with pytest.raises(NotFound):
        teams.remove_member(world.users["owner"], world.team, foreign_membership.id)


def test_bad_role_value_is_a_clear_4xx(app, world):
    member = world.team.membership_of(world.users["member"].id)
    r = login(app, world.users["owner"]).post(
        f"/teams/{world.team.id}/members/{member.id}/role", data={"role": "emperor"})
    assert r.status_code == 422
