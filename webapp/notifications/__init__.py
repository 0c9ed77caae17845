"""Notifications for requesters: their update request was approved, rejected or confirmed by the DMS."""

from webapp.notifications.routes import bp

__all__ = ["bp"]
