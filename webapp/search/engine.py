"""Running a search: one SQL statement per search (two for a several-word name), bounded at every step.

A search is a single query: the token range scans that find candidates (one per
alternative meaning of the term, ``UNION ALL``-ed, each stopping after
:data:`CANDIDATE_LIMIT` + 1 index entries) are joined to the records, sorted, paged, and
counted with a window function, so the database does the work in one round trip instead
of one query per alternative plus an ``IN`` list of ids sent back. A several-word name is
probed first by one small query (does its word-pair fast path fill the cap, which word is
rarer) so the search statement holds only the scans that will run. A term matching more
records than the cap shows the first ones with a "narrow your search" hint, which is what
staff need (nobody pages through 5,000 Smiths). A listing (no term) is counted exactly and
pages to its last record, optionally filtered by Last synced band (:func:`band_condition`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, TextClause, and_, case, func, select, text
from sqlalchemy.orm import Session, joinedload

from webapp.domain.last_synced import BANDS, band_cutoffs
from webapp.domain.search_tokens import (
    ASSET,
    CUSTOMER,
    DMS_CUSTOMER,
    DMS_VEHICLE,
    asset_plan,
    customer_plan,
    pair_shortcut,
    prefix_range,
)
from webapp.models import Asset, Customer, DmsRecord, SearchToken, utcnow

CANDIDATE_LIMIT = 100
PER_PAGE = 25


@dataclass
class SearchPage:
    """One page of results."""

    rows: list[Any]
    total: int  # a search's is capped at CANDIDATE_LIMIT (see ``capped``); a listing's is exact
    page: int
    per_page: int
    kind: str = "empty"
    capped: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        """How many pages the total fills."""
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        """True when a next page exists."""
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        """True when a previous page exists."""
        return self.page > 1


# ---------------------------------------------------------------------------- candidate SQL
# The candidate part of a search is built as SQL text, once per shape (how many alternatives,
# how many words each, whether an owner's name is looked up) and cached: constructing and
# cache-keying the equivalent SQLAlchemy expression (five aliased UNION members) cost more
# than running it. Every value is a bound parameter; only table and column names are
# spelled out, and they come from the models.
_TOKENS = SearchToken.__tablename__
_ASSETS = Asset.__tablename__
_MIRROR = DmsRecord.__tablename__


def _alternative_sql(name: str, width: int, scope_param: str = "scope", driver: int = 0) -> str:
    """Ids of records having a token starting with each of ``width`` prefixes (bounded).

    The scan is driven by one prefix (``driver``; by default the first, the longest), a
    range on the primary key; the other words are checked per record on
    ``ix_search_token_record``, so the scan stops as soon as the limit is reached.
    ``OFFSET 0`` keeps PostgreSQL from turning those checks into a semi-join that reads
    every record having the other word (its planner never flattens a sub-select with an
    OFFSET); SQLite checks per row anyway.
    """
    order = [driver, *(n for n in range(width) if n != driver)]
    sql = (
        f"SELECT t0.record_id AS record_id FROM {_TOKENS} t0 WHERE t0.scope = :{scope_param} "
        f"AND t0.location_id = :location_id AND t0.token >= :{name}_{driver}_lo AND t0.token < :{name}_{driver}_hi"
    )
    for alias, n in enumerate(order[1:], start=1):
        sql += (
            f" AND EXISTS (SELECT 1 FROM {_TOKENS} t{alias} WHERE t{alias}.scope = :{scope_param} "
            f"AND t{alias}.location_id = :location_id AND t{alias}.record_id = t0.record_id "
            f"AND t{alias}.token >= :{name}_{n}_lo AND t{alias}.token < :{name}_{n}_hi LIMIT 1 OFFSET 0)"
        )
    return sql + " LIMIT :candidate_limit"


# How far the entries of a word are counted to pick the rarer of two words to drive a scan
# (two words both that common: the longer one drives, and the cap soon stops the scan).
DRIVER_PROBE = 1000


def _count_sql(name: str, n: int, scope_param: str) -> str:
    """How many index entries start with prefix ``n`` (counted up to DRIVER_PROBE): a cheap size estimate.

    ``ORDER BY token`` (the index order) steers PostgreSQL to an index-only range scan
    rather than a bitmap scan that visits the table.
    """
    return (
        f"(SELECT count(*) FROM (SELECT 1 AS x FROM {_TOKENS} WHERE scope = :{scope_param} "
        f"AND location_id = :location_id AND token >= :{name}_{n}_lo AND token < :{name}_{n}_hi "
        f"ORDER BY token LIMIT {DRIVER_PROBE}) n{n})"
    )


def _probe_sql(name: str, shortcut_width: int, scope_param: str) -> str:
    """How many records the pair fast path finds (up to the cap) and how common the two longest words are."""
    pair = _alternative_sql(f"{name}s", shortcut_width, scope_param)
    return (
        f"SELECT (SELECT count(*) FROM ({pair}) c) AS pair_found, {_count_sql(name, 0, scope_param)} AS n0, "
        f"{_count_sql(name, 1, scope_param)} AS n1"
    )


# How a several-word alternative is scanned, decided by its probe: the pair fast path alone
# (it filled the cap), or the pair plus the word-by-word scan driven by word 0 or word 1.
PAIR_ONLY = -1


def _with_shortcut_sql(
    name: str, width: int, shortcut_width: int, scope_param: str = "scope", mode: int = PAIR_ONLY
) -> str:
    """An alternative, preceded by its word-pair fast path when it has one.

    The word-by-word scan only runs when the pair scan did not already fill the cap
    (``mode`` is then the word driving it: the rarer of the two longest words, "Elizabeth
    Leeson": the Leesons, not every Elizabeth). Both were decided by :func:`_probe_sql`,
    one small query beforehand, so the search statement holds only the scans that run.
    """
    if not shortcut_width:
        return _alternative_sql(name, width, scope_param)
    pair = _alternative_sql(f"{name}s", shortcut_width, scope_param)
    if mode == PAIR_ONLY:
        return pair
    words = _alternative_sql(name, width, scope_param, driver=mode)
    return f"SELECT s.record_id FROM ({pair}) s UNION ALL SELECT f.record_id FROM ({words}) f"


_OWNER_BRANCH = {
    # Assets of the portal customers whose name words match.
    "portal": (
        f"SELECT a.id AS record_id FROM {_ASSETS} a WHERE a.location_id = :location_id AND a.customer_id IN "
        "(SELECT o.record_id FROM ({owner}) o) LIMIT :candidate_limit"
    ),
    # Mirror vehicles whose owner (by DMS id) is a mirror customer whose name words match.
    "mirror": (
        f"SELECT v.id AS record_id FROM {_MIRROR} v WHERE v.location_id = :location_id "
        f"AND v.data_type = 'vehicles' AND v.owner_dms_id IN (SELECT c.dms_id FROM {_MIRROR} c WHERE c.id IN "
        "(SELECT o.record_id FROM ({owner}) o)) LIMIT :candidate_limit"
    ),
}
Shape = tuple[int, int, int]  # (words of an alternative, words of its pair fast path or 0, scan mode)


@lru_cache(maxsize=512)
def _candidates_sql(shapes: tuple[Shape, ...], owner_shape: Shape | None, owner_kind: str | None) -> TextClause:
    """``SELECT DISTINCT record_id ...`` over the bounded branches, as a reusable text clause."""
    # Each branch is wrapped in a derived table: SQLite refuses LIMIT on a bare UNION member.
    branches = [
        f"SELECT b{i}.record_id FROM ({_with_shortcut_sql(f'a{i}', *shape[:2], mode=shape[2])}) b{i}"
        for i, shape in enumerate(shapes)
    ]
    if owner_kind and owner_shape:
        owner = _with_shortcut_sql("o", *owner_shape[:2], scope_param="owner_scope", mode=owner_shape[2])
        branches.append(f"SELECT ob.record_id FROM ({_OWNER_BRANCH[owner_kind].format(owner=owner)}) ob")
    union = " UNION ALL ".join(branches)
    return text(f"SELECT DISTINCT found.record_id AS record_id FROM ({union}) found LIMIT :candidate_limit")


@lru_cache(maxsize=64)
def _probe_statement(name: str, shortcut_width: int, scope_param: str) -> TextClause:
    return text(_probe_sql(name, shortcut_width, scope_param))


def _bind(
    session: Session, params: dict[str, Any], name: str, prefixes: Sequence[str], scope_param: str = "scope"
) -> Shape:
    """Bind one alternative's prefix ranges (and its pair fast path's); returns its shape.

    An alternative with a pair fast path is probed first (see :func:`_with_shortcut_sql`).
    """
    # Longest prefix first: it drives the scan (see _alternative_sql).
    for n, prefix in enumerate(sorted(prefixes, key=len, reverse=True)):
        params[f"{name}_{n}_lo"], params[f"{name}_{n}_hi"] = prefix_range(prefix)
    shortcut = pair_shortcut(tuple(prefixes))
    if not shortcut:
        return len(prefixes), 0, PAIR_ONLY
    for n, prefix in enumerate(sorted(shortcut, key=len, reverse=True)):
        params[f"{name}s_{n}_lo"], params[f"{name}s_{n}_hi"] = prefix_range(prefix)
    names = {f"{name}{s}_{n}_{end}" for s in ("", "s") for n in range(len(prefixes)) for end in ("lo", "hi")}
    probe = session.execute(
        _probe_statement(name, len(shortcut), scope_param),
        {k: v for k, v in params.items() if k in names or k in (scope_param, "location_id", "candidate_limit")},
    ).one()
    if probe.pair_found >= params["candidate_limit"]:
        mode = PAIR_ONLY
    else:
        mode = 0 if probe.n0 <= probe.n1 else 1
    return len(prefixes), len(shortcut), mode


def _candidates(
    session: Session,
    scope: str,
    location_id: int,
    alternatives: Sequence[Sequence[str]],
    limit: int,
    *,
    owner_words: Sequence[str] = (),
    owner_scope: str | None = None,
    owner_kind: str | None = None,
) -> TextClause | None:
    """The bounded candidate ids of a search as one statement (``None`` when nothing to look up)."""
    params: dict[str, Any] = {"location_id": location_id, "candidate_limit": limit}
    if alternatives:
        params["scope"] = scope
    shapes = tuple(_bind(session, params, f"a{i}", prefixes) for i, prefixes in enumerate(alternatives))
    owner_shape = None
    owner_prefixes = tuple("n" + w for w in owner_words if w)
    if owner_kind and owner_prefixes:
        params["owner_scope"] = owner_scope
        owner_shape = _bind(session, params, "o", owner_prefixes, "owner_scope")
    if not shapes and not owner_shape:
        return None
    statement = _candidates_sql(shapes, owner_shape, owner_kind if owner_shape else None)
    # Only the scans that run are in the statement (a pair fast path that filled the cap
    # leaves its word-by-word ranges out).
    used = statement._bindparams
    return statement.bindparams(**{k: v for k, v in params.items() if k in used}).columns(record_id=Integer)


def candidate_ids(
    session: Session, scope: str, location_id: int, alternatives: Sequence[Sequence[str]], limit: int = CANDIDATE_LIMIT
) -> list[int]:
    """Ids of records of ``scope`` matching any alternative, at most ``limit``."""
    statement = _candidates(session, scope, location_id, alternatives, limit)
    return [] if statement is None else list(session.scalars(statement))


def _page(
    session: Session,
    query: Select,
    candidates: Any,
    id_column,
    order_by: Sequence[Any],
    page: int,
    per_page: int,
    options: Sequence[Any] = (),
    *,
    filtered: bool = False,
    total: int | None = None,
) -> tuple[list[Any], int, bool, int]:
    """Rows of one page, the total, whether the total is capped, and the page shown.

    ``candidates``: the search's bounded candidate ids (``None`` when browsing: every row
    of ``query``, counted exactly so that the pager reaches the last one; the count runs
    on the location's rows through the scoping index). A search is capped at
    :data:`CANDIDATE_LIMIT` (rows, total and window count in one statement). A page past
    the end shows the last page. ``filtered``: ``query`` holds a filter besides the
    location (a Last synced band), so the candidates may have been cut before it applied.
    ``total``: when browsing, the rows of ``query`` if the caller has counted them already (the
    listing's Last synced counts hold the number): they are not counted a second time.
    """
    page = max(1, page)
    if candidates is None:
        if total is None:
            total = session.scalar(
                select(func.count()).select_from(query.with_only_columns(id_column).order_by(None).subquery())
            )
        page = min(page, max(1, -(-total // per_page)))
        rows = list(
            session.scalars(query.options(*options).order_by(*order_by).offset((page - 1) * per_page).limit(per_page))
        )
        return rows, total, False, page
    page = min(page, max(1, -(-CANDIDATE_LIMIT // per_page)))
    offset = (page - 1) * per_page
    found = candidates.subquery("candidate")
    # The window count is taken before LIMIT: every row carries the size of the candidate set.
    statement = (
        query.join(found, id_column == found.c.record_id)
        .add_columns(func.count().over().label("total"))
        .options(*options)
        .order_by(*order_by)
        .offset(offset)
        .limit(min(per_page, CANDIDATE_LIMIT - offset))
    )  # the extra candidate only says "more"
    result = session.execute(statement).all()
    if result:
        total = result[0].total
    elif offset:  # a page past the end: show the last one
        total = session.scalar(
            select(func.count()).select_from(
                query.with_only_columns(id_column).order_by(None).join(found, id_column == found.c.record_id).subquery()
            )
        )
        last = max(1, -(-min(total, CANDIDATE_LIMIT) // per_page))
        if total and last < page:
            return _page(session, query, candidates, id_column, order_by, last, per_page, options, filtered=filtered)
    else:
        total = 0
    capped = total > CANDIDATE_LIMIT
    if filtered and not capped:
        # The filter applied after the candidates were cut at the cap: more may match.
        capped = session.scalar(select(func.count()).select_from(found)) > CANDIDATE_LIMIT
    return [row[0] for row in result], min(total, CANDIDATE_LIMIT), capped, page


def band_condition(column: Any, band: str, now: datetime, tz_name: str | None) -> ColumnElement[bool]:
    """Records whose Last Synced badge at ``now`` (in ``tz_name``) is in ``band`` (see webapp.domain.last_synced)."""
    recent_from, ageing_from = band_cutoffs(now, tz_name)
    if band == "never":
        return column.is_(None)
    if band == "recent":
        return column >= recent_from
    if band == "ageing":
        return and_(column >= ageing_from, column < recent_from)
    if band == "stale":
        return column < ageing_from
    raise ValueError(f"unknown Last Synced band {band!r}")


def band_counts(session: Session, base: Select, column: Any, now: datetime, tz_name: str | None) -> dict[str, int]:
    """How many records of ``base`` (a scoped select) are in each band, and in all ("all"), in one statement."""
    counted = [func.count(case((band_condition(column, band, now, tz_name), 1))) for band in BANDS]
    row = session.execute(base.with_only_columns(*counted, func.count()).order_by(None)).one()
    return {**dict(zip(BANDS, row[:-1])), "all": row[-1]}


def _in_band(base: Select, column: Any, band: str, now: datetime | None, tz_name: str | None) -> Select:
    if band not in BANDS:
        return base
    return base.where(band_condition(column, band, now or utcnow(), tz_name))


CUSTOMER_SORTS = {
    "name": lambda: (Customer.sort_name, Customer.id),
    "last_synced": lambda: (Customer.last_synced_at.is_(None), Customer.last_synced_at.desc(), Customer.id),
    "newest": lambda: (Customer.id.desc(),),
}
ASSET_SORTS = {
    "vin": lambda: (Asset.vin, Asset.id),
    "year": lambda: (Asset.year.is_(None), Asset.year.desc(), Asset.id),
    "last_synced": lambda: (Asset.last_synced_at.is_(None), Asset.last_synced_at.desc(), Asset.id),
    "newest": lambda: (Asset.id.desc(),),
}
DMS_SORTS = {"customers": lambda: (DmsRecord.name_key, DmsRecord.id), "vehicles": lambda: (DmsRecord.vin, DmsRecord.id)}


def search_customers(
    session: Session,
    base: Select,
    location_id: int,
    term: str,
    *,
    page: int = 1,
    per_page: int = PER_PAGE,
    sort: str = "name",
    band: str = "",
    now: datetime | None = None,
    tz_name: str | None = None,
    total: int | None = None,
) -> SearchPage:
    """Portal customers matching ``term`` (``base`` = the scoped ``select(Customer)``), in the
    Last synced ``band`` when one is given (counted in ``tz_name``'s days at ``now``)."""
    plan = customer_plan(term)
    candidates = _candidates(session, CUSTOMER, location_id, plan.alternatives, CANDIDATE_LIMIT + 1)
    order = CUSTOMER_SORTS.get(sort, CUSTOMER_SORTS["name"])()
    query = _in_band(base, Customer.last_synced_at, band, now, tz_name)
    rows, total, capped, page = _page(
        session, query, candidates, Customer.id, order, page, per_page, filtered=query is not base, total=total
    )
    return SearchPage(rows, total, page, per_page, plan.kind, capped)


def search_assets(
    session: Session,
    base: Select,
    location_id: int,
    term: str,
    *,
    page: int = 1,
    per_page: int = PER_PAGE,
    sort: str = "vin",
    band: str = "",
    now: datetime | None = None,
    tz_name: str | None = None,
    total: int | None = None,
) -> SearchPage:
    """Portal assets matching ``term``: VIN (start or end), unit, plate, DMS id or owner's name
    (in the Last synced ``band`` when one is given, as :func:`search_customers`)."""
    plan = asset_plan(term)
    candidates = _candidates(
        session,
        ASSET,
        location_id,
        plan.alternatives,
        CANDIDATE_LIMIT + 1,
        owner_words=plan.owner_words,
        owner_scope=CUSTOMER,
        owner_kind="portal",
    )
    order = ASSET_SORTS.get(sort, ASSET_SORTS["vin"])()
    query = _in_band(base, Asset.last_synced_at, band, now, tz_name)
    # The owner column comes with the page (a many-to-one join), not one query per row.
    rows, total, capped, page = _page(
        session,
        query,
        candidates,
        Asset.id,
        order,
        page,
        per_page,
        (joinedload(Asset.customer),),
        filtered=query is not base,
        total=total,
    )
    return SearchPage(rows, total, page, per_page, plan.kind, capped)


def search_mirror(
    session: Session,
    base: Select,
    location_id: int,
    data_type: str,
    term: str,
    *,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> SearchPage:
    """DMS-mirror customers or vehicles matching ``term`` (``base`` = scoped ``select(DmsRecord)``)."""
    base = base.where(DmsRecord.data_type == data_type, DmsRecord.deleted_at.is_(None))
    if data_type == "customers":
        plan = customer_plan(term)
        candidates = _candidates(session, DMS_CUSTOMER, location_id, plan.alternatives, CANDIDATE_LIMIT + 1)
    else:
        plan = asset_plan(term)
        candidates = _candidates(
            session,
            DMS_VEHICLE,
            location_id,
            plan.alternatives,
            CANDIDATE_LIMIT + 1,
            owner_words=plan.owner_words,
            owner_scope=DMS_CUSTOMER,
            owner_kind="mirror",
        )
    rows, total, capped, page = _page(session, base, candidates, DmsRecord.id, DMS_SORTS[data_type](), page, per_page)
    return SearchPage(rows, total, page, per_page, plan.kind, capped)


def portal_ids_by_dms_id(session: Session, base: Select, model: Any, dms_ids: Sequence[str]) -> dict[str, int]:
    """Which of these DMS ids are already in the portal (``base`` = scoped select of ``model``)."""
    if not dms_ids:
        return {}
    query = base.with_only_columns(model.dms_id, model.id).where(model.dms_id.in_(list(dms_ids)))
    return {row[0]: row[1] for row in session.execute(query)}
