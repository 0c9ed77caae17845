"""Customer and asset search, shared by the Customers and Assets pages and the DMS tab.

- :mod:`webapp.search.tokens`: what records are found by and what a typed term means (pure);
- :mod:`webapp.search.indexer`: keeps the token index in step (ORM hooks for portal
  records, :func:`index_dms_records` for the pull jobs' bulk writes to the mirror);
- :mod:`webapp.search.engine`: runs bounded searches;
- :mod:`webapp.search.live`: the time-limited live lookup in the connected DMS;
- :mod:`webapp.search.cli`: ``flask reindex-search`` (rebuild the index in batches).
"""
from flask import Flask

from webapp.search.indexer import index_asset, index_customer, index_dms_records, install, reindex_location

install()


def init_app(app: Flask) -> None:
    """Register the search command-line tools (``flask --app wsgi reindex-search``)."""
    from webapp.search.cli import init_app as cli_init_app

    cli_init_app(app)


__all__ = ["index_asset", "index_customer", "index_dms_records", "init_app", "reindex_location"]
