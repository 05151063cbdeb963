"""Teams, roles and invitations."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Invitation, Membership, Review, Role, Team, User
from app.services import audit, live
from app.services.errors import Conflict, Forbidden, Invalid, NotFound


def _now() -> datetime:
    return datetime.now(UTC)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def teams_of(user: User) -> list[Team]:
    """The teams the user belongs to; nobody sees any other team."""
    return list(
        db.session.scalars(
            db.select(Team).join(Membership).where(Membership.user_id == user.id).order_by(Team.name)
        )
    )


def membership(team_id: int, user_id: int) -> Membership | None:
    return db.session.scalar(
        db.select(Membership).where(Membership.team_id == team_id, Membership.user_id == user_id)
    )


def create_team(actor: User, name: str) -> Team:
    """Create a team with the actor as its owner."""
    name = (name or "").strip()
    if not name:
        raise Invalid("Give the team a name.", field="name")
    team = Team(name=name[:80])
    team.memberships.append(Membership(user=actor, role=Role.OWNER.value))
    db.session.add(team)
    db.session.flush()
    audit.record("team.created", actor=actor, team_id=team.id, name=team.name)
    db.session.commit()
    return team


def create_invitation(actor: User, team: Team, role: Role, ttl: timedelta, note: str = "") -> str:
    """Create an invitation link token (returned once, stored only as a hash).

    Raises Forbidden when the actor would hand out a role above their own."""
    mine = team.membership_of(actor.id)
    if mine is None or not mine.role_enum.at_least(role):
        raise Forbidden("You can only invite people with a role up to your own.")
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        team=team, role=Role(role).value, token_hash=_token_hash(token), note=note.strip()[:120],
        created_by=actor, expires_at=_now() + ttl,
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record("invitation.created", actor=actor, team_id=team.id, role=invitation.role,
                 invitation_id=invitation.id, expires_at=invitation.expires_at.isoformat())
    db.session.commit()
    return token


def open_invitations(team: Team) -> list[Invitation]:
    return list(
        db.session.scalars(
            db.select(Invitation)
            .where(Invitation.team_id == team.id, Invitation.revoked_at.is_(None),
                   Invitation.expires_at > _now())
            .order_by(Invitation.id.desc())
        )
    )


def find_invitation(token: str) -> Invitation:
    """Raises NotFound for an unknown token and Conflict for an expired or revoked one."""
    invitation = db.session.scalar(
        db.select(Invitation).where(Invitation.token_hash == _token_hash(token or ""))
    )
    if invitation is None:
        raise NotFound("This invitation link is not valid. Ask for a new one.")
    if not invitation.is_usable(_now()):
        raise Conflict("This invitation link has expired or was withdrawn. Ask for a new one.")
    return invitation


def accept_invitation(user: User, token: str) -> Membership:
    """Join the invitation's team with its role. Already a member: nothing changes."""
    invitation = find_invitation(token)
    existing = membership(invitation.team_id, user.id)
    if existing:
        return existing
    joined = Membership(team_id=invitation.team_id, user_id=user.id, role=invitation.role)
    db.session.add(joined)
    invitation.uses += 1
    audit.record("membership.joined", actor=user, team_id=invitation.team_id,
                 role=invitation.role, invitation_id=invitation.id)
    try:
        db.session.commit()
    except IntegrityError:  # joined twice at once from two tabs: the first one won
        db.session.rollback()
        return membership(invitation.team_id, user.id)
    return joined


def revoke_invitation(actor: User, team: Team, invitation_id: int) -> None:
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.team_id != team.id:
        raise NotFound("No such invitation.")
    invitation.revoked_at = _now()
    audit.record("invitation.revoked", actor=actor, team_id=team.id, invitation_id=invitation.id)
    db.session.commit()


def _member_of_team(team: Team, membership_id: int) -> Membership:
    found = db.session.get(Membership, membership_id)
    if found is None or found.team_id != team.id:
        raise NotFound("That person is not a member of this team.")
    return found


def _keep_an_owner(team: Team, target: Membership) -> None:
    if target.role == Role.OWNER and len(team.owners()) == 1:
        raise Conflict("A team needs at least one owner. Make someone else owner first.")


def change_role(actor: User, team: Team, membership_id: int, role: Role) -> Membership:
    """Owners change roles. Raises Conflict when it would leave the team without an owner."""
    target = _member_of_team(team, membership_id)
    role = Role(role)
    if target.role != role.value:
        if role != Role.OWNER:
            _keep_an_owner(team, target)
        audit.record("membership.role_changed", actor=actor, team_id=team.id,
                     user_id=target.user_id, old=target.role, new=role.value)
        target.role = role.value
        db.session.commit()
    return target


def remove_member(actor: User, team: Team, membership_id: int) -> None:
    """Owners remove members. Raises Conflict for the last owner. The removed person's open
    sockets in the team's reviews are closed at once: they stop receiving the room's updates
    (and a reconnect is refused, since it checks membership)."""
    target = _member_of_team(team, membership_id)
    _keep_an_owner(team, target)
    user_id = target.user_id
    audit.record("membership.removed", actor=actor, team_id=team.id, user_id=user_id,
                 role=target.role)
    db.session.delete(target)
    db.session.commit()
    review_ids = set(db.session.scalars(db.select(Review.id).where(Review.team_id == team.id)))
    live.disconnect_user_from_reviews(user_id, review_ids)
