"""``flask rotate-credentials`` and ``flask new-credentials-key`` (DMS credentials at rest)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from webapp.credentials import CredentialsUnreadable, new_key, rotate
from webapp.extensions import db
from webapp.models import Location


@click.command("rotate-credentials")
@with_appcontext
def rotate_credentials_command() -> None:
    """Re-encrypt every location's DMS credentials with the current (first) CREDENTIALS_KEYS key.

    Run it after putting a new key first in CREDENTIALS_KEYS; once it has succeeded the old
    keys can be removed from the setting.
    """
    rotated, unreadable = 0, []
    for location in db.session.scalars(select(Location).where(Location.dms_credentials_token.is_not(None))):
        try:
            location.dms_credentials_token = rotate(location.dms_credentials_token)
        except CredentialsUnreadable:
            unreadable.append(location.code)
            continue
        rotated += 1
    db.session.commit()
    click.echo(f"Re-encrypted the DMS credentials of {rotated} location(s) with the current key.")
    if unreadable:
        raise click.ClickException(
            "No configured key opens the credentials of "
            + ", ".join(unreadable)
            + "; enter them again under Admin → Locations (or add their old key to CREDENTIALS_KEYS and rerun)."
        )


@click.command("new-credentials-key")
def new_credentials_key_command() -> None:
    """Print a fresh key to put first in CREDENTIALS_KEYS."""
    click.echo(new_key())
