"""The location-scoping helper: one location's records are invisible to another's users."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import NotFound

from tests.conftest import soup
from tests.factories import PASSWORD
from webapp import scoping
from webapp.extensions import db
from webapp.models import Asset, ChangeHistory, Customer, LocationOwned, Role, User


def _as(app, user_id):
    """A request context signed in as ``user_id``."""
    from flask_login import login_user

    ctx = app.test_request_context()
    ctx.push()
    login_user(db.session.get(User, user_id))
    return ctx


@pytest.mark.parametrize("model", [Customer, Asset])
def test_get_or_404_refuses_foreign_records(app, world, model):
    key = model.__tablename__
    own = world["records"]["ALPHA"][key]
    foreign = world["records"]["BETA"][key]
    ctx = _as(app, world["users"][Role.SERVICE_MANAGER].id)
    try:
        assert scoping.get_or_404(model, own.id).id == own.id
        with pytest.raises(NotFound):
            scoping.get_or_404(model, foreign.id)
        with pytest.raises(NotFound):
            scoping.get_or_404(model, 999_999)
        rows = db.session.scalars(scoping.scoped(model)).all()
        assert {r.location_id for r in rows} == {world["a"].id}
    finally:
        ctx.pop()


def test_admin_sees_the_location_they_switched_to(app, world):
    ctx = _as(app, world["users"][Role.GLOBAL_ADMIN].id)
    try:
        assert scoping.allowed_location_ids() == {world["a"].id, world["b"].id}
        scoping.switch_location(world["b"].id)
        assert scoping.current_location().id == world["b"].id
        foreign = world["records"]["ALPHA"]["customer"]
        with pytest.raises(NotFound):
            scoping.get_or_404(Customer, foreign.id)  # current location only...
        assert scoping.get_or_404(Customer, foreign.id, across=True).id == foreign.id  # ...unless asked
    finally:
        ctx.pop()


def test_field_manager_spans_only_covered_locations(app, world):
    ctx = _as(app, world["users"][Role.FIELD_MANAGER].id)
    try:
        assert scoping.allowed_location_ids() == {world["a"].id}
        with pytest.raises(NotFound):
            scoping.switch_location(world["b"].id)
        with pytest.raises(NotFound):
            scoping.get_or_404(Customer, world["records"]["BETA"]["customer"].id, across=True)
    finally:
        ctx.pop()


def test_user_without_location_sees_nothing(app, make):
    loc = make.location()
    make.customer(loc)
    lost = make.user(Role.SERVICE_ADVISOR, None)
    ctx = _as(app, lost.id)
    try:
        assert scoping.current_location() is None
        assert db.session.scalars(scoping.scoped(Customer)).all() == []
    finally:
        ctx.pop()


def test_switching_to_a_foreign_location_over_http_is_404(client, auth, world):
    auth.login(world["users"][Role.FIELD_MANAGER].email, PASSWORD)
    response = client.post("/location", data={"location_id": world["b"].id})
    assert response.status_code == 404
    for off_site in ("/\t/evil.example", "/%09/evil.example", "//evil.example"):  # the switcher's next stays on site
        moved = client.post("/location", data={"location_id": world["a"].id, "next": off_site})
        assert moved.status_code == 303 and moved.headers["Location"] == "/", off_site
    ok = client.post("/location", data={"location_id": world["a"].id})
    assert ok.status_code == 303
    assert world["a"].name in soup(client.get(ok.headers["Location"])).select_one("h2#loc-heading").get_text()


def test_every_location_owned_model_is_known():
    """New location-owned models are listed here so their routes get 404 tests."""
    owned = {cls.__name__ for cls in LocationOwned.__subclasses__()}
    assert owned == {
        "Customer",
        "Asset",
        "ChangeHistory",
        "DmsRecord",
        "SyncCursor",
        "SyncRun",
        "UpdateRequest",
        "SearchToken",
        "Case",
        "Appointment",
        "OutboxMessage",
        "SyncSession",
        "Workfile",
        "Payment",
        "DmsEvent",
    }


def test_change_history_is_append_only(app, world):
    from webapp.models.change_history import AppendOnlyError, ChangeSource, record_change

    with app.app_context():
        customer = db.session.get(Customer, world["records"]["ALPHA"]["customer"].id)
        entry = record_change(record=customer, field="email", old="a@x.com", new="b@x.com", source=ChangeSource.PORTAL)
        db.session.commit()
        entry.new_value = "tampered"
        with pytest.raises(AppendOnlyError):
            db.session.commit()
        db.session.rollback()
        db.session.delete(db.session.get(ChangeHistory, entry.id))
        with pytest.raises(AppendOnlyError):
            db.session.commit()
        db.session.rollback()
        assert db.session.get(ChangeHistory, entry.id).new_value == "b@x.com"
