"""In Chromium, under the strict CSP: irreversible one-click actions ask first (a native dialog from
js/confirm.js or htmx's hx-confirm); dismissing the dialog sends nothing, accepting it goes ahead.
And the sync wizard's Cancel, reached with the keyboard, ends the wizard on the server."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import dms_settings
from tests.e2e.conftest import sign_in
from tests.test_sync_wizard import dms_record, person, portal_copy
from webapp.extensions import db
from webapp.models import Appointment, OutboxMessage, OutboxStatus, Role, SyncSession, SyncSessionStatus

pytestmark = pytest.mark.e2e


class Dialogs:
    """Answers every dialog (``accept`` True/False) and remembers what each asked."""

    def __init__(self, page) -> None:
        self.asked: list[tuple[str, str]] = []
        self.accept = False
        page.on("dialog", self._answer)

    def _answer(self, dialog) -> None:
        self.asked.append((dialog.type, dialog.message))
        if self.accept:
            dialog.accept()
        else:
            dialog.dismiss()


def _posts(page, fragment: str) -> list[str]:
    sent: list[str] = []
    page.on(
        "request",
        lambda request: sent.append(request.url) if request.method == "POST" and fragment in request.url else None,
    )
    return sent


def _no_csp_violations(page) -> None:
    violations = [m for m in page.console_log if "Content Security Policy" in m or "Refused to" in m]
    assert violations == [], violations


def test_cancel_appointment_asks_and_a_dismissed_dialog_sends_nothing(live_server, page, make, app):
    location = make.location(name="Alpha Motors")
    advisor = make.user(Role.SERVICE_ADVISOR, location, name="Avery Advisor", advisor_dms_id="AV1")
    customer = make.customer(location, first_name="Pat", last_name="Sample")
    appointment = make.appointment(location, customer, advisor=advisor)
    dialogs = Dialogs(page)
    sent = _posts(page, f"/appointments/{appointment.id}/cancel")

    sign_in(page, live_server, advisor.email)
    page.goto(f"{live_server}/appointments/{appointment.id}")
    page.get_by_role("button", name="Cancel appointment").click()
    expect(page.get_by_role("button", name="Cancel appointment")).to_be_visible()
    page.wait_for_timeout(300)  # a submit, had one started, would have left by now
    assert dialogs.asked and dialogs.asked[0][0] == "confirm"
    assert dialogs.asked[0][1].startswith("Cancel this appointment?")
    assert sent == []
    with app.app_context():
        assert not db.session.get(Appointment, appointment.id).is_cancelled

    dialogs.accept = True
    page.get_by_role("button", name="Cancel appointment").click()
    expect(page.locator(".flashes")).to_contain_text("Appointment cancelled")
    assert len(sent) == 1 and len(dialogs.asked) == 2
    with app.app_context():
        assert db.session.get(Appointment, appointment.id).is_cancelled
    _no_csp_violations(page)


def test_dismiss_a_failed_push_asks_and_keeps_the_filter(live_server, page, make, app):
    location = make.location(name="Alpha Motors", brands=["Ford", "Kenworth"])
    manager = make.user(Role.SERVICE_MANAGER, location, name="Morgan Manager")
    advisor = make.user(Role.SERVICE_ADVISOR, location, name="Avery Advisor", advisor_dms_id="AV1")
    appointment = make.appointment(location, make.customer(location), advisor=advisor, brand="Ford")
    push = make.failed_push(location, appointment, brand="Ford")
    dialogs = Dialogs(page)
    sent = _posts(page, f"/integrations/failed/{push.id}/dismiss")

    sign_in(page, live_server, manager.email)
    page.goto(f"{live_server}/integrations/failed/?advisor_id={advisor.id}&brand=Ford")
    row = page.locator(f"#push-{push.id}")
    row.get_by_label("Reason to dismiss").fill("Booked by phone in the DMS")
    row.get_by_role("button", name="Dismiss").click()
    page.wait_for_timeout(300)
    assert dialogs.asked and "cannot be undone" in dialogs.asked[0][1]
    assert sent == []
    with app.app_context():
        assert db.session.get(OutboxMessage, push.id).status == OutboxStatus.FAILED

    dialogs.accept = True
    row.get_by_role("button", name="Dismiss").click()
    expect(page.locator(".flashes")).to_contain_text("dismissed")
    assert f"advisor_id={advisor.id}" in page.url and "brand=Ford" in page.url  # the filter is kept
    with app.app_context():
        assert db.session.get(OutboxMessage, push.id).status == OutboxStatus.DISMISSED
    _no_csp_violations(page)


def test_wizard_cancel_with_the_keyboard_ends_the_wizard(live_server, page, make, app, sandbox):
    location = make.location(name="Alpha Motors", code="ALPHA", **dms_settings(sandbox, "alpha-cdk"))
    advisor = make.user(Role.SERVICE_ADVISOR, location, name="Avery Advisor")
    payload = dms_record(sandbox, "alpha-cdk", "customers", person, last_name="Sample", city="Springfield")
    customer = portal_copy(make, location, "customers", payload, last_name="Samples", city=None)

    sign_in(page, live_server, advisor.email)
    page.goto(f"{live_server}/customers/{customer.id}")
    page.get_by_role("button", name="Sync with DMS").click()
    expect(page.get_by_role("heading", name="Choose the values to keep")).to_be_visible()
    page.locator("tr[data-field=last_name] input[value=dms]").check()
    page.get_by_role("button", name="Next", exact=True).click()
    expect(page.get_by_role("heading", name="Confirm the changes")).to_be_visible()
    confirm_url = page.url
    # htmx swaps the step in and then settles it: focus the button once nothing is in flight.
    page.wait_for_function("!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')")
    cancel = page.get_by_role("button", name="Cancel", exact=True)
    cancel.focus()
    expect(cancel).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/customers/{customer.id}")
    expect(page.locator(".flashes")).to_contain_text("nothing was changed")
    with app.app_context():
        wizard = db.session.scalars(db.select(SyncSession).where(SyncSession.record_id == customer.id)).one()
        assert wizard.status == SyncSessionStatus.CANCELLED

    page.go_back()  # Back to the Confirm page: it is cancelled now, with no Apply
    page.wait_for_url(confirm_url)
    expect(page.get_by_role("heading", name="Sync cancelled")).to_be_visible()
    expect(page.get_by_role("button", name="Apply", exact=True)).to_have_count(0)
    _no_csp_violations(page)
