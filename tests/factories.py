"""Test data factories: real rows through the real services, so invariants hold."""

from __future__ import annotations

import itertools

from app.extensions import db
from app.models import Membership, Role
from app.services import accounts, reviews, teams

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def make_user(name: str | None = None, email: str | None = None, password: str = PASSWORD):
    n = next(_seq)
    return accounts.register(email or f"user{n}@example.com", name or f"User {n}", password)


def make_team(owner=None, name: str = "Team"):
    return teams.create_team(owner or make_user(), name)


def add_member(team, role: Role | str, user=None):
    user = user or make_user()
    db.session.add(Membership(team=team, user=user, role=Role(role).value))
    db.session.commit()
    return user


def make_review(team, actor=None, template: str = "python-web-framework", **kw):
    actor = actor or team.owners()[0].user
    return reviews.create_review(actor, team, title=kw.pop("title", "Pick a framework"),
                                 question=kw.pop("question", ""), template=template, **kw)


def make_world() -> dict:
    """A team with one person per role, an outsider with a team of their own, and a review:
    {"team", "review", "other_team", "users": {persona: User}} (owner, facilitator, member, observer,
    non_member)."""
    owner = make_user("Olivia Owner", "owner@example.com")
    team = make_team(owner, "Core team")
    users = {"owner": owner}
    for role in (Role.FACILITATOR, Role.MEMBER, Role.OBSERVER):
        users[role.value] = add_member(team, role, make_user(f"{role.label} Person",
                                                             f"{role.value}@example.com"))
    users["non_member"] = make_user("Nora Outsider", "outsider@example.com")
    other_team = make_team(users["non_member"], "Other team")
    return {"team": team, "review": make_review(team, owner), "other_team": other_team, "users": users}
