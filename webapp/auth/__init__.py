"""Sign in, sign out, own password."""

from webapp.auth.routes import bp

__all__ = ["bp"]
