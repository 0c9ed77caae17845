"""Reading cases: scope, search, sort, paging, related-RO links, column choice.

Everything starts from :func:`webapp.scoping.scoped`. Field Managers read across the
locations they cover (read-only); everyone else reads their current location.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_login import current_user
from sqlalchemy import Select, func, or_, select

from webapp.extensions import db
from webapp.models import Asset, Case, CaseColumnPreference, Customer, RelatedRoNumber, Role, case_watchers
from webapp.models.case import CASE_COLUMNS, DEFAULT_CASE_COLUMNS
from webapp.scoping import get_or_404, scoped

PAGE_SIZE = 25
VIEWS = {"all": "All Cases", "mine": "My Cases", "watching": "Watching Cases"}
SORTS = {
    "number": Case.id,
    "ro_number": Case.ro_number,
    "status": Case.status,
    "updated": Case.updated_at,
    "created": Case.created_at,
    "exported": Case.exported_at,
}


def reads_across() -> bool:
    """Field Managers read cases across every location they cover."""
    return current_user.is_authenticated and current_user.role == Role.FIELD_MANAGER


def case_scope() -> Select:
    """``select(Case)`` limited to what the signed-in user may see."""
    return scoped(Case, across=reads_across())


def load_case(case_id: int) -> Case:
    """One case the user may see, or 404 (another location's case is a missing one)."""
    return get_or_404(Case, case_id, across=reads_across())


def apply_search(stmt: Select, text: str) -> Select:
    """Cases whose number, RO number, a related RO number, asset (VIN, unit, make/model)
    or customer name contains ``text``."""
    text = (text or "").strip()
    if not text:
        return stmt
    like = f"%{text.lower()}%"
    conditions = [
        func.lower(Case.ro_number).like(like),
        Case.id.in_(select(RelatedRoNumber.case_id).where(func.lower(RelatedRoNumber.ro_number).like(like))),
        Case.asset_id.in_(
            select(Asset.id).where(
                or_(
                    func.lower(Asset.vin).like(like),
                    func.lower(Asset.unit_number).like(like),
                    func.lower(Asset.make + " " + Asset.model).like(like),
                )
            )
        ),
        Case.customer_id.in_(
            select(Customer.id).where(
                or_(
                    func.lower(Customer.first_name + " " + Customer.last_name).like(like),
                    func.lower(Customer.last_name).like(like),
                    func.lower(Customer.company_name).like(like),
                )
            )
        ),
        func.lower(Case.complaint).like(like),
    ]
    number = re.fullmatch(r"(?:cs-?)?0*(\d+)", text.lower())
    if number:
        conditions.append(Case.id == int(number.group(1)))
    return stmt.where(or_(*conditions))


@dataclass
class CasePage:
    """One page of a case table."""

    cases: list[Case]
    total: int
    page: int
    pages: int


def case_table(view: str, text: str, sort: str, direction: str, page: int) -> CasePage:
    """The rows of the All / My / Watching table, searched, sorted and paged."""
    stmt = case_scope()
    if view == "mine":
        stmt = stmt.where(Case.assigned_to_id == current_user.id)
    elif view == "watching":
        stmt = stmt.where(
            Case.id.in_(select(case_watchers.c.case_id).where(case_watchers.c.user_id == current_user.id))
        )
    stmt = apply_search(stmt, text)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    column = SORTS.get(sort, Case.id)
    order = column.asc() if direction == "asc" else column.desc()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    rows = db.session.scalars(stmt.order_by(order, Case.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))
    return CasePage(cases=list(rows), total=total, page=page, pages=pages)


def cases_for_asset(asset: Asset) -> list[Case]:
    """The asset's cases, newest first (for the Cases section of the asset page)."""
    stmt = scoped(Case, across=True).where(Case.asset_id == asset.id, Case.location_id == asset.location_id)
    return list(db.session.scalars(stmt.order_by(Case.id.desc())))


def related_links(cases: list[Case]) -> dict[tuple[int, str], Case]:
    """For every related RO number of ``cases``: the other case at the same location with that
    RO number, keyed by (location id, RO number). Numbers with no case are absent (plain text)."""
    wanted: dict[int, set[str]] = {}
    for case in cases:
        for number in case.related_ro_numbers:
            wanted.setdefault(case.location_id, set()).add(number)
    links: dict[tuple[int, str], Case] = {}
    for location_id, numbers in wanted.items():
        stmt = scoped(Case, across=True).where(Case.location_id == location_id, Case.ro_number.in_(numbers))
        for other in db.session.scalars(stmt.order_by(Case.id)):
            links.setdefault((location_id, other.ro_number), other)
    return links


def chosen_columns(user) -> list[str]:
    """The columns ``user`` chose for the case tables (defaults until they choose)."""
    pref = db.session.get(CaseColumnPreference, user.id)
    if pref is None:
        return list(DEFAULT_CASE_COLUMNS)
    return [c for c in CASE_COLUMNS if c in pref.columns]


def save_columns(user, columns: list[str]) -> list[str]:
    """Remember ``user``'s column choice (unknown names dropped). Commits."""
    kept = [c for c in CASE_COLUMNS if c in columns]
    pref = db.session.get(CaseColumnPreference, user.id)
    if pref is None:
        pref = CaseColumnPreference(user_id=user.id, columns=kept)
        db.session.add(pref)
    else:
        pref.columns = kept
    db.session.commit()
    return kept
