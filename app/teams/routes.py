"""Teams: create, members and roles, invitation links."""

from __future__ import annotations

from flask import current_app, flash, url_for
from flask_login import current_user

from app.access import access
from app.forms import EmptyForm, attempt, form_status
from app.models import Role
from app.rendering import redirect_to, render
from app.services import audit, teams
from app.services.errors import Conflict
from app.teams import bp
from app.teams.forms import InvitationForm, RoleForm, TeamForm


@bp.route("/teams", methods=["GET", "POST"])
@access("login")
def index():
    form = TeamForm()
    team = attempt(form, lambda: teams.create_team(current_user, form.name.data))
    if team:
        flash(f"Team {team.name} created. Invite people from its page.", "success")
        return redirect_to(url_for("teams.show", team_id=team.id))
    return render("teams/index.html", "create_form", form=form,
                  teams=teams.teams_of(current_user), status=form_status(form))


def render_team(team, *, invite_form=None, new_link=None, status=200, block=None, problem=None):
    return render(
        "teams/show.html", block, team=team, status=status, problem=problem,
        invite_form=invite_form or InvitationForm(), new_link=new_link,
        invitations=teams.open_invitations(team), reviews=team.reviews,
        audit_events=audit.events_for_team(team.id, 30),
    )


@bp.get("/teams/<int:team_id>")
@access("team:observer")
def show(team):
    return render_team(team)


@bp.post("/teams/<int:team_id>/invitations")
@access("team:facilitator")
def invite(team):
    form = InvitationForm()
    token = attempt(form, lambda: teams.create_invitation(
        current_user, team, Role(form.role.data), current_app.config["INVITATION_TTL"],
        form.note.data or ""))
    link = url_for("teams.join", token=token, _external=True) if token else None
    return render_team(team, invite_form=form if not token else None, new_link=link,
                       status=form_status(form) if not token else 201, block="invitations")


@bp.post("/teams/<int:team_id>/invitations/<int:invitation_id>/revoke")
@access("team:facilitator")
def revoke_invitation(team, invitation_id: int):
    if EmptyForm().validate_on_submit():
        teams.revoke_invitation(current_user, team, invitation_id)
    return render_team(team, block="invitations")


@bp.post("/teams/<int:team_id>/members/<int:membership_id>/role")
@access("team:owner")
def change_role(team, membership_id: int):
    form = RoleForm()
    try:
        attempt(form, lambda: teams.change_role(current_user, team, membership_id,
                                                Role(form.role.data)))
    except Conflict as err:
        return render_team(team, block="members", status=err.status, problem=err.message)
    return render_team(team, block="members", status=form_status(form))


@bp.post("/teams/<int:team_id>/members/<int:membership_id>/remove")
@access("team:owner")
def remove_member(team, membership_id: int):
    if EmptyForm().validate_on_submit():
        try:
            teams.remove_member(current_user, team, membership_id)
        except Conflict as err:
            return render_team(team, block="members", status=err.status, problem=err.message)
    return render_team(team, block="members")


@bp.route("/invite/<token>", methods=["GET", "POST"])
@access("login")
def join(token: str):
    """Show what the link offers; POST accepts it."""
    invitation = teams.find_invitation(token)
    form = EmptyForm()
    if form.validate_on_submit():
        joined = teams.accept_invitation(current_user, token)
        flash(f"You joined {joined.team.name} as {joined.role}.", "success")
        return redirect_to(url_for("teams.show", team_id=joined.team_id))
    already = teams.membership(invitation.team_id, current_user.id)
    return render("teams/join.html", invitation=invitation, form=form, already=already)
