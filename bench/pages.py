"""Benchmark 3 — the review workspace with realistic data (bench/seed.py).

In-process (Flask test client): the SQL statements each page issues (a SQLAlchemy
``before_cursor_execute`` listener) for the seeded world and the doubled one, and the bytes of
each page, each step's htmx fragment and each live region. Under gunicorn (bench/run.py): wrk
requests/s and p95 of the full step pages against the bare Flask hello route."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import event

from app.extensions import db
from app.models import STEPS

HX = {"HX-Request": "true"}
MAX_STATEMENTS = 15


@dataclass(frozen=True)
class Page:
    label: str
    path: str
    htmx: bool
    kind: str  # "page", "fragment" (a step's htmx section) or "region"
    step: str


def region_names() -> list[tuple[str, str]]:
    """(region, step) for every live region the app declares (GET /reviews/<id>/regions/<name>)."""
    from app.reviews import steps

    return [(name, step.value) for name, (step, _block) in steps.live_regions().items()]


def pages(review_id: int) -> list[Page]:
    found = []
    for step in STEPS:
        path = f"/reviews/{review_id}/steps/{step.value}"
        found.append(Page(f"{step.value} page", path, False, "page", step.value))
        found.append(Page(f"{step.value} fragment", path, True, "fragment", step.value))
    for name, step in region_names():
        found.append(Page(f"region {name}", f"/reviews/{review_id}/regions/{name}", True, "region", step))
    return found


@contextmanager
def statements() -> Iterator[list[str]]:
    """Collect every SQL statement the app's engine sends while the block runs."""
    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


@dataclass(frozen=True)
class Measured:
    page: Page
    status: int
    statements: int
    bytes: int
    sql: tuple[str, ...] = ()


def measure(client, review_id: int) -> list[Measured]:
    """Each page once to warm up (a revealed matrix is analysed once, then cached), then
    counted. ``client`` is a logged-in test client of the app whose engine is counted."""
    results = []
    for page in pages(review_id):
        headers = HX if page.htmx else {}
        client.get(page.path, headers=headers)
        with statements() as seen:
            response = client.get(page.path, headers=headers)
        results.append(Measured(page, response.status_code, len(seen), len(response.data), tuple(seen)))
    return results


def login(client, email: str, password: str) -> None:
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code in (302, 303), response.status_code
