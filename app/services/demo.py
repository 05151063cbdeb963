"""Demo data: a few people, a team and a review in progress. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from app.extensions import db
from app.models import Membership, Review, Role, Team, User
from app.services import accounts, reviews, teams

DEMO_PASSWORD = "tradeoff-demo"
DEMO_TEAM = "Platform team (demo)"
DEMO_PEOPLE = (
    ("facilitator@example.com", "Fran Facilitator", Role.OWNER),
    ("ana@example.com", "Ana Member", Role.MEMBER),
    ("ben@example.com", "Ben Member", Role.MEMBER),
    ("olga@example.com", "Olga Observer", Role.OBSERVER),
)


@dataclass
class DemoResult:
    created: bool
    logins: list[tuple[str, str, str]]


def _person(email: str, name: str) -> User:
    return accounts.find_by_email(email) or accounts.register(email, name, DEMO_PASSWORD)


def load_demo() -> DemoResult:
    """Create the demo users, team and review unless they exist already."""
    logins = [(email, DEMO_PASSWORD, role.value) for email, _, role in DEMO_PEOPLE]
    if db.session.scalar(db.select(Team).where(Team.name == DEMO_TEAM)):
        return DemoResult(False, logins)
    people = [(_person(email, name), role) for email, name, role in DEMO_PEOPLE]
    owner = people[0][0]
    team = teams.create_team(owner, DEMO_TEAM)
    for user, role in people[1:]:
        db.session.add(Membership(team=team, user=user, role=role.value))
    db.session.commit()
    review = reviews.create_review(
        owner, team, title="Web framework for the orders service",
        question="Which Python web framework should the new orders API be built on?",
        template="python-web-framework", extra_candidates=["Litestar"],
    )
    reviews.set_step(owner, review, "mapping")
    return DemoResult(True, logins)


def is_empty() -> bool:
    return db.session.scalar(db.select(db.func.count()).select_from(User)) == 0


def demo_review() -> Review | None:
    return db.session.scalar(db.select(Review).join(Team).where(Team.name == DEMO_TEAM))
