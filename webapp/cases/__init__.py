"""Cases: All / My / Watching tables, case details, export, close, related RO numbers."""

from webapp.cases.routes import bp

__all__ = ["bp"]
