"""Customer-info update requests: request → approve / reject, the DMS wording, races, scoping,
"confirmed by DMS", and the partials the customer page includes."""

from __future__ import annotations

import io
import threading

import pytest
from flask import render_template_string
from flask_login import login_user

from tests.conftest import soup
from tests.factories import PASSWORD, screenshot_png
from webapp.extensions import db
from webapp.models import ChangeHistory, ChangeSource, Customer, DmsRecord, Role, UpdateRequest, User
from webapp.models.update_request import UpdateRequestStatus
from webapp.services.update_request_confirmation import confirm_from_mirror


def _login(client, user):
    client.post("/logout")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302


def _submit(client, customer, **fields):
    data = {"screenshot": (io.BytesIO(screenshot_png()), "dms.png", "image/png"), **fields}
    return client.post(f"/customers/{customer.id}/update-request", data=data, content_type="multipart/form-data")


def pull_customers(app, run_jobs, location_id: int) -> None:
    """A real customer pull of the location through the worker; it must succeed."""
    from tests.test_pulls import pull
    from webapp.models import RunStatus

    run = pull(app, run_jobs, location_id, "customers")
    assert run.status == RunStatus.SUCCEEDED, run.error


def _only_request(app) -> UpdateRequest:
    with app.app_context():
        row = db.session.query(UpdateRequest).one()
        db.session.expunge(row)
        return row


FULL_CHANGE = {
    "update_name": "y",
    "first_name": "John",
    "last_name": "Smith",
    "update_phones": "y",
    "phone": "(217) 555-0199",
    "mobile_phone": "",
    "update_email": "y",
    "email": "John.Smith@Example.COM",
}


# ----------------------------------------------------------------------------- the request page
@pytest.mark.parametrize(
    "vendor, kind",
    [
        ("pbs", "daily_file"),
        ("cdk", "daily_file"),
        ("reynolds", "daily_file"),
        ("tekion", "daily_file"),
        ("dealertrack", "next_transaction"),
        ("dealerbuilt", "next_transaction"),
        ("automate", "next_transaction"),
        ("karmak", "next_transaction"),
        (None, "none"),
    ],
)
def test_request_page_says_how_the_dms_updates(client, make, vendor, kind):
    location = make.location(dms_vendor=vendor)
    customer = make.customer(location)
    _login(client, make.user(Role.SERVICE_ADVISOR, location))
    page = soup(client.get(f"/customers/{customer.id}/update-request"))
    assert page.select_one("h1").text == "Customer Info Update Request"
    assert "save the new customer details in your DMS" in page.select_one(".ur-save-first").text
    guidance = page.select_one(".ur-guidance")
    assert guidance["data-kind"] == kind
    text = " ".join(guidance.text.split())
    if kind == "daily_file":
        assert "sends a daily data file" in text and "within 24 hours" in text
    elif kind == "next_transaction":
        assert "next transaction" in text and "24 hours" not in text
    else:
        assert "No DMS is connected" in text
    # Every control has a label; the screenshot input only offers images.
    for control in page.select("form#update-request-form input:not([type=hidden]), form#update-request-form textarea"):
        assert page.select_one(f'label[for="{control["id"]}"]'), control
    assert page.select_one("#screenshot")["accept"] == "image/png,image/jpeg,image/webp"


def test_form_is_prefilled_with_current_values(client, update_request_shop):
    _login(client, update_request_shop["advisor"])
    page = soup(client.get(f"/customers/{update_request_shop['customer'].id}/update-request"))
    assert page.select_one("#first_name")["value"] == "Jon"
    assert page.select_one("#phone")["value"] == "(217) 555-0100"
    assert not page.select_one("#update_name").has_attr("checked")


@pytest.mark.parametrize(
    "fields, field_id, message",
    [
        ({}, "ur-form-error", "Tick at least one group"),
        ({"update_phones": "y", "phone": "12", "mobile_phone": ""}, "phone-error", "not a valid phone number"),
        ({"update_phones": "y", "phone": "", "mobile_phone": ""}, "phone-error", "at least one phone"),
        ({"update_email": "y", "email": "jon@@example"}, "email-error", "not a valid e-mail address"),
        ({"update_email": "y", "email": "JON.OLD@example.com"}, "update_email-error", "already has"),
        ({"update_name": "y", "first_name": "", "last_name": ""}, "last_name-error", "first and/or last name"),
        (
            {"update_address": "y", "address_line1": "", "city": "X", "postal_code": "1"},
            "address_line1-error",
            "street address",
        ),
    ],
)
def test_invalid_values_are_explained_in_place(app, client, update_request_shop, fields, field_id, message):
    _login(client, update_request_shop["advisor"])
    response = _submit(client, update_request_shop["customer"], **fields)
    assert response.status_code == 422
    error = soup(response).select_one(f"#{field_id}")
    assert error is not None and message in error.text
    with app.app_context():
        assert db.session.query(UpdateRequest).count() == 0


def test_htmx_renders_the_form_and_the_queue_alone_with_their_macros(app, client, update_request_shop, make):
    """htmx asks for one block of a page; the block must bring the macros it uses (was a 500)."""
    _login(client, update_request_shop["advisor"])
    data = {
        "screenshot": (io.BytesIO(screenshot_png()), "dms.png", "image/png"),
        "update_email": "y",
        "email": "jon@@example",
    }
    response = client.post(
        f"/customers/{update_request_shop['customer'].id}/update-request",
        data=data,
        content_type="multipart/form-data",
        htmx=True,
    )
    assert response.status_code == 422
    assert "not a valid e-mail address" in soup(response).select_one("#email-error").text
    _login(client, make.user(Role.REVIEWER, None))
    queue = client.get("/review/update-requests", htmx=True)
    assert queue.status_code == 200 and "Traceback" not in queue.get_data(as_text=True)


# ----------------------------------------------------------------------------- request → approve
def test_request_then_approve_applies_values_with_change_history(app, client, update_request_shop):
    customer = update_request_shop["customer"]
    _login(client, update_request_shop["advisor"])
    response = _submit(client, customer, note="Customer called to correct the spelling.", **FULL_CHANGE)
    assert response.status_code == 303
    request_row = _only_request(app)
    assert request_row.status is UpdateRequestStatus.PENDING
    assert request_row.requested_values == {
        "first_name": "John",
        "last_name": "Smith",
        "phone": "+12175550199",
        "mobile_phone": None,
        "email": "john.smith@example.com",
    }
    assert request_row.previous_values["email"] == "jon.old@example.com"
    assert request_row.requested_by_id == update_request_shop["advisor"].id

    # The requester sees it, pending, under My requests and on the request page.
    detail = soup(client.get(response.headers["Location"]))
    assert detail.select_one(".ur-status").text == "Pending review"
    mine = soup(client.get("/update-requests"))
    assert [t.text for t in mine.select(".ur-status")] == ["Pending review"]

    # The reviewer's queue: location, customer, age; the review page compares side by side.
    _login(client, update_request_shop["reviewer"])
    queue = soup(client.get("/review/update-requests"))
    row = queue.select_one("table.ur-queue tbody tr")
    assert "Alpha Motors" in row.text and "Jon Smyth" in row.text and "min" in row.select_one(".ur-age").text
    review = soup(client.get(row.select_one("a")["href"]))
    email_row = review.select_one('tr[data-field="email"]')
    assert email_row.select_one(".ur-current").text == "jon.old@example.com"
    assert "john.smith@example.com" in email_row.select_one(".ur-requested").text
    assert review.select_one('tr[data-field="phone"] .ur-requested').text.startswith("(217) 555-0199")
    image = review.select_one(".ur-zoom img")
    assert image["src"].endswith(f"/review/update-requests/{request_row.id}/screenshot")
    assert client.get(image["src"]).headers["Content-Type"] == "image/png"
    assert review.select_one('a[target="_blank"]')["href"] == image["src"]  # full-size view
    assert "Customer called" in review.select_one(".ur-note").text

    decided = client.post(f"/review/update-requests/{request_row.id}/approve", follow_redirects=True)
    assert decided.status_code == 200
    assert (
        "Approved: First name, Last name, Phone, E-mail updated for John Smith"
        in soup(decided).select_one(".flash").text
    )
    assert not soup(decided).select("table.ur-queue")  # queue is empty again

    with app.app_context():
        saved = db.session.get(Customer, customer.id)
        assert (saved.first_name, saved.last_name, saved.phone, saved.email) == (
            "John",
            "Smith",
            "+12175550199",
            "john.smith@example.com",
        )
        assert saved.version == customer.version + 1
        history = db.session.query(ChangeHistory).filter_by(record_type="customer", record_id=customer.id).all()
        assert {h.field for h in history} == {"first_name", "last_name", "phone", "email"}  # mobile was empty already
        for entry in history:
            assert entry.source is ChangeSource.UPDATE_REQUEST
            assert entry.changed_by_id == update_request_shop["reviewer"].id
            assert entry.context == {"update_request_id": request_row.id}
        row = db.session.get(UpdateRequest, request_row.id)
        assert row.status is UpdateRequestStatus.APPROVED and row.decided_by_id == update_request_shop["reviewer"].id

    _login(client, update_request_shop["advisor"])
    assert [t.text for t in soup(client.get("/update-requests")).select(".ur-status")] == ["Approved"]


def test_request_then_reject_needs_a_reason_and_tells_the_requester(app, client, update_request_shop):
    customer = update_request_shop["customer"]
    _login(client, update_request_shop["advisor"])
    _submit(client, customer, update_email="y", email="someone.else@example.com")
    request_row = _only_request(app)

    _login(client, update_request_shop["reviewer"])
    no_reason = client.post(f"/review/update-requests/{request_row.id}/reject", data={"reason": "  "})
    assert no_reason.status_code == 422
    assert "Say why" in soup(no_reason).select_one("#reason-error").text
    assert _only_request(app).status is UpdateRequestStatus.PENDING

    rejected = client.post(
        f"/review/update-requests/{request_row.id}/reject",
        data={"reason": "The screenshot shows a different customer."},
        follow_redirects=True,
    )
    assert "Rejected" in soup(rejected).select_one(".flash").text
    with app.app_context():
        assert db.session.get(Customer, customer.id).email == customer.email  # untouched
        assert db.session.query(ChangeHistory).count() == 0
    row = _only_request(app)
    assert row.status is UpdateRequestStatus.REJECTED and row.reject_reason.startswith("The screenshot")

    # The requester and their manager see the status and the reason.
    for person in (update_request_shop["advisor"], update_request_shop["manager"]):
        _login(client, person)
        page = soup(client.get("/update-requests?who=location"))
        assert page.select_one(".ur-status").text == "Rejected"
        assert "different customer" in page.select_one("table.ur-list").text
        detail = soup(client.get(f"/update-requests/{row.id}"))
        assert "different customer" in detail.select_one(".ur-reason").text
        assert not detail.select(".ur-decide")  # no decision buttons for them


# ----------------------------------------------------------------------------- two reviewers at once
def test_second_reviewer_is_told_who_decided(app, client, make, update_request_shop):
    request_row = make.update_request(
        update_request_shop["alpha"],
        update_request_shop["customer"],
        update_request_shop["advisor"],
        requested_values={"email": "first@example.com"},
    )
    _login(client, update_request_shop["reviewer"])
    page_seen_by_second = client.get(f"/review/update-requests/{request_row.id}")  # both have it open
    assert soup(page_seen_by_second).select_one(".ur-decide")
    assert client.post(f"/review/update-requests/{request_row.id}/approve").status_code == 303

    _login(client, update_request_shop["reviewer2"])
    late = client.post(
        f"/review/update-requests/{request_row.id}/reject", data={"reason": "Wrong customer"}, follow_redirects=True
    )
    message = soup(late).select_one(".flash-error").text
    assert "already decided by Riley Reviewer (approved)" in message
    late_approve = client.post(f"/review/update-requests/{request_row.id}/approve", follow_redirects=True)
    assert "already decided by Riley Reviewer" in soup(late_approve).select_one(".flash-error").text
    assert not soup(late_approve).select(".ur-decide")  # the page now shows the decided request
    with app.app_context():
        assert db.session.query(ChangeHistory).count() == 1
        assert db.session.get(UpdateRequest, request_row.id).reject_reason is None


def test_concurrent_decisions_exactly_one_wins(app, make, update_request_shop):
    """Two reviewers in two threads (two database connections) decide the same request at once."""
    from webapp.update_requests import service

    request_row = make.update_request(
        update_request_shop["alpha"],
        update_request_shop["customer"],
        update_request_shop["advisor"],
        requested_values={"email": "race@example.com", "city": "Chicago"},
    )
    barrier = threading.Barrier(2)
    results: dict[str, service.Decision] = {}
    errors: list[BaseException] = []

    def decide(reviewer_id: int, how: str) -> None:
        try:
            with app.app_context():
                reviewer = db.session.get(User, reviewer_id)
                loaded = db.session.get(UpdateRequest, request_row.id)
                assert loaded.status is UpdateRequestStatus.PENDING  # both saw it pending
                barrier.wait(timeout=10)
                if how == "approve":
                    results[how] = service.approve(loaded, reviewer)
                else:
                    results[how] = service.reject(loaded, reviewer, "Duplicate")
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=decide, args=(update_request_shop["reviewer"].id, "approve")),
        threading.Thread(target=decide, args=(update_request_shop["reviewer2"].id, "reject")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert sorted(r.ok for r in results.values()) == [False, True]
    loser = next(r for r in results.values() if not r.ok)
    assert "already decided by" in loser.message
    with app.app_context():
        final = db.session.get(UpdateRequest, request_row.id)
        customer = db.session.get(Customer, update_request_shop["customer"].id)
        history = db.session.query(ChangeHistory).count()
        if final.status is UpdateRequestStatus.APPROVED:
            assert results["approve"].ok and customer.email == "race@example.com" and history == 2
            assert final.reject_reason is None
        else:
            assert results["reject"].ok and customer.email == update_request_shop["customer"].email and history == 0
            assert final.reject_reason == "Duplicate"


# ----------------------------------------------------------------------------- location scoping
def test_reviewer_sees_every_location_dealership_users_only_their_own(app, client, make, update_request_shop):
    alpha_request = make.update_request(
        update_request_shop["alpha"], update_request_shop["customer"], update_request_shop["advisor"]
    )
    beta_request = make.update_request(
        update_request_shop["beta"], update_request_shop["beta_customer"], update_request_shop["beta_advisor"]
    )

    _login(client, update_request_shop["reviewer"])
    queue = soup(client.get("/review/update-requests"))
    assert {"Alpha Motors", "Beta Trucks"} <= {td.text for td in queue.select("table.ur-queue td")}
    for row in (alpha_request, beta_request):
        assert client.get(f"/review/update-requests/{row.id}").status_code == 200
        assert client.get(f"/review/update-requests/{row.id}/screenshot").status_code == 200

    _login(client, update_request_shop["manager"])
    listing = soup(client.get("/update-requests?who=location"))
    assert len(listing.select("table.ur-list tbody tr")) == 1
    assert client.get(f"/update-requests/{alpha_request.id}").status_code == 200
    assert client.get(f"/update-requests/{alpha_request.id}/screenshot").status_code == 200
    # Another location's request, its screenshot and its customer answer 404 like missing ones.
    assert client.get(f"/update-requests/{beta_request.id}").status_code == 404
    assert client.get(f"/update-requests/{beta_request.id}/screenshot").status_code == 404
    assert client.get(f"/update-requests/{beta_request.id + 1000}/screenshot").status_code == 404
    assert client.get(f"/customers/{update_request_shop['beta_customer'].id}/update-request").status_code == 404
    # Dealership users cannot use the reviewers' URLs at all.
    assert client.get(f"/review/update-requests/{alpha_request.id}/screenshot").status_code == 403
    assert client.post(f"/review/update-requests/{alpha_request.id}/approve").status_code == 403


def test_my_requests_are_mine_and_location_shows_colleagues(app, client, make, update_request_shop):
    make.update_request(update_request_shop["alpha"], update_request_shop["customer"], update_request_shop["advisor"])
    make.update_request(update_request_shop["alpha"], update_request_shop["customer"], update_request_shop["advisor2"])
    _login(client, update_request_shop["advisor2"])
    assert len(soup(client.get("/update-requests")).select("table.ur-list tbody tr")) == 1
    colleagues = soup(client.get("/update-requests?who=location"))
    assert {"Avery Advisor", "Sam Second"} <= {td.text for td in colleagues.select("table.ur-list td")}


def test_field_manager_has_no_access(client, make, update_request_shop):
    field = make.user(Role.FIELD_MANAGER, None, covers=[update_request_shop["alpha"]])
    request_row = make.update_request(
        update_request_shop["alpha"], update_request_shop["customer"], update_request_shop["advisor"]
    )
    _login(client, field)
    for url in (
        f"/update-requests/{request_row.id}/screenshot",
        f"/review/update-requests/{request_row.id}/screenshot",
        "/review/update-requests",
        f"/customers/{update_request_shop['customer'].id}/update-request",
    ):
        assert client.get(url).status_code == 403, url


# ----------------------------------------------------------------------------- confirmed by DMS
def _mirror(make_app, location, dms_id, **payload):
    base = {
        "dms_id": dms_id,
        "first_name": "Jon",
        "last_name": "Smyth",
        "company_name": None,
        "phones": ["217-555-0100"],
        "emails": ["jon.old@example.com"],
        "address_line1": "1 Old Road",
        "city": "Springfield",
        "state": "IL",
        "postal_code": "62701",
    }
    base.update(payload)
    with make_app.app_context():
        existing = (
            db.session.query(DmsRecord)
            .filter_by(location_id=location.id, data_type="customers", dms_id=dms_id)
            .one_or_none()
        )
        if existing:
            existing.payload = base
        else:
            db.session.add(
                DmsRecord(
                    location_id=location.id, data_type="customers", dms_id=dms_id, payload=base, content_hash="x" * 40
                )
            )
        db.session.commit()


def test_confirm_from_mirror(app, make, update_request_shop):
    alpha, customer = update_request_shop["alpha"], update_request_shop["customer"]
    approved = make.update_request(
        alpha,
        customer,
        update_request_shop["advisor"],
        status=UpdateRequestStatus.APPROVED,
        requested_values={"email": "john.smith@example.com", "phone": "+12175550199"},
    )
    pending = make.update_request(
        alpha, customer, update_request_shop["advisor"], requested_values={"first_name": "John", "last_name": "Smith"}
    )
    unrelated = make.update_request(
        alpha, customer, update_request_shop["advisor"], requested_values={"city": "Chicago"}
    )
    # The other location's customer has the same DMS id: its mirror must not confirm Alpha's requests.
    _mirror(
        app,
        update_request_shop["beta"],
        "C-100",
        first_name="JOHN",
        last_name="smith",
        emails=["john.smith@example.com"],
        phones=["2175550199"],
    )
    with app.app_context():
        assert confirm_from_mirror(db.session, alpha.id, ["C-100"]) == []

    # The DMS now has the new e-mail (different case) and phone (different format), and the new name.
    _mirror(
        app,
        alpha,
        "C-100",
        first_name="JOHN",
        last_name="Smith",
        emails=["John.Smith@EXAMPLE.com"],
        phones=["(217) 555-0123", "217.555.0199"],
    )
    with app.app_context():
        changed = confirm_from_mirror(db.session, alpha.id, ["C-100", "C-999"])
        db.session.commit()
        assert sorted(changed) == sorted([approved.id, pending.id])
        assert db.session.get(UpdateRequest, approved.id).status is UpdateRequestStatus.CONFIRMED
        closed = db.session.get(UpdateRequest, pending.id)
        assert closed.status is UpdateRequestStatus.CLOSED_BY_DMS
        assert "already brought the requested values" in closed.closed_reason and closed.confirmed_at
        assert db.session.get(UpdateRequest, unrelated.id).status is UpdateRequestStatus.PENDING
        assert confirm_from_mirror(db.session, alpha.id, ["C-100"]) == []  # idempotent


def test_confirmed_by_dms_is_shown_to_requester(app, client, make, update_request_shop):
    row = make.update_request(
        update_request_shop["alpha"],
        update_request_shop["customer"],
        update_request_shop["advisor"],
        status=UpdateRequestStatus.APPROVED,
        requested_values={"city": "Chicago"},
    )
    _mirror(app, update_request_shop["alpha"], "C-100", city="chicago")
    with app.app_context():
        confirm_from_mirror(db.session, update_request_shop["alpha"].id, ["C-100"])
        db.session.commit()
    _login(client, update_request_shop["advisor"])
    assert soup(client.get("/update-requests")).select_one(".ur-status").text == "Confirmed by DMS"
    assert (
        "brought the approved values"
        in soup(client.get(f"/update-requests/{row.id}")).select_one(".ur-closed-reason").text
    )


# ----------------------------------------------------------------------------- partials for the customer page
def _render_partial(app, user_id, customer_id, template):
    with app.test_request_context():
        login_user(db.session.get(User, user_id))
        customer = db.session.get(Customer, customer_id)
        return soup_text(render_template_string('{% include "' + template + '" %}', customer=customer))


def soup_text(html):
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser")


def test_pencil_and_customer_requests_partials(app, make, update_request_shop):
    customer = update_request_shop["customer"]
    make.update_request(
        update_request_shop["alpha"],
        customer,
        update_request_shop["advisor"],
        status=UpdateRequestStatus.REJECTED,
        reject_reason="Blurry screenshot",
    )
    make.update_request(
        update_request_shop["beta"], update_request_shop["beta_customer"], update_request_shop["beta_advisor"]
    )

    pencil = _render_partial(app, update_request_shop["advisor"].id, customer.id, "update_requests/_pencil.html")
    link = pencil.select_one("a.ur-pencil")
    assert link["href"] == f"/customers/{customer.id}/update-request"
    assert "Request an update of Jon Smyth" in link.text

    listing = _render_partial(
        app, update_request_shop["manager"].id, customer.id, "update_requests/_customer_requests.html"
    )
    rows = listing.select("tbody tr")
    assert len(rows) == 1 and "Rejected" in rows[0].text and "Blurry screenshot" in rows[0].text
    assert "Avery Advisor" in rows[0].text

    # A reviewer never sees the dealership's pencil (they review, they do not request).
    assert not _render_partial(
        app, update_request_shop["reviewer"].id, customer.id, "update_requests/_pencil.html"
    ).select("a")


def test_customer_changed_meanwhile_is_not_overwritten_silently(app, client, make, update_request_shop):
    """Optimistic locking on the customer: a save racing the approval fails the approval cleanly."""
    from sqlalchemy import update

    from webapp.update_requests import service

    row = make.update_request(
        update_request_shop["alpha"],
        update_request_shop["customer"],
        update_request_shop["advisor"],
        requested_values={"email": "race@example.com"},
    )
    with app.app_context():
        reviewer = db.session.get(User, update_request_shop["reviewer"].id)
        loaded = db.session.get(UpdateRequest, row.id)
        customer = db.session.get(Customer, update_request_shop["customer"].id)
        assert customer.version == 1

        # Someone saves the customer between our load of it and our commit (on PostgreSQL another
        # connection can; SQLite's write lock forbids it, so the bump is made on our connection).
        def bump(session, *_args):
            session.connection().execute(
                update(Customer).where(Customer.id == customer.id).values(version=Customer.version + 1)
            )

        from sqlalchemy import event

        event.listen(db.session, "before_flush", bump, once=True)
        decision = service.approve(loaded, reviewer)
        assert not decision.ok and "changed by someone else" in decision.message
        db.session.remove()
        assert db.session.get(UpdateRequest, row.id).status is UpdateRequestStatus.PENDING
        assert db.session.query(ChangeHistory).count() == 0


# ----------------------------------------------------------------------------- confirmed by DMS, end to end
def test_confirmed_by_dms_after_a_sandbox_edit_and_a_pull(app, client, make, sandbox, run_jobs):
    """Request → approve in the portal; the DMS is edited; the next real pull confirms the
    approved request and closes a still-pending one whose values arrived anyway."""
    from tests.conftest import dms_settings

    location = make.location(name="Alpha Ford", code="ALPHAF", **dms_settings(sandbox, "alpha-cdk"))
    advisor = make.user(Role.SERVICE_ADVISOR, location, name="Avery Advisor")
    reviewer = make.user(Role.REVIEWER, None, name="Riley Reviewer")
    with sandbox.connect("alpha-cdk") as dms:
        person = next(
            r
            for r in (dms.fetch_one("customers", i) for i in sorted(dms.list_ids("customers")))
            if r.kind == "person" and r.emails and r.last_name
        )
    customer = make.customer(
        location,
        dms_id=person.dms_id,
        first_name=person.first_name,
        last_name=person.last_name,
        email=person.emails[0],
        phone="+12175550100",
        city="Springfield",
    )

    def pull() -> None:
        pull_customers(app, run_jobs, location.id)

    pull()  # the mirror holds the DMS as it is before anyone edits it

    _login(client, advisor)
    assert _submit(client, customer, update_email="y", email="New.Address@Example.COM").status_code == 303
    assert (
        _submit(
            client,
            customer,
            update_address="y",
            address_line1="9 New Street",
            city="Chicago",
            state="IL",
            postal_code="60601",
        ).status_code
        == 303
    )
    with app.app_context():
        email_request, address_request = db.session.query(UpdateRequest).order_by(UpdateRequest.id).all()
        db.session.expunge_all()
    _login(client, reviewer)
    client.post(f"/review/update-requests/{email_request.id}/approve")

    # A pull that does not bring the values confirms nothing.
    pull()
    with app.app_context():
        assert db.session.get(UpdateRequest, email_request.id).status is UpdateRequestStatus.APPROVED
        assert db.session.get(UpdateRequest, address_request.id).status is UpdateRequestStatus.PENDING

    # The dealership saves the changes in the DMS; the next pull brings them.
    sandbox.control.edit_record(
        "alpha-cdk",
        "customers",
        person.dms_id,
        {
            "emails": ["new.address@example.com"],
            "address_line1": "9 New Street",
            "city": "CHICAGO",
            "state": "IL",
            "postal_code": "60601",
        },
    )
    pull()
    with app.app_context():
        confirmed = db.session.get(UpdateRequest, email_request.id)
        closed = db.session.get(UpdateRequest, address_request.id)
        assert confirmed.status is UpdateRequestStatus.CONFIRMED and confirmed.confirmed_at
        assert closed.status is UpdateRequestStatus.CLOSED_BY_DMS and "already brought" in closed.closed_reason

    _login(client, advisor)
    statuses = [t.text for t in soup(client.get("/update-requests")).select(".ur-status")]
    assert sorted(statuses) == sorted(["Confirmed by DMS", UpdateRequestStatus.CLOSED_BY_DMS.label])
    _login(client, reviewer)
    assert not soup(client.get("/review/update-requests")).select("table.ur-queue tbody tr")  # nothing left to review
