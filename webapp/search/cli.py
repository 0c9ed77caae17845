"""``flask --app wsgi reindex-search``: rebuild the search index from the stored records."""

from __future__ import annotations

import time

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from webapp.extensions import db
from webapp.services.search_index import REINDEX_BATCH, reindex_location


@click.command("reindex-search")
@with_appcontext
@click.option("--location", "location_code", help="Only this location code (default: every location).")
@click.option(
    "--batch-size",
    default=REINDEX_BATCH,
    show_default=True,
    type=click.IntRange(100, 50_000),
    help="Records written per transaction.",
)
def reindex_search_command(location_code: str | None, batch_size: int) -> None:
    """Rebuild the customer/asset search index (run once after upgrading to search, or when results look stale)."""
    from webapp.models import Location

    query = select(Location.id, Location.code, Location.name).order_by(Location.id)
    if location_code:
        query = query.where(Location.code == location_code.upper())
    locations = db.session.execute(query).all()
    if location_code and not locations:
        raise click.ClickException(f"No location with code {location_code}.")
    db.session.rollback()  # the location list's read transaction is not held during the rebuild
    for location in locations:
        started = time.perf_counter()
        counts = reindex_location(db.session, location.id, batch_size)
        click.echo(
            f"{location.code} {location.name}: "
            + ", ".join(f"{n} {what}" for what, n in counts.items())
            + f" indexed in {time.perf_counter() - started:.1f}s"
        )
    click.echo(f"Search index rebuilt for {len(locations)} location(s).")


def init_app(app: Flask) -> None:
    """Register the search commands on ``app``."""
    app.cli.add_command(reindex_search_command)
