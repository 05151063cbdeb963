"""Demo data: a few people, a team and a review in progress. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from app.extensions import db
from app.models import Membership, Review, Role, Team, User
from app.services import accounts, constraints, mapping, notes, reviews, teams

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
    users = [user for user, _ in people]
    fill_constraints(review, users)
    notes.add_demo_notes(review, users[1:3])
    fill_matrix(review, users)
    reviews.set_step(owner, review, "mapping")
    return DemoResult(True, logins)


DEMO_CONSTRAINTS = (
    dict(kind="traffic_rps", priority="must", knockout=False, target=800,
         description="Peak at the end of the month; 3× the current monolith."),
    dict(kind="latency_p95_ms", priority="must", knockout=True, target=150,
         description="Checkout calls this synchronously."),
    dict(kind="error_rate_pct", priority="should", knockout=False, target=0.5),
    dict(kind="memory_mb", priority="could", knockout=False, target=512),
    dict(kind="data_complexity", priority="should", knockout=False, target=25,
         relationships="moderate"),
    dict(kind="auth", priority="must", knockout=False, auth=["oauth2_oidc", "rbac"]),
    dict(kind="deployment", priority="must", knockout=False, deployment=["containers"],
         description="Kubernetes, 2 vCPU / 1 GiB per pod."),
)
DEMO_ANSWERS = {"api_first": True, "admin_panel": False, "realtime": False, "async_team": True,
                "integrations": False, "rapid_prototyping": False, "high_traffic": True,
                "serverless": False}
# criterion name -> scores for Django, Flask, FastAPI, Litestar by each of the three voters
DEMO_SCORES = {
    "Development speed": ((5, 4, 4, 3), (4, 4, 4, 3), (5, 3, 4, 3)),
    "Performance": ((2, 3, 5, 5), (3, 3, 4, 5), (2, 2, 5, 4)),
    "Ecosystem maturity": ((5, 5, 4, 2), (5, 4, 4, 2), (5, 5, 3, 2)),
    "Async support": ((3, 2, 5, 5), (2, 2, 5, 5), (3, 3, 5, 4)),
    "Hiring pool": ((5, 5, 4, 1), (4, 5, 4, 2), (5, 4, 3, 1)),
}


def fill_constraints(review, users) -> None:
    owner = users[0]
    for spec in DEMO_CONSTRAINTS:
        constraints.add_constraint(owner, review, **spec)
    for key, answer in DEMO_ANSWERS.items():
        constraints.answer_question(owner, review, key, answer)
    for user, levels in zip(users[:3], ((4, 3, 2, 0, 2), (2, 4, 4, 1, 4), (3, 2, 5, 2, 5)), strict=True):
        keys = [key for key, _ in constraints.subjects(review)]
        constraints.rate_expertise(user, review, dict(zip(keys, levels, strict=True)))


def fill_matrix(review, users) -> None:
    """Round 1 scored by the three voters on five criteria and revealed, so the heatmap,
    totals and sensitivity show at once."""
    by_name = {c.name: c for c in mapping.criteria_of(review)}
    for name, rows in DEMO_SCORES.items():
        for user, row in zip(users[:3], rows, strict=True):
            for candidate, value in zip(review.candidates, row, strict=True):
                mapping.score_cell(user, review, by_name[name].id, candidate.id, value)
    mapping.reveal(users[0], review)


def is_empty() -> bool:
    return db.session.scalar(db.select(db.func.count()).select_from(User)) == 0


def demo_review() -> Review | None:
    return db.session.scalar(db.select(Review).join(Team).where(Team.name == DEMO_TEAM))
