"""DMS Activity on a repair order / workfile: Properties, Payments, History (seed 003)."""

from webapp.dms_activity.routes import bp

__all__ = ["bp"]
