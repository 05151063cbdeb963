"""More voters for the demo team than the demo's three, for the scale-out tests:
``python -m tests.scaleout.seed COUNT`` in the cluster's environment adds COUNT members
(``voter<i>@example.com``, the demo password) through the real services."""

from __future__ import annotations

import sys

from app import create_app
from app.models import Role
from app.services import accounts, demo
from tests.factories import add_member


def voters(count: int) -> list[tuple[str, str]]:
    """(email, display name) of the seeded members, in order."""
    return [(f"voter{i}@example.com", f"Voter {i:02d}") for i in range(1, count + 1)]


def main(count: int) -> None:
    app = create_app()
    with app.app_context():
        team = demo.demo_review().team
        for email, name in voters(count):
            add_member(team, Role.MEMBER, accounts.register(email, name, demo.DEMO_PASSWORD))


if __name__ == "__main__":
    main(int(sys.argv[1]))
