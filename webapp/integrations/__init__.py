"""Integration health: pull cadences, lag, runs, Pull now, backfills, DMS webhooks."""

from webapp.integrations.routes import bp

__all__ = ["bp"]
