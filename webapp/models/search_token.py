"""The search index: short normalised tokens pointing at customers, assets and DMS mirror rows.

One row per (scope, location, token, record). Searches are B-tree range scans on the
primary key (``token >= 'nsmi' AND token < 'nsmj'``), which both SQLite and PostgreSQL
answer in a few milliseconds at millions of rows, unlike ``ILIKE '%term%'`` which reads
every row. What goes into the tokens is decided by :mod:`webapp.domain.search_tokens`.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import LocationOwned

# Bytewise ordering on PostgreSQL so a prefix is a contiguous key range (a linguistic
# collation would interleave punctuation and case); SQLite compares bytes already.
TOKEN_TYPE = String(64).with_variant(String(64, collation="C"), "postgresql")


class SearchToken(LocationOwned, db.Model):
    """One searchable token of one record.

    ``scope``: ``c`` portal customer, ``a`` portal asset, ``dc`` DMS-mirror customer,
    ``dv`` DMS-mirror vehicle. ``record_id`` is the id in the scope's table. The first
    character of ``token`` says what it is (``n`` name word, ``p`` reversed phone digits,
    ``e`` e-mail, ``i`` DMS id, ``v`` VIN, ``r`` reversed VIN, ``u`` unit number, ``l`` plate).
    """

    __tablename__ = "search_token"
    __table_args__ = (
        PrimaryKeyConstraint("scope", "location_id", "token", "record_id", name="pk_search_token"),
        # Second index: the tokens of one record (re-indexing, and AND-ing words of a query).
        Index("ix_search_token_record", "scope", "location_id", "record_id", "token"),
        {"sqlite_with_rowid": False},
    )

    scope: Mapped[str] = mapped_column(String(2), nullable=False)
    # Declared here (not by LocationOwned) to skip its single-column index: the primary
    # key already starts with the location, and 20M rows need no third index.
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id", ondelete="CASCADE"), nullable=False)
    token: Mapped[str] = mapped_column(TOKEN_TYPE, nullable=False)
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)

    def __repr__(self) -> str:
        return f"<SearchToken {self.scope} {self.token!r} -> {self.record_id}>"
