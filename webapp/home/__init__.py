"""The home page, location switcher and health check."""

from webapp.home.routes import bp

__all__ = ["bp"]
