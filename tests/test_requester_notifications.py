"""Requesters are told when their update request is decided (issue 19, item 15).

A notification is written in the decision's own transaction (approve, reject, confirmed by a DMS
pull); the header counts the unread ones; the Notifications page lists them, newest first, and
"Mark all read" / "Mark read" clear them. With SMTP configured, a background job on the
maintenance queue e-mails the requester after the commit, here through a real SMTP server
(aiosmtpd) on a free loopback port.
"""

from __future__ import annotations

import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from tests.conftest import soup
from tests.test_update_requests import _login
from webapp.extensions import db
from webapp.models import DmsRecord, Role
from webapp.models.notification import Notification, NotificationKind
from webapp.models.update_request import UpdateRequestStatus
from webapp.redis_conn import get_redis
from webapp.services.update_request_confirmation import confirm_from_mirror


@pytest.fixture()
def shop(make):
    alpha = make.location(name="Alpha Motors", code="ALPHA")
    customer = make.customer(alpha, first_name="Jon", last_name="Smyth", dms_id="C-100", city="Springfield")
    advisor = make.user(Role.SERVICE_ADVISOR, alpha, name="Avery Advisor", email="avery@example.test")
    return {
        "alpha": alpha,
        "customer": customer,
        "advisor": advisor,
        "other": make.user(Role.SERVICE_ADVISOR, alpha, name="Sam Second"),
        "reviewer": make.user(Role.REVIEWER, None, name="Riley Reviewer"),
        "request": make.update_request(alpha, customer, advisor, requested_values={"city": "Chicago"}),
    }


def _notifications(app, user_id=None) -> list[Notification]:
    with app.app_context():
        query = db.session.query(Notification).order_by(Notification.id)
        rows = (query.filter_by(user_id=user_id) if user_id else query).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _header(client) -> str | None:
    link = soup(client.get("/")).select_one("header .notifications-link")
    return None if link is None else " ".join(link.text.split())


def _maintenance_jobs(app) -> list:
    with app.app_context():
        return Queue("maintenance", connection=get_redis()).get_jobs()


def _approve(client, shop, request_id=None):
    _login(client, shop["reviewer"])
    return client.post(f"/review/update-requests/{request_id or shop['request'].id}/approve")


def _reject(client, shop, reason="The screenshot shows another customer."):
    _login(client, shop["reviewer"])
    return client.post(f"/review/update-requests/{shop['request'].id}/reject", data={"reason": reason})


def _mirror(app, location, dms_id, **payload):
    base = {"dms_id": dms_id, "first_name": "Jon", "last_name": "Smyth", "city": "Springfield"}
    base.update(payload)
    with app.app_context():
        db.session.add(
            DmsRecord(
                location_id=location.id, data_type="customers", dms_id=dms_id, payload=base, content_hash="x" * 40
            )
        )
        db.session.commit()


# ----------------------------------------------------------------------------- written with the decision
def test_approve_notifies_the_requester(app, client, shop):
    assert _approve(client, shop).status_code == 303
    (note,) = _notifications(app)
    assert (note.user_id, note.update_request_id, note.kind) == (
        shop["advisor"].id,
        shop["request"].id,
        NotificationKind.APPROVED,
    )
    assert note.read_at is None and note.created_at is not None
    assert f"#{shop['request'].id}" in note.text and "approved by Riley Reviewer" in note.text
    assert "City updated" in note.text
    # A second reviewer who loses the race (the request is no longer pending) adds nothing.
    _approve(client, shop)
    assert len(_notifications(app)) == 1


def test_reject_notifies_the_requester_with_the_reason(app, client, shop):
    assert _reject(client, shop).status_code == 303
    (note,) = _notifications(app)
    assert note.kind is NotificationKind.REJECTED and note.user_id == shop["advisor"].id
    assert "rejected by Riley Reviewer" in note.text and "another customer" in note.text


def test_dms_confirmation_notifies_in_the_pulls_transaction(app, make, shop):
    approved = make.update_request(
        shop["alpha"],
        shop["customer"],
        shop["advisor"],
        status=UpdateRequestStatus.APPROVED,
        requested_values={"first_name": "John"},
    )
    _mirror(app, shop["alpha"], "C-100", first_name="JOHN", city="chicago")
    with app.app_context():  # a rolled-back page leaves no notification
        assert confirm_from_mirror(db.session, shop["alpha"].id, ["C-100"])
        db.session.rollback()
    assert _notifications(app) == []
    with app.app_context():
        changed = confirm_from_mirror(db.session, shop["alpha"].id, ["C-100"])
        db.session.commit()
    assert sorted(changed) == sorted([approved.id, shop["request"].id])
    notes = {n.update_request_id: n for n in _notifications(app, shop["advisor"].id)}
    assert {n.kind for n in notes.values()} == {NotificationKind.CONFIRMED}
    assert "confirmed by the DMS" in notes[approved.id].text
    assert "closed automatically" in notes[shop["request"].id].text  # it was still pending


def test_no_notification_for_a_request_without_requester(app, client, make, shop):
    orphan = make.update_request(shop["alpha"], shop["customer"], None, requested_values={"city": "Peoria"})
    assert _approve(client, shop, orphan.id).status_code == 303
    assert _notifications(app) == []


# ----------------------------------------------------------------------------- header and page
def test_header_counts_unread_notifications(app, client, shop):
    _login(client, shop["advisor"])
    assert _header(client) == "Notifications (0) unread"
    link = soup(client.get("/")).select_one("header .notifications-link")
    assert link["href"] == "/notifications" and link.select_one(".visually-hidden").text.strip() == "unread"
    _approve(client, shop)
    assert soup(client.get("/")).select_one("header .notifications-link") is None  # reviewers request nothing
    _login(client, shop["advisor"])
    assert _header(client).startswith("Notifications (1)")
    _login(client, shop["other"])
    assert _header(client).startswith("Notifications (0)")  # someone else's decision


def test_page_lists_newest_first_and_marks_read_only_on_post(app, client, make, shop):
    second = make.update_request(shop["alpha"], shop["customer"], shop["advisor"], requested_values={"city": "Peoria"})
    _reject(client, shop)
    _approve(client, shop, second.id)
    _login(client, shop["advisor"])
    page = soup(client.get("/notifications"))
    items = page.select("li.notification")
    assert [li["data-kind"] for li in items] == ["approved", "rejected"]  # newest first
    assert items[0].select_one("a")["href"] == f"/update-requests/{second.id}"
    assert client.get(items[0].select_one("a")["href"]).status_code == 200
    assert all(li.select_one(".tag").text == "New" for li in items)
    assert page.select_one('header a[aria-current="page"]').text.startswith("Notifications")
    # Viewing the page changes nothing: a GET stays safe.
    client.get("/notifications")
    assert _header(client).startswith("Notifications (2)")
    # "Mark all read" needs the CSRF token.
    assert client.post("/notifications/read", csrf=False).status_code == 400
    assert _header(client).startswith("Notifications (2)")
    response = client.post("/notifications/read")
    assert response.status_code == 303 and response.headers["Location"].endswith("/notifications")
    assert _header(client).startswith("Notifications (0)")
    page = soup(client.get("/notifications"))
    assert not page.select("li.notification .tag") and not page.select("form[action='/notifications/read']")
    assert all(n.read_at for n in _notifications(app))


def test_users_see_and_mark_only_their_own(app, client, shop):
    _approve(client, shop)
    (note,) = _notifications(app)
    _login(client, shop["other"])
    assert "approved by" not in client.get("/notifications").get_data(as_text=True)
    assert client.post(f"/notifications/{note.id}/read").status_code == 404
    client.post("/notifications/read")
    assert _notifications(app)[0].read_at is None  # "Mark all read" of another user leaves it alone
    _login(client, shop["advisor"])
    assert "approved by Riley Reviewer" in client.get("/notifications").get_data(as_text=True)
    assert client.post(f"/notifications/{note.id}/read").status_code == 303
    assert _notifications(app)[0].read_at is not None
    assert _header(client).startswith("Notifications (0)")


# ----------------------------------------------------------------------------- e-mail
class _Inbox:
    """aiosmtpd handler: keeps every message it is sent."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def smtp(app, monkeypatch):
    """A real SMTP server on a free loopback port, configured as the console's."""
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    for key, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": controller.port,
        "SMTP_FROM": "console@dealer.test",
        "SMTP_STARTTLS": False,
        "SMTP_USER": "",
        "SMTP_PASSWORD": "",
    }.items():
        monkeypatch.setitem(app.config, key, value)
    yield inbox
    controller.stop()


def test_email_goes_out_from_a_job_after_the_commit(app, client, shop, smtp, run_jobs):
    _reject(client, shop)
    assert smtp.envelopes == []  # not on the request path
    (job,) = _maintenance_jobs(app)
    assert job.func_name == "jobs.notifications.send_notification_email" and job.retries_left == 3
    run_jobs()
    (envelope,) = smtp.envelopes
    assert envelope.mail_from == "console@dealer.test" and envelope.rcpt_tos == ["avery@example.test"]
    message = message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"] == f"Update request #{shop['request'].id}: rejected"
    assert message.get_content_type() == "text/plain"
    body = message.get_content()
    assert "Hello Avery Advisor" in body and "another customer" in body and "Notifications" in body
    (note,) = _notifications(app)
    assert note.emailed_at is not None
    # A job run again (a retry after a crash) does not send it twice.
    from jobs.notifications import send_notification_email

    with app.app_context():
        assert send_notification_email(note.id) == "already sent"
    assert len(smtp.envelopes) == 1


def test_dms_confirmation_is_emailed_only_after_the_page_commits(app, make, shop, smtp, run_jobs):
    _mirror(app, shop["alpha"], "C-100", city="Chicago")
    with app.app_context():
        confirm_from_mirror(db.session, shop["alpha"].id, ["C-100"])
        db.session.flush()
        assert _maintenance_jobs(app) == []  # inside the page's transaction: nothing queued yet
        db.session.rollback()
    assert _maintenance_jobs(app) == []
    with app.app_context():
        confirm_from_mirror(db.session, shop["alpha"].id, ["C-100"])
        db.session.commit()
    assert len(_maintenance_jobs(app)) == 1
    run_jobs()
    (envelope,) = smtp.envelopes
    assert "closed automatically" in message_from_bytes(envelope.content, policy=policy.default).get_content()


def test_no_email_job_without_smtp_settings(app, client, shop, run_jobs):
    assert not app.config.get("SMTP_HOST")
    _approve(client, shop)
    assert len(_notifications(app)) == 1 and _maintenance_jobs(app) == []


def test_smtp_failure_is_retried_by_rq(app, client, shop, monkeypatch, run_jobs):
    for key, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": _free_port(),
        "SMTP_FROM": "console@dealer.test",
        "SMTP_STARTTLS": False,
    }.items():
        monkeypatch.setitem(app.config, key, value)  # nothing listens there
    _approve(client, shop)
    run_jobs()
    with app.app_context():
        queue = Queue("maintenance", connection=get_redis())
        (job_id,) = ScheduledJobRegistry(queue=queue).get_job_ids()  # RQ will try again later
        assert queue.fetch_job(job_id).retries_left == 2
        assert FailedJobRegistry(queue=queue).get_job_ids() == []
    assert _notifications(app)[0].emailed_at is None


def test_smtp_settings_come_from_the_environment(monkeypatch, tmp_path):
    from webapp.config import Config

    monkeypatch.setenv("SECRET_KEY", "x")
    for name, value in {
        "SMTP_HOST": "mail.dealer.test",
        "SMTP_PORT": "2525",
        "SMTP_FROM": "console@dealer.test",
        "SMTP_USER": "console",
        "SMTP_PASSWORD": "s3cret",
        "SMTP_STARTTLS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    config = Config()
    assert (config.SMTP_HOST, config.SMTP_PORT, config.SMTP_FROM) == ("mail.dealer.test", 2525, "console@dealer.test")
    assert (config.SMTP_USER, config.SMTP_PASSWORD, config.SMTP_STARTTLS) == ("console", "s3cret", False)
    for name in ("SMTP_HOST", "SMTP_PORT", "SMTP_FROM", "SMTP_USER", "SMTP_PASSWORD", "SMTP_STARTTLS"):
        monkeypatch.delenv(name)
    config = Config()
    assert config.SMTP_HOST == "" and config.SMTP_PORT == 587 and config.SMTP_STARTTLS is True
