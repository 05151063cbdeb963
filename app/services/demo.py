"""Demo data: a few people, a team and a review in progress. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.extensions import db
from app.models import Membership, Review, Role, Team, User
from app.services import (
    accounts,
    benchmarks,
    constraints,
    decisions,
    mapping,
    notes,
    reviews,
    teams,
    votes,
)

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
    fill_benchmarks(review, users)
    reviews.set_step(owner, review, "mapping")
    fill_open_vote(review, users)
    archived_decision(team, users)
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


def fill_open_vote(review, users) -> None:
    """An open ranked vote on the main review: deadline in three days, Ana and Ben have voted."""
    session = votes.open_vote(users[0], review, votes.VoteSettings(
        method="ranked", closes_at=datetime.now(UTC) + timedelta(days=3), quorum_kind="share",
        quorum_value=0.5, reveal="live"))
    by_name = {c.name: c.id for c in review.candidates}
    for user, order in ((users[1], ("FastAPI", "Litestar", "Django")),
                        (users[2], ("Litestar", "FastAPI", "Flask", "Django"))):
        votes.cast_ballot(user, review, session.id, [by_name[n] for n in order])


def archived_decision(team, users) -> Review:
    """A second review, voted on, signed off (with one objection) and archived."""
    owner, ana, ben = users[:3]
    review = reviews.create_review(
        owner, team, title="Web framework for the internal admin portal",
        question="Which framework gives the support team an admin portal soonest, on our VMs?",
        template="python-web-framework")
    for spec in (dict(kind="auth", priority="must", knockout=True, auth=["sessions", "sso_saml"],
                      description="Staff log in with the company SSO."),
                 dict(kind="data_complexity", priority="should", target=40,
                      relationships="complex"),
                 dict(kind="deployment", priority="must", deployment=["vms"])):
        constraints.add_constraint(owner, review, **spec)
    by_name = {c.name: c for c in mapping.criteria_of(review)}
    for user, rows in zip(users[:3], (((5, 2, 1), (5, 3, 3)), ((5, 3, 2), (4, 4, 3)),
                                      ((4, 2, 2), (5, 4, 4))), strict=True):
        for name, row in zip(("Built-in admin panel", "Development speed"), rows, strict=True):
            for candidate, value in zip(review.candidates, row, strict=True):
                mapping.score_cell(user, review, by_name[name].id, candidate.id, value)
    mapping.reveal(owner, review)
    reviews.set_step(owner, review, "vote")
    session = votes.open_vote(owner, review, votes.VoteSettings(
        method="single", quorum_kind="share", quorum_value=0.5))
    django, fastapi = review.candidates[0].id, review.candidates[2].id
    for user, choice in ((owner, django), (ana, django), (ben, fastapi)):
        votes.cast_ballot(user, review, session.id, choice)
    votes.close_vote(owner, review, session.id)
    decisions.draft_decision(owner, review, decisions.DecisionDraft(
        candidate_id=django, tags=("admin", "internal-tools"),
        revisit_on=datetime.now(UTC).date() + timedelta(days=180),
        rationale="Django's admin gives the support team a working portal in days, and its "
                  "session auth plugs into the company SSO.",
        consequences="- We own a Django upgrade cadence (LTS releases).\n"
                     "- Async endpoints stay out of scope for this portal."))
    decisions.sign(owner, review, "agree")
    decisions.sign(ana, review, "agree")
    decisions.sign(ben, review, "object", "FastAPI would let us share code with the orders API.")
    decisions.sign_off(owner, review)
    return review


DEMO_BENCHMARKS = Path(__file__).resolve().parent.parent / "demo_data" / "benchmarks"
DEMO_BENCH_NOTE = ("Demo data: real tool output, measured against a loopback server that imitates "
                   "this candidate's latency — not a measurement of the framework "
                   "(app/demo_data/README.md).")
# (candidate, files, label, server, memory MB entered), oldest first: the Locust runs come last,
# so they are each candidate's latest (compared) run.
DEMO_RUNS = (
    ("Flask", ("flask-wrk.txt",), "wrk smoke test, 20 connections, 5 s",
     "gunicorn 4 sync workers", None),
    ("FastAPI", ("fastapi-hey.txt",), "hey smoke test, 2000 requests", "uvicorn 2 workers", None),
    ("Django", ("django_stats.csv", "django_stats_history.csv", "django_failures.csv"),
     "Locust 60 users, 35 s", "gunicorn 4 sync workers", 420),
    ("Flask", ("flask_stats.csv", "flask_stats_history.csv", "flask_failures.csv"),
     "Locust 60 users, 35 s", "gunicorn 4 sync workers", 210),
    ("FastAPI", ("fastapi_stats.csv", "fastapi_stats_history.csv", "fastapi_failures.csv"),
     "Locust 60 users, 35 s", "uvicorn 2 workers", 180),
    ("Litestar", ("litestar_stats.csv", "litestar_stats_history.csv", "litestar_failures.csv"),
     "Locust 60 users, 35 s", "uvicorn 2 workers", 170),
)


def fill_benchmarks(review, users) -> None:
    """Real Locust, wrk and hey output for each candidate (see app/demo_data/README.md)."""
    for i, (candidate, names, label, server, memory) in enumerate(DEMO_RUNS):
        streams = [(DEMO_BENCHMARKS / name).open("rb") for name in names]
        try:
            benchmarks.ingest_run(
                users[1 + i % 2], review, candidate,
                [benchmarks.IncomingFile(name, s) for name, s in zip(names, streams, strict=True)],
                benchmarks.RunDetails(label=label, server=server, hardware="2 vCPU / 4 GB (demo)",
                                      memory_mb=memory, notes=DEMO_BENCH_NOTE))
        finally:
            for stream in streams:
                stream.close()
