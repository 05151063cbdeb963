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
