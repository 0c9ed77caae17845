"""Issue 19, item 1: a request is never "Confirmed by DMS" on data the customer record does not have.

In "Review differences" mode the pull leaves linked customers alone, so the confirmation itself
applies the requested values (as typed), with Change History naming the request; a customer that
cannot take them keeps the request open. The request page's guidance says what the location's mode does.
"""

from __future__ import annotations

import io

import pytest

from tests.conftest import dms_settings, soup
from tests.factories import screenshot_png
from tests.test_update_requests import _login, pull_customers
from webapp.extensions import db
from webapp.models import ChangeHistory, ChangeSource, Customer, DmsRecord, Role, SyncMode, UpdateRequest
from webapp.models.update_request import UpdateRequestStatus


@pytest.fixture()
def dealer(app, make, sandbox, run_jobs):
    """A review-mode CDK location on the sandbox, a person linked to a sandbox customer, a pull helper."""
    location = make.location(
        name="Alpha Ford", code="ALPHAF", sync_mode=SyncMode.REVIEW, **dms_settings(sandbox, "alpha-cdk")
    )
    with sandbox.connect("alpha-cdk") as dms:
        person = next(
            r
            for r in (dms.fetch_one("customers", i) for i in sorted(dms.list_ids("customers")))
            if r.kind == "person" and r.emails and r.last_name and r.first_name
        )
    customer = make.customer(
        location,
        dms_id=person.dms_id,
        first_name=person.first_name,
        last_name=person.last_name,
        email=person.emails[0],
        phone="+12175550100",
    )

    def pull() -> None:
        pull_customers(app, run_jobs, location.id)

    pull()  # the mirror holds the DMS as it is before anyone edits it
    return {
        "location": location,
        "person": person,
        "customer": customer,
        "pull": pull,
        "advisor": make.user(Role.SERVICE_ADVISOR, location, name="Avery Advisor"),
    }


def _history(customer_id: int, field: str) -> list[ChangeHistory]:
    return (
        db.session.query(ChangeHistory)
        .filter_by(record_type="customer", record_id=customer_id, field=field)
        .order_by(ChangeHistory.id)
        .all()
    )


def test_pending_request_closed_by_dms_applies_the_email_with_history(app, client, make, sandbox, dealer):
    customer, person = dealer["customer"], dealer["person"]
    old_email = customer.email
    _login(client, dealer["advisor"])
    response = client.post(
        f"/customers/{customer.id}/update-request",
        content_type="multipart/form-data",
        data={
            "screenshot": (io.BytesIO(screenshot_png()), "dms.png", "image/png"),
            "update_email": "y",
            "email": "Fresh.Address@Example.COM",
        },
    )
    assert response.status_code == 303
    with app.app_context():
        request_id = db.session.query(UpdateRequest).one().id

    sandbox.control.edit_record("alpha-cdk", "customers", person.dms_id, {"emails": ["fresh.address@example.com"]})
    dealer["pull"]()

    with app.app_context():
        row = db.session.get(UpdateRequest, request_id)
        assert row.status is UpdateRequestStatus.CLOSED_BY_DMS
        saved = db.session.get(Customer, customer.id)
        assert saved.email == "fresh.address@example.com"  # the customer record has what the request closed on
        (entry,) = _history(customer.id, "email")
        assert (entry.old_value, entry.new_value) == (old_email, "fresh.address@example.com")
        assert entry.source is ChangeSource.DMS
        assert entry.context["update_request_id"] == request_id
        assert entry.context["source_detail"] == f"confirmed by the DMS, request #{request_id}"
        mirror = (
            db.session.query(DmsRecord)
            .filter_by(location_id=dealer["location"].id, data_type="customers", dms_id=person.dms_id)
            .one()
        )
        assert "email" not in (mirror.drift_fields or [])  # no difference left for the sync wizard

    page = soup(client.get(f"/update-requests/{request_id}"))
    assert "E-mail updated on the customer record" in page.select_one(".ur-closed-reason").text
    _login(client, make.user(Role.SERVICE_MANAGER, dealer["location"]))
    history = soup(client.get(f"/customers/{customer.id}")).select_one('table.history tr[data-field="email"]')
    assert history is not None and f"confirmed by the DMS, request #{request_id}" in history.text


def test_approved_request_confirmed_writes_the_value_as_requested(app, make, sandbox, dealer):
    """The DMS stores the name in capitals: that confirms the request; the customer gets it as typed."""
    customer, person = dealer["customer"], dealer["person"]
    approved = make.update_request(
        dealer["location"],
        customer,
        dealer["advisor"],
        status=UpdateRequestStatus.APPROVED,
        requested_values={"last_name": "McAllister"},
    )
    sandbox.control.edit_record("alpha-cdk", "customers", person.dms_id, {"last_name": "MCALLISTER"})
    dealer["pull"]()
    with app.app_context():
        row = db.session.get(UpdateRequest, approved.id)
        assert row.status is UpdateRequestStatus.CONFIRMED and row.confirmed_at
        assert "Last name updated on the customer record" in row.closed_reason
        assert db.session.get(Customer, customer.id).last_name == "McAllister"
        (entry,) = _history(customer.id, "last_name")
        assert entry.new_value == "McAllister"
        assert entry.context["source_detail"] == f"confirmed by the DMS, request #{approved.id}"


def test_request_whose_customer_cannot_take_the_values_stays_pending(app, make, sandbox, dealer, monkeypatch):
    """A customer record that is gone (deleted or unlinked meanwhile): no close on data it does not have."""
    from webapp.services import update_request_confirmation as confirm

    customer, person = dealer["customer"], dealer["person"]
    pending = make.update_request(
        dealer["location"], customer, dealer["advisor"], requested_values={"email": "gone@example.com"}
    )
    monkeypatch.setattr(confirm, "_customer_of", lambda *_args: None)
    sandbox.control.edit_record("alpha-cdk", "customers", person.dms_id, {"emails": ["gone@example.com"]})
    dealer["pull"]()
    with app.app_context():
        row = db.session.get(UpdateRequest, pending.id)
        assert row.status is UpdateRequestStatus.PENDING and row.confirmed_at is None
        assert "could not be applied" in row.closed_reason and "stays open" in row.closed_reason
        assert db.session.get(Customer, customer.id).email != "gone@example.com"
        assert _history(customer.id, "email") == []


@pytest.mark.parametrize(
    "vendor, mode, expected, absent",
    [
        (
            "cdk",
            SyncMode.REVIEW,
            ["sends a daily data file", "Review differences", "Sync with DMS", "every 15 mins", "within 24 hours"],
            ["no request is needed"],
        ),
        (
            "pbs",
            SyncMode.REVIEW,
            ["Review differences", "not applied to this customer by themselves"],
            ["no request is needed"],
        ),
        (
            "cdk",
            SyncMode.AUTOMATIC,
            ["applies DMS values automatically", "the next pull", "every 15 mins", "no request is needed"],
            ["Review differences"],
        ),
        (
            "tekion",
            SyncMode.AUTOMATIC,
            ["applies DMS values automatically", "catch-up pull every 60 mins", "no request is needed"],
            ["Review differences"],
        ),
    ],
)
def test_daily_file_guidance_says_what_the_mode_does(client, make, vendor, mode, expected, absent):
    location = make.location(dms_vendor=vendor, sync_mode=mode)
    customer = make.customer(location)
    _login(client, make.user(Role.SERVICE_ADVISOR, location))
    guidance = soup(client.get(f"/customers/{customer.id}/update-request")).select_one(".ur-guidance")
    assert guidance["data-kind"] == "daily_file"
    text = " ".join(guidance.text.split())
    for phrase in expected:
        assert phrase in text, (phrase, text)
    for phrase in absent:
        assert phrase not in text, (phrase, text)
