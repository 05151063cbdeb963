"""Dogfood: Locust loads Tradeoff as a workshop does.

Each simulated member logs in through the login form, opens the review's workspace, follows
the steps, scores cells of the blind matrix (htmx posts, CSRF header) and votes in the open
single-choice vote. The world comes from ``python -m bench.seed --workshop``; its logins and
review are given by environment variables:

    TRADEOFF_BENCH_REVIEW    review id
    TRADEOFF_BENCH_USERS     comma-separated e-mails of voting members (one per simulated user, reused)
    TRADEOFF_BENCH_PASSWORD  their password

    locust -f bench/locustfile.py --headless -u 10 -r 10 -t 30s --host http://127.0.0.1:PORT \\
           --csv out --csv-full-history

The files Locust writes (out_stats.csv, out_stats_history.csv, out_failures.csv) are then
uploaded to the same review as a benchmark run (bench/dogfood.py).
"""

from __future__ import annotations

import itertools
import os
import random
import re

from locust import HttpUser, between, task

REVIEW = int(os.environ.get("TRADEOFF_BENCH_REVIEW", "1"))
USERS = [e for e in os.environ.get("TRADEOFF_BENCH_USERS", "ana@example.com").split(",") if e]
PASSWORD = os.environ.get("TRADEOFF_BENCH_PASSWORD", "tradeoff-demo")
STEPS = ("constraints", "mapping", "prototypes", "benchmarks", "vote")
_logins = itertools.cycle(USERS)
CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"')
CELL = re.compile(r'id="cell-(\d+)-(\d+)"')
BALLOT = re.compile(r'/reviews/\d+/votes/(\d+)/ballot')
CHOICE = re.compile(r'name="ballot-choice"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="ballot-choice"')


class WorkshopMember(HttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.email = next(_logins)
        page = self.client.get("/login", name="/login")
        self.client.post("/login", name="/login [POST]", data={
            "email": self.email, "password": PASSWORD, "csrf_token": CSRF.search(page.text).group(1)})
        self.cells: list[tuple[str, str]] = []
        self.session_id: str | None = None
        self.choices: list[str] = []
        self.open_workspace()
        self.open_step("vote")

    def headers(self) -> dict:
        return {"X-CSRFToken": self.token, "HX-Request": "true"}

    def open_workspace(self) -> None:
        """The workshop's current step (the matrix): its cells are what this member scores."""
        with self.client.get(f"/reviews/{REVIEW}", name="/reviews/[id]", catch_response=True) as page:
            found = CSRF.search(page.text)
            if page.status_code != 200 or not found:
                page.failure(f"workspace: {page.status_code}")
                return
            self.token = found.group(1)
            self.cells = CELL.findall(page.text) or self.cells

    def open_step(self, step: str) -> None:
        with self.client.get(f"/reviews/{REVIEW}/steps/{step}", name=f"/reviews/[id]/steps/{step}",
                             catch_response=True) as page:
            if page.status_code != 200:
                page.failure(f"{step}: {page.status_code}")
                return
            if step == "vote":
                session = BALLOT.search(page.text)
                self.session_id = session.group(1) if session else None
                self.choices = [a or b for a, b in CHOICE.findall(page.text)]

    @task(4)
    def workspace(self) -> None:
        self.open_workspace()

    @task(3)
    def follow_a_step(self) -> None:
        self.open_step(random.choice(STEPS))

    @task(1)
    def progress(self) -> None:
        """What every open page re-fetches after a live "refresh" push."""
        self.client.get(f"/reviews/{REVIEW}/regions/mapping-progress", name="/reviews/[id]/regions/[name]",
                        headers={"HX-Request": "true"})

    @task(6)
    def score_a_cell(self) -> None:
        if not self.cells:
            return
        criterion, candidate = random.choice(self.cells)
        self.client.post(f"/reviews/{REVIEW}/scores/{criterion}/{candidate}", name="/reviews/[id]/scores/[cell]",
                         headers=self.headers(), data={"value": str(random.randint(1, 5)),
                                                       "rationale": "seen in the spike"})

    @task(2)
    def vote(self) -> None:
        if not (self.session_id and self.choices):
            return
        self.client.post(f"/reviews/{REVIEW}/votes/{self.session_id}/ballot", name="/reviews/[id]/votes/[id]/ballot",
                         headers=self.headers(), data={"ballot-choice": random.choice(self.choices)})
