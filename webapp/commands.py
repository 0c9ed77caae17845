"""Command-line tools: ``flask --app wsgi <command>``."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from webapp import search
from webapp.admin import commands as admin_commands
from webapp.extensions import db
from webapp.models import Location, Role, User


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(is_empty_command)
    app.cli.add_command(admin_commands.rotate_credentials_command)
    app.cli.add_command(admin_commands.new_credentials_key_command)
    search.init_app(app)  # flask reindex-search


@click.command("seed-demo")
@with_appcontext
@click.option("--seed", default=42, show_default=True, help="Random seed for the generated data.")
def seed_demo_command(seed: int) -> None:
    """Load the demo locations, users, customers and assets into an empty database."""
    from webapp.demo import DEMO_PASSWORD, DEMO_USERS, seed_demo

    try:
        created = seed_demo(seed)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("Demo data loaded: " + ", ".join(f"{n} {k}" for k, n in created.items()))
    click.echo(f"Demo sign-ins (password '{DEMO_PASSWORD}'):")
    for email, _name, role, _code, _dms in DEMO_USERS:
        click.echo(f"  {email:<24} {role.label}")


@click.command("db-is-empty")
@with_appcontext
def is_empty_command() -> None:
    """Exit 0 when the database has no location yet (used by `make run`), 1 otherwise."""
    empty = db.session.scalar(select(Location.id).limit(1)) is None
    raise SystemExit(0 if empty else 1)


@click.command("create-user")
@with_appcontext
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.GLOBAL_ADMIN.value, show_default=True)
@click.option("--location", "location_code", help="Home location code (Service Managers and Advisors).")
@click.password_option()
def create_user_command(email: str, name: str, role: str, location_code: str | None, password: str) -> None:
    """Create a user — e.g. the first Global Admin of a new install."""
    location = None
    if location_code:
        location = db.session.scalar(select(Location).where(Location.code == location_code.upper()))
        if location is None:
            raise click.ClickException(f"No location with code {location_code}.")
    if db.session.scalar(select(User.id).where(User.email == email.lower())):
        raise click.ClickException(f"A user with e-mail {email} already exists.")
    if len(password) < 12:
        raise click.ClickException("Use a password of at least 12 characters.")
    user = User(email=email.lower(), name=name, role=Role(role), location=location, password_hash="")
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"Created {user.email} ({user.role.label}).")
