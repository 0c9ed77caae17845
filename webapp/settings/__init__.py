"""Location settings a Service Manager or Global Admin changes: External Interfaces."""

from webapp.settings.routes import bp

__all__ = ["bp"]
