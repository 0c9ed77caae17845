"""Customer and asset search, shared by the Customers and Assets pages and the DMS tab.

- :mod:`webapp.domain.search_tokens`: what records are found by and what a typed term means (pure);
- :mod:`webapp.services.search_index`: keeps the token index in step (ORM hooks for portal
  records, ``index_dms_records`` for the mirror writer's bulk writes);
- :mod:`webapp.search.engine`: runs bounded searches;
- :mod:`webapp.search.live`: the time-limited live lookup in the connected DMS;
- :mod:`webapp.search.cli`: ``flask reindex-search`` (rebuild the index in batches).
"""

from flask import Flask

from webapp.services import search_index  # its flush hooks index portal records as they are saved


def init_app(app: Flask) -> None:
    """Register the search command-line tools (``flask --app wsgi reindex-search``)."""
    from webapp.search.cli import init_app as cli_init_app

    cli_init_app(app)


__all__ = ["init_app", "search_index"]
