"""CLI commands: thin adapters over the same services as the web routes."""

from __future__ import annotations

import click
from flask import Flask

from app.services import accounts, decisions, demo, tokens, votes
from app.services.errors import DomainError


def register(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(demo_command)
    app.cli.add_command(votes_group)
    app.cli.add_command(archive_group)


@click.group()
def users() -> None:
    """Manage user accounts."""


@users.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Display name.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_user(email: str, name: str, password: str) -> None:
    """Create a user account (for administrators and scripts)."""
    try:
        user = accounts.register(email, name, password)
    except DomainError as err:
        raise click.ClickException(err.message) from err
    click.echo(f"Created user {user.email} (id {user.id}).")


@users.command("token")
@click.argument("email")
@click.option("--name", default="CLI token", show_default=True, help="What the token is for.")
def create_token(email: str, name: str) -> None:
    """Create a personal API token for EMAIL and print it (it is shown only once)."""
    user = accounts.find_by_email(email)
    if user is None:
        raise click.ClickException(f"There is no account for {email}.")
    try:
        _, secret = tokens.create_token(user, name)
    except DomainError as err:
        raise click.ClickException(err.message) from err
    click.echo(secret)


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Only when the database has no users yet.")
def demo_command(if_empty: bool) -> None:
    """Load the demo data (idempotent) and print the demo logins."""
    if if_empty and not demo.is_empty() and demo.demo_review() is None:
        click.echo("The database already has users; demo data not loaded.")
        return
    result = demo.load_demo()
    click.echo("Demo data loaded." if result.created else "Demo data is already there.")
    click.echo(f"Demo logins (password for all: {demo.DEMO_PASSWORD}):")
    for email, _, role in result.logins:
        click.echo(f"  {email:<28} {role}")


@click.group("votes")
def votes_group() -> None:
    """Votes: the deadline closer and the reminder pass, for cron (the app's scheduler runs
    the same functions every few seconds unless TRADEOFF_SCHEDULER=off)."""


@votes_group.command("close-due")
def close_due() -> None:
    """Close every open vote whose deadline has passed, and count it."""
    closed = votes.close_due()
    for session in closed:
        click.echo(f"Closed vote {session.number} of review {session.review_id}.")
    click.echo(f"{len(closed)} vote(s) closed.")


@votes_group.command("remind")
def remind() -> None:
    """Send due reminders (vote opened, deadline approaching) to members who have not voted,
    and notify teams of records due for revisit. Each reminder is sent once."""
    sent = votes.remind_due()
    revisits = decisions.notify_revisits_due()
    click.echo(f"{sent} vote reminder(s) and {revisits} revisit notification(s) sent.")


@click.group("archive")
def archive_group() -> None:
    """The archive of signed-off decisions."""


@archive_group.command("verify")
def verify_archive() -> None:
    """Recompute every record's SHA-256 and rebuild it from the live data; exit 1 if any
    record no longer matches."""
    results = decisions.verify_all()
    for result in results:
        mark = "ok " if result.ok else "BAD"
        click.echo(f"{mark} decision {result.decision_id} (review {result.review_id}, "
                   f"“{result.title}”): {result.message}")
    bad = [r for r in results if not r.ok]
    click.echo(f"{len(results)} record(s) checked, {len(bad)} do not match.")
    if bad:
        raise SystemExit(1)
