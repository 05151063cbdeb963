"""CLI commands: thin adapters over the same services as the web routes."""

from __future__ import annotations

import click
from flask import Flask

from app.services import accounts, demo
from app.services.errors import DomainError


def register(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(demo_command)


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


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Only when the database has no users yet.")
def demo_command(if_empty: bool) -> None:
    """Load the demo data (idempotent) and print the demo logins."""
    if if_empty and not demo.is_empty() and demo.demo_review() is None:
        click.echo("The database already has users; demo data not loaded.")
        return
    result = demo.load_demo()
    click.echo("Demo data loaded." if result.created else "Demo data is already there.")
    click.echo("Demo logins (password for all: %s):" % demo.DEMO_PASSWORD)
    for email, _, role in result.logins:
        click.echo(f"  {email:<28} {role}")
