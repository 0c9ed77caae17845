"""Assets (vehicles, trucks): search (Portal and DMS tabs), detail pages, add from the DMS."""

from webapp.assets.routes import bp

__all__ = ["bp"]
