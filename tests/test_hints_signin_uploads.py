"""Review findings B: true connector hints, dead code gone, Test connection's sign-in row, what an
unlock clears, decision audit entries in the decision's transaction, atomic sign-in counters,
short upload waits."""

from __future__ import annotations

import io
import threading
import time

import pytest
from PIL import Image

import connectors
from connectors import (
    AuthenticationError,
    DmsValidationError,
    MalformedResponseError,
    NotSupportedError,
    TransientDmsError,
    connect,
)
from connectors.records import CUSTOMERS, KINDS, RecordKind, kind_of
from connectors.vendors import get_profile
from tests.conftest import audit_events, soup
from tests.factories import PASSWORD
from webapp.auth import throttle
from webapp.extensions import db
from webapp.models import AuditEvent, ChangeHistory, Customer, Role, UpdateRequest, User
from webapp.models.update_request import UpdateRequestStatus

VENDORS = tuple(connectors.VENDOR_CODES)

pytestmark = pytest.mark.usefixtures("fresh_throttle")


# --------------------------------------------------------------------------- 1. nothing promises a retry
def _promises_a_retry(text: str) -> bool:
    return "retried" in text.lower() or "automatically" in text.lower()


@pytest.mark.parametrize("vendor", VENDORS)
def test_busy_and_broken_dms_hints_promise_no_automatic_retry(vendor):
    profile = get_profile(vendor)
    for suffix in ("RATE-LIMITED", "SERVER-ERROR"):
        hint = profile.catalogue[profile.code_for(suffix)].fix_hint
        assert not _promises_a_retry(hint) and "try again" in hint.lower(), hint


def test_transient_and_unreadable_default_hints_promise_no_automatic_retry():
    for error in (TransientDmsError("DMS answered 503"), MalformedResponseError("customers record 'C1': bad")):
        assert not _promises_a_retry(error.fix_hint) and "try again" in error.fix_hint.lower(), error.fix_hint


# --------------------------------------------------------------------------- 2. credential hints name who fixes them
def _names_the_global_admin(text: str) -> bool:
    return "Ask a Global Admin" in text and "Admin → Locations" in text


@pytest.mark.parametrize("vendor", VENDORS)
def test_catalogue_credential_hints_send_readers_to_a_global_admin(vendor):
    profile = get_profile(vendor)
    for suffix in ("AUTH-FAILED", "TOKEN-EXPIRED"):
        hint = profile.catalogue[profile.code_for(suffix)].fix_hint
        assert _names_the_global_admin(hint), hint
    assert "signs in again" not in profile.catalogue[profile.code_for("TOKEN-EXPIRED")].fix_hint


def test_default_and_opentrack_credential_hints_send_readers_to_a_global_admin():
    from connectors import opentrack
    from webapp.credentials import CredentialsUnreadable

    for hint in (
        AuthenticationError("DMS answered 401").fix_hint,
        opentrack.AUTH_HINT,
        opentrack.EXPIRED_HINT,
        CredentialsUnreadable("cannot be decrypted").fix_hint,
    ):
        assert _names_the_global_admin(hint), hint
    # Nobody in the app can put a server key back: the hint does not ask them to.
    assert "CREDENTIALS_KEYS" not in CredentialsUnreadable("cannot be decrypted").fix_hint


def test_opentrack_uses_the_catalogue_row_for_a_code_it_knows():
    from connectors.opentrack import AUTH_HINT, EXPIRED_HINT, _auth_hint

    profile = get_profile("dealertrack")
    assert _auth_hint(profile, "DT-AUTH-FAILED") is None  # the catalogue row's hint is used
    assert _auth_hint(profile, "DT-TOKEN-EXPIRED") == EXPIRED_HINT  # no session: the credentials expired
    assert _auth_hint(profile, None) == AUTH_HINT and _auth_hint(profile, "DT-SOMETHING-ELSE") == AUTH_HINT


def test_wrong_opentrack_password_shows_the_catalogue_hint(tmp_path):
    from connectors.sandbox.testing import running_sandbox

    with running_sandbox((("ot-dealertrack", "dealertrack", 5),), data_dir=tmp_path / "ot") as box:
        settings = box.settings("ot-dealertrack")
        settings["credentials"] = {**settings["credentials"], "password": "wrong"}
        with connect("dealertrack", settings) as dms, pytest.raises(AuthenticationError) as caught:
            dms.fetch_one(CUSTOMERS, "C0000001")
    entry = get_profile("dealertrack").catalogue["DT-AUTH-FAILED"]
    assert caught.value.fix_hint == entry.fix_hint and _names_the_global_admin(caught.value.fix_hint)


def test_a_refused_star_client_secret_shows_the_catalogue_hint(tmp_path):
    from connectors.sandbox.testing import running_sandbox

    with running_sandbox((("star-tekion", "tekion", 5, "star"),), data_dir=tmp_path / "star") as box:
        settings = box.settings("star-tekion")
        settings["credentials"] = {**settings["credentials"], "client_secret": "wrong"}
        with connect("tekion", settings) as dms, pytest.raises(AuthenticationError) as caught:
            dms.fetch_one(CUSTOMERS, "C0000001")
    profile = get_profile("tekion")
    assert caught.value.fix_hint == profile.catalogue[profile.code_for("AUTH-FAILED")].fix_hint
    assert _names_the_global_admin(caught.value.fix_hint) and "client secret" in caught.value.fix_hint


# --------------------------------------------------------------------------- 3. dead code
def test_dead_code_is_gone():
    from connectors import star
    from connectors.sandbox.operations import Operations

    for name in ("account", "search", "count"):
        assert not hasattr(Operations, name), name
    assert not hasattr(star, "threading")
    assert "_lock" not in star.StarConnector.__init__.__code__.co_names
    assert "plural" not in RecordKind.__dataclass_fields__ and not hasattr(RecordKind, "datetime_fields")
    assert KINDS[CUSTOMERS].label == "Customers" and KINDS[CUSTOMERS].noun == "customer"


# --------------------------------------------------------------------------- 4. Test connection's sign-in row
class _FakeDms:
    """A connector whose reads do what ``outcomes`` says per data type (an exception or a record count)."""

    def __init__(self, outcomes):
        self.outcomes = outcomes
        self.closed = False

    def iter_changes(self, data_type, page_size=1, timeout=None):
        outcome = self.outcomes(data_type)
        if isinstance(outcome, Exception):
            raise outcome

        class _Page:
            records = [object()] * outcome

        yield _Page()

    def close(self):
        self.closed = True


def _test_connection(monkeypatch, outcomes):
    from webapp.admin import connection_test

    fake = _FakeDms(outcomes)
    monkeypatch.setattr(connectors, "connect", lambda vendor, settings: fake)
    results = connection_test.run_connection_test("cdk", {}, call_timeout=5, budget=30)
    assert fake.closed
    return results


def _data_types():
    profile = get_profile("cdk")
    return [t for t in connectors.DATA_TYPES if profile.can_pull(t)]


def test_unreadable_answers_do_not_claim_the_sign_in_worked(monkeypatch):
    results = _test_connection(monkeypatch, lambda t: MalformedResponseError(f"{t}: not well-formed"))
    assert "Sign-in" not in [r.name for r in results]
    assert not any(r.ok for r in results) and all("accepted" not in r.detail for r in results)
    assert [r.name for r in results] == [kind_of(t).label for t in _data_types()]


def test_a_404_does_not_claim_the_sign_in_worked(monkeypatch):
    results = _test_connection(monkeypatch, lambda t: DmsValidationError("DMS answered 404", status=404))
    assert not any(r.name == "Sign-in" and r.ok for r in results)


def test_sign_in_worked_only_once_a_read_worked(monkeypatch):
    first = _data_types()[0]
    results = _test_connection(
        monkeypatch, lambda t: DmsValidationError("DMS answered 404", status=404) if t == first else 1
    )
    assert results[0].name == "Sign-in" and results[0].ok
    assert results[1].name == kind_of(first).label and results[1].status == "failed"
    assert all(r.ok for r in results[2:])


def test_refusals_made_without_asking_the_dms_leave_the_sign_in_not_tried(monkeypatch):
    results = _test_connection(monkeypatch, lambda t: NotSupportedError(f"does not deliver {t}"))
    assert results[0].name == "Sign-in" and results[0].status == "skipped"
    assert results[0].detail.startswith("Not tried")


def test_no_answer_after_an_answer_is_not_called_a_failed_sign_in(monkeypatch):
    first = _data_types()[0]
    results = _test_connection(
        monkeypatch,
        lambda t: (
            MalformedResponseError("bad")
            if t == first
            else TransientDmsError("the DMS did not answer in time (ReadTimeout)")
        ),
    )
    assert "Sign-in" not in [r.name for r in results]
    assert all(r.status == "failed" for r in results) and len(results) == len(_data_types())


def test_labels_come_from_the_record_kinds():
    from webapp.admin import connection_test

    assert not hasattr(connection_test, "DATA_TYPE_LABELS")


# --------------------------------------------------------------------------- 5. what an unlock clears


def _fail(client, email, times):
    for _ in range(times):
        assert client.post("/login", data={"email": email, "password": "wrong guess"}).status_code == 422


def test_an_address_wait_says_it_ends_by_itself_and_offers_no_unlock(app, auth, make):
    app.config["LOGIN_IP_FREE_FAILURES"] = 3
    try:
        for i in range(3):
            assert auth.login(f"spray{i}@example.test", "guess").status_code == 422
        response = auth.login("spray-last@example.test", "guess")
    finally:
        app.config["LOGIN_IP_FREE_FAILURES"] = 30
    assert response.status_code == 429
    text = soup(response).select_one(".alert-error").text
    assert "from this network" in text and "ends by itself: try again in 30 seconds" in text
    assert "unlock" not in text.lower() and "Global Admin" not in text


def test_an_account_wait_still_offers_the_unlock(client, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    _fail(client, user.email, 5)
    text = soup(client.post("/login", data={"email": user.email, "password": PASSWORD})).select_one(".alert-error").text
    assert "for this account" in text and "unlock your account" in text


def _admin_browser(app, make):
    admin = make.user(Role.GLOBAL_ADMIN)
    browser = app.test_client()
    browser.post(
        "/login", data={"email": admin.email, "password": PASSWORD}, headers={"X-CSRFToken": browser.csrf_token()}
    )
    return browser


def test_unlock_says_what_it_cleared(app, client, make):
    advisor = make.user(Role.SERVICE_ADVISOR, make.location(), name="Avery Advisor")
    _fail(client, advisor.email, 5)
    browser = _admin_browser(app, make)
    response = browser.post(
        f"/admin/users/{advisor.id}/unlock", headers={"X-CSRFToken": browser.csrf_token()}, follow_redirects=True
    )
    flashes = soup(response).select_one("#flashes").text
    assert "from any device" not in flashes
    assert "Cleared the 5 failed sign-ins counted for Avery Advisor's account" in flashes
    longest = throttle.wait_text(int(app.config["LOGIN_DELAY_MAX"]))
    assert "one network or on one computer is not cleared" in flashes and f"within {longest}" in flashes


def test_unlock_while_redis_is_down_says_only_this_process_was_cleared(app, client, make, monkeypatch):
    advisor = make.user(Role.SERVICE_ADVISOR, make.location(), name="Avery Advisor")
    _fail(client, advisor.email, 5)
    browser = _admin_browser(app, make)
    monkeypatch.setattr(throttle, "unlock_account", lambda email: False)
    response = browser.post(
        f"/admin/users/{advisor.id}/unlock", headers={"X-CSRFToken": browser.csrf_token()}, follow_redirects=True
    )
    assert "in this web process only" in soup(response).select_one("#flashes").text
    (unlock,) = audit_events(app, "auth.unlock")
    assert "one web process only" in unlock.detail


def test_unlock_account_reports_a_redis_it_could_not_reach(app):
    real = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        with app.test_request_context():
            assert throttle.unlock_account("someone@example.test") is False
    finally:
        app.config["REDIS_URL"] = real
    with app.test_request_context():
        throttle.reset_redis_state()
        assert throttle.unlock_account("someone@example.test") is True


# --------------------------------------------------------------------------- 6. decision audit in the decision's transaction
@pytest.fixture()
def pending(make):
    location = make.location(name="Alpha Motors", code="ALPHA", dms_vendor="dealertrack")
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    reviewer = make.user(Role.REVIEWER, None, name="Riley Reviewer")
    customer = make.customer(location, first_name="Jon", last_name="Smyth", email="jon.old@example.com")
    row = make.update_request(location, customer, advisor, requested_values={"email": "jon.new@example.com"})
    return {"request": row, "reviewer": reviewer, "customer": customer, "location": location}


def test_approving_writes_its_audit_entry_with_the_change(app, pending):
    from webapp.update_requests import service

    with app.app_context():
        decision = service.approve(
            db.session.get(UpdateRequest, pending["request"].id), db.session.get(User, pending["reviewer"].id)
        )
        assert decision.ok
    (entry,) = audit_events(app, "update_request.approved")
    assert entry.user_id == pending["reviewer"].id and entry.location_id == pending["location"].id
    assert entry.target == f"update request {pending['request'].id} (customer {pending['customer'].id})"


def test_rejecting_writes_its_audit_entry_with_the_change(app, pending):
    from webapp.update_requests import service

    with app.app_context():
        decision = service.reject(
            db.session.get(UpdateRequest, pending["request"].id),
            db.session.get(User, pending["reviewer"].id),
            "Screenshot shows another customer",
        )
        assert decision.ok
    (entry,) = audit_events(app, "update_request.rejected")
    assert entry.detail == "reason: Screenshot shows another customer"


def test_an_approval_that_fails_leaves_no_audit_entry(app, pending):
    from sqlalchemy import event, update

    from webapp.update_requests import service

    with app.app_context():
        customer_id = pending["customer"].id

        def bump(session, *_args):  # someone saves the customer meanwhile
            session.connection().execute(
                update(Customer).where(Customer.id == customer_id).values(version=Customer.version + 1)
            )

        event.listen(db.session, "before_flush", bump, once=True)
        decision = service.approve(
            db.session.get(UpdateRequest, pending["request"].id), db.session.get(User, pending["reviewer"].id)
        )
        assert not decision.ok
        db.session.remove()
        assert db.session.get(UpdateRequest, pending["request"].id).status is UpdateRequestStatus.PENDING
        assert db.session.query(ChangeHistory).count() == 0
        assert db.session.query(AuditEvent).count() == 0


def test_a_lost_race_leaves_no_audit_entry(app, pending):
    from webapp.update_requests import service

    with app.app_context():
        request = db.session.get(UpdateRequest, pending["request"].id)
        reviewer = db.session.get(User, pending["reviewer"].id)
        assert service.reject(request, reviewer, "first").ok
        assert not service.approve(request, reviewer).ok
    assert len(audit_events(app, "update_request.rejected")) == 1
    assert audit_events(app, "update_request.approved") == []


# --------------------------------------------------------------------------- 7. sign-in counters: shared client, atomic counts
def test_the_throttle_uses_the_shared_redis_client(app):
    from webapp.redis_conn import get_redis

    assert not hasattr(throttle, "_clients")
    with app.test_request_context():
        timeout = float(app.config["LOGIN_THROTTLE_REDIS_TIMEOUT"])
        assert throttle._redis() is get_redis(app.config["REDIS_URL"], timeout=timeout)


def _count_in_parallel(app, key, threads=8, each=10):
    errors = []

    def work():
        try:
            with app.test_request_context():
                for _ in range(each):
                    throttle.add_failure(key)
        except Exception as error:
            errors.append(error)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    with app.test_request_context():
        return throttle.state(key).failures


def test_parallel_failures_all_count_in_redis(app):
    assert _count_in_parallel(app, throttle.account_key("parallel@example.test")) == 80


def test_parallel_failures_all_count_in_memory_while_redis_is_down(app):
    real = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = None
    try:
        assert _count_in_parallel(app, throttle.account_key("parallel@example.test")) == 80
    finally:
        app.config["REDIS_URL"] = real


def test_a_counter_waits_and_is_forgotten_after_the_window(app, monkeypatch):
    now = [time.time()]
    monkeypatch.setattr(throttle.time, "time", lambda: now[0])
    real = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = None  # the memory store: its window runs on the patched clock
    try:
        with app.test_request_context():
            key = throttle.account_key("window@example.test")
            for _ in range(5):
                counter = throttle.add_failure(key)
            assert counter.wait_seconds() == 30 and throttle.is_slowed(throttle.state(key))
            now[0] += app.config["LOGIN_FAILURE_WINDOW"] + 1
            assert throttle.state(key).failures == 0
    finally:
        app.config["REDIS_URL"] = real


# --------------------------------------------------------------------------- 8. uploads
def test_an_upload_waits_only_a_few_seconds_for_the_decode_budget(monkeypatch):
    from webapp import uploads

    budget = uploads.MemoryBudget(1000)
    assert budget.acquire(1000, timeout=0)  # another upload holds it all
    monkeypatch.setattr(uploads, "_budget", budget)
    out = io.BytesIO()
    Image.new("RGB", (64, 48)).save(out, "PNG")
    started = time.monotonic()
    with pytest.raises(uploads.ScreenshotError) as refused:
        uploads.clean_screenshot(io.BytesIO(out.getvalue()))
    assert str(refused.value) == uploads.BUSY
    assert time.monotonic() - started < 10


def test_too_many_pixels_advises_cropping_or_jpeg():
    from webapp import uploads

    big = io.BytesIO()
    Image.new("L", (5000, 4000)).save(big, "PNG")  # 20 MP: over the PNG limit
    with pytest.raises(uploads.ScreenshotError) as refused:
        uploads.clean_screenshot(io.BytesIO(big.getvalue()))
    message = str(refused.value)
    assert "too many pixels" in message and "saved as PNG" not in message
    assert "Crop" in message and "JPEG" in message
