"""A realistic review to benchmark the workspace against, built through the app's services.

The default world is what a busy workshop has after a few days: 10 voting members (plus an
observer), 5 candidates, 12 criteria with every cell scored by every member (round revealed),
20 benchmark runs (real Locust/wrk/hey output from app/demo_data), 10 prototype notes, typed
constraints with the checklist answered and everyone's expertise rated, and a closed vote.
``scale=2`` doubles members, candidates, runs and notes (criteria stay at 12) — the pages must
issue the same number of SQL statements for both (no N+1).

    .venv/bin/python -m bench.seed [--workshop]   # seeds the database of the environment's app;
                                                  # prints the review id and logins as JSON

Used in-process by tests/test_bench_smoke_pages.py (with small sizes) and by bench/run.py
(in a subprocess against the instance folder gunicorn serves)."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

from app.extensions import db
from app.models import Membership, Role
from app.services import accounts, benchmarks, constraints, mapping, notes, reviews, teams, votes
from app.services.demo import DEMO_ANSWERS, DEMO_CONSTRAINTS

PASSWORD = "bench-password-1"
DEMO_BENCHMARKS = Path(__file__).resolve().parents[1] / "app" / "demo_data" / "benchmarks"
# One run = one upload; cycled through per candidate.
RUN_FILES = (
    ("django_stats.csv", "django_stats_history.csv", "django_failures.csv"),
    ("flask-wrk.txt",),
    ("fastapi_stats.csv", "fastapi_stats_history.csv", "fastapi_failures.csv"),
    ("fastapi-hey.txt",),
    ("litestar_stats.csv", "litestar_stats_history.csv", "litestar_failures.csv"),
    ("flask_stats.csv", "flask_stats_history.csv", "flask_failures.csv"),
)
EXTRA_CANDIDATES = ("Litestar", "Starlette", "Quart", "Pyramid", "Tornado", "Sanic", "Falcon",
                    "Bottle", "BlackSheep")


@dataclass(frozen=True)
class Size:
    members: int = 10  # voting members (owner + facilitator + members); an observer comes extra
    candidates: int = 5
    criteria: int = 12
    runs: int = 20
    notes: int = 10

    def doubled(self) -> Size:
        return Size(self.members * 2, self.candidates * 2, self.criteria, self.runs * 2, self.notes * 2)


@dataclass(frozen=True)
class Seeded:
    review_id: int
    member_email: str  # a voting member (what the benchmark logs in as)
    owner_email: str
    password: str
    size: Size
    member_emails: tuple[str, ...] = ()  # every voter but the owner


_unique = itertools.count(1)


def seed_workspace(size: Size = Size(), prefix: str | None = None, *, workshop: bool = False) -> Seeded:
    """Create the world of ``size`` (inside an app context) and return how to reach it.

    ``workshop``: the review as a workshop finds it mid-way (bench/locustfile.py): the
    scoring round still blind and a single-choice vote open, so members can score and vote."""
    tag = prefix or f"b{next(_unique)}"
    people = [accounts.register(f"{tag}-{i}@bench.example.com", f"Bench Person {i:02d}", PASSWORD)
              for i in range(size.members + 1)]
    owner, voters, observer = people[0], people[:size.members], people[size.members]
    team = teams.create_team(owner, f"Bench team {tag}")
    for i, user in enumerate(people[1:], start=1):
        role = Role.OBSERVER if user is observer else (Role.FACILITATOR if i == 1 else Role.MEMBER)
        db.session.add(Membership(team=team, user=user, role=role.value))
    db.session.commit()
    extra = list(EXTRA_CANDIDATES[:max(0, size.candidates - 3)])
    review = reviews.create_review(
        owner, team, title="Web framework for the orders service",
        question="Which Python web framework should the new orders API be built on?",
        template="python-web-framework", extra_candidates=extra)
    candidates = list(review.candidates)[:size.candidates]
    for i in range(len(mapping.criteria_of(review)), size.criteria):
        mapping.add_criterion(owner, review, f"Bench criterion {i + 1}", 2 + i % 3)

    for spec in DEMO_CONSTRAINTS:
        constraints.add_constraint(owner, review, **spec)
    for key, answer in DEMO_ANSWERS.items():
        constraints.answer_question(owner, review, key, answer)
    keys = [key for key, _ in constraints.subjects(review)]
    for n, user in enumerate(voters):
        constraints.rate_expertise(user, review, {k: (n + j) % 6 for j, k in enumerate(keys)})

    for n in range(size.notes):
        author = voters[(n + 1) % len(voters)]
        candidate = candidates[n % len(candidates)]
        notes.add_note(author, review, notes.NoteDraft(
            candidate_id=candidate.id, title=f"Spike {n + 1}: orders API on {candidate.name}",
            author_ids=[author.id, voters[(n + 2) % len(voters)].id],
            budget_hours=16, spent_hours=8 + n % 12,
            friction=["Auth wiring took a morning", "Migrations needed a custom env"],
            pros=["Validation from type hints", "Good docs"], cons=["No admin"],
            body=f"## Spike {n + 1}\n\n- models, **auth**, one endpoint\n- `pytest` green\n",
            links=["https://example.com/spike"]))

    for n in range(size.runs):
        candidate = candidates[n % len(candidates)]
        names = RUN_FILES[n % len(RUN_FILES)]
        streams = [(DEMO_BENCHMARKS / name).open("rb") for name in names]
        try:
            benchmarks.ingest_run(
                voters[n % len(voters)], review, candidate.name,
                [benchmarks.IncomingFile(name, s) for name, s in zip(names, streams, strict=True)],
                benchmarks.RunDetails(label=f"Run {n + 1}", server="gunicorn 4 workers",
                                      hardware="2 vCPU", memory_mb=150 + n))
        finally:
            for stream in streams:
                stream.close()

    criteria = mapping.criteria_of(review)
    for n, user in enumerate(voters):
        for c, criterion in enumerate(criteria):
            for k, candidate in enumerate(candidates):
                mapping.score_cell(user, review, criterion.id, candidate.id, 1 + (n + c + k) % 5,
                                   rationale="seen in the spike" if (n + c + k) % 4 == 0 else "")
    if workshop:
        votes.open_vote(owner, review, votes.VoteSettings(method="single", reveal="live"))
        reviews.set_step(owner, review, "mapping")
        return Seeded(review.id, voters[min(2, len(voters) - 1)].email, owner.email, PASSWORD, size,
                      tuple(u.email for u in voters[1:]))
    mapping.reveal(owner, review)
    session = votes.open_vote(owner, review, votes.VoteSettings(
        method="ranked", quorum_kind="share", quorum_value=0.5))
    for n, user in enumerate(voters):
        order = [c.id for c in candidates[n % len(candidates):] + candidates[:n % len(candidates)]]
        votes.cast_ballot(user, review, session.id, order)
    votes.close_vote(owner, review, session.id)
    reviews.set_step(owner, review, "mapping")
    return Seeded(review.id, voters[min(2, len(voters) - 1)].email, owner.email, PASSWORD, size,
                  tuple(u.email for u in voters[1:]))


def main() -> None:
    import argparse

    from app import create_app

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1, help="1: the default world, 2: doubled, ...")
    parser.add_argument("--workshop", action="store_true", help="blind round, open vote")
    parser.add_argument("--size", help="members,candidates,criteria,runs,notes (instead of --scale)")
    args = parser.parse_args()
    size = Size(*map(int, args.size.split(","))) if args.size else Size()
    for _ in range(args.scale - 1):
        size = size.doubled()
    app = create_app()
    with app.app_context():
        seeded = seed_workspace(size, workshop=args.workshop)
    print(json.dumps({"review_id": seeded.review_id, "member_email": seeded.member_email,
                      "owner_email": seeded.owner_email, "password": seeded.password,
                      "member_emails": list(seeded.member_emails)}))


if __name__ == "__main__":
    main()
