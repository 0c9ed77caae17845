"""Failed pushes: every change the DMS refused, with the vendor's error and a plain-language fix."""

from webapp.failed_pushes.routes import bp

__all__ = ["bp"]
