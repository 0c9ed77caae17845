"""Global Admin tools: users and locations (and the credentials CLI: ``flask rotate-credentials``)."""

from webapp.admin.routes import bp

__all__ = ["bp"]
