"""Payments tab (seed 003): receipts Ready -> Exporting -> Posted / Failed, Void; export all
Ready through the outbox with one idempotency key per receipt; at most one posting in the
(sandbox) DMS whatever happens; unsupported vendors send nothing."""

from __future__ import annotations

import threading
from decimal import Decimal

from sqlalchemy import func, select, update

from tests.conftest import soup
from tests.factories import PASSWORD
from tests.test_dms_activity import events, setup_workfile, url
from webapp.extensions import db
from webapp.models import OutboxMessage, OutboxStatus, Payment, PaymentStatus, utcnow


def payments(app, workfile_id):
    """(status, reference id) of the workfile's receipts, in order."""
    with app.app_context():
        rows = db.session.scalars(select(Payment).where(Payment.workfile_id == workfile_id).order_by(Payment.id))
        return [(p.status, p.reference_id) for p in rows]


def outbox_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(OutboxMessage.id)))


def posted_in_dms(sandbox, account="alpha-cdk") -> int:
    return sandbox.control.count_created(account).get("payments", 0)


def ready_workfile(make, sandbox, account="alpha-cdk", count=3):
    location, advisor, workfile = setup_workfile(make, sandbox, account, dms_repair_id="12345678")
    receipts = [make.payment(workfile, amount=Decimal(f"{100 * (n + 1)}.00")) for n in range(count)]
    return location, advisor, workfile, receipts


def test_add_receipt_validates_and_saves_ready(app, client, auth, make):
    location, advisor, workfile = setup_workfile(make)
    auth.login(advisor.email, PASSWORD)
    invalid = client.post(
        url(workfile, "/payments"), data={"kind": "insurance", "amount": "0", "payer": "", "method": "check"}
    )
    assert invalid.status_code == 422
    page = soup(invalid)
    assert "Enter an amount above $0.00." in page.text and "Enter who paid." in page.text
    client.post(
        url(workfile, "/payments"),
        data={"kind": "insurance", "amount": "1000.00", "payer": "QUALITY INSURANCE COMPANY", "method": "check"},
    )
    assert payments(app, workfile.id) == [(PaymentStatus.READY, None)]
    row = soup(client.get(url(workfile) + "?tab=payments")).select_one("table.dms-payments tbody tr")
    assert "Insurance receipt" in row.text and "1,000.00" in row.text and "Ready" in row.text
    assert events(app, workfile.id)[0][0] == "payment_added"


def test_export_all_ready_posts_each_once_with_progress_then_finish(app, client, auth, make, sandbox, run_jobs):
    location, advisor, workfile, receipts = ready_workfile(make, sandbox)
    void = make.payment(workfile, status=PaymentStatus.VOID)
    auth.login(advisor.email, PASSWORD)
    response = client.post(url(workfile, "/payments/export"))
    assert response.status_code == 303 and "/payments/exporting?batch=" in response.headers["Location"]
    exporting = response.headers["Location"]
    progress = soup(client.get(exporting, htmx=True)).select_one("#export-progress")
    assert progress["hx-trigger"] == "load delay:1s" and progress["hx-swap"] == "outerHTML"
    assert [tr["data-status"] for tr in progress.select("tbody tr")] == ["exporting"] * 3
    assert client.post(url(workfile, "/payments/export")).status_code == 303  # a double click claims nothing
    assert outbox_count(app) == 3
    run_jobs(["pushes"])
    progress = soup(client.get(exporting, htmx=True)).select_one("#export-progress")
    assert not progress.has_attr("hx-trigger")  # polling stops
    assert "Export finished: 3 posted" in progress.text
    page = soup(client.get(exporting))
    assert page.find("a", string="Finish")["href"].endswith("tab=payments")
    stored = payments(app, workfile.id)
    assert [s for s, _ in stored] == [PaymentStatus.POSTED] * 3 + [PaymentStatus.VOID]
    refs = [r for _, r in stored[:3]]
    assert all(refs) and len(set(refs)) == 3
    assert posted_in_dms(sandbox) == 3
    for ref, receipt in zip(refs, receipts):
        dms = sandbox.control.get_record("alpha-cdk", "payments", ref)
        assert (dms["ro_number"], dms["amount"]) == ("12345678", f"{receipt.amount:.2f}")
    posted = [e for e in events(app, workfile.id) if e[0] == "payment_posted"]
    assert [(e[1], e[2]) for e in posted] == [(ref, "Janet Smith") for ref in refs]
    table = soup(client.get(url(workfile) + "?tab=payments")).select("table.dms-payments tbody tr")
    assert [tr["data-status"] for tr in table] == ["posted"] * 3 + ["void"]
    assert void.id not in [p.id for p in receipts]
    with app.app_context():  # the export is in the audit trail, once (the double click claimed nothing)
        from webapp.models.audit import AuditEvent

        exported = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "payment.exported")).all()
        assert [(e.actor, e.location_id, e.target) for e in exported] == [
            (advisor.email, location.id, f"workfile {workfile.id}")
        ]


def test_two_users_exporting_at_once_post_each_receipt_once(app, make, sandbox, run_jobs):
    from tests.conftest import AuthActions, CsrfClient
    from webapp.models import Role

    location, advisor, workfile, receipts = ready_workfile(make, sandbox, count=6)
    manager = make.user(Role.SERVICE_MANAGER, location)
    app.test_client_class = CsrfClient
    clients = []
    for user in (advisor, manager):
        c = app.test_client()
        AuthActions(c).login(user.email, PASSWORD)
        clients.append(c)
    barrier, statuses = threading.Barrier(2), []

    def export(c):
        barrier.wait()
        statuses.append(c.post(url(workfile, "/payments/export")).status_code)

    threads = [threading.Thread(target=export, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [303, 303]
    assert outbox_count(app) == 6
    run_jobs(["pushes"])
    assert [s for s, _ in payments(app, workfile.id)] == [PaymentStatus.POSTED] * 6
    assert posted_in_dms(sandbox) == 6


def test_claim_is_conditional(app, make):
    from webapp.dms_activity.service import _claim

    location, advisor, workfile = setup_workfile(make)
    receipt = make.payment(workfile)
    with app.app_context():
        assert _claim(receipt.id, (PaymentStatus.READY,), "b1", None) is True
        assert _claim(receipt.id, (PaymentStatus.READY,), "b2", None) is False
        db.session.commit()


def test_refused_export_is_failed_with_reason_then_retried_once(app, client, auth, make, sandbox, run_jobs):
    location, advisor, workfile, receipts = ready_workfile(make, sandbox, count=2)
    auth.login(advisor.email, PASSWORD)
    # The DMS rejects our credentials on the first receipt (twice: the connector renews once).
    sandbox.control.inject_fault("expired_token", count=2, account="alpha-cdk")
    client.post(url(workfile, "/payments/export"))
    run_jobs(["pushes"])
    assert [s for s, _ in payments(app, workfile.id)] == [PaymentStatus.FAILED, PaymentStatus.POSTED]
    row = soup(client.get(url(workfile) + "?tab=payments")).select_one(f'tr[data-payment-id="{receipts[0].id}"]')
    assert "Failed" in row.text and row.select_one(".dms-failure").text.strip()
    assert row.find("button", string="Retry")
    assert events(app, workfile.id)[-2][0] == "payment_failed"
    response = client.post(url(workfile, f"/payments/{receipts[0].id}/retry"))
    assert response.status_code == 303 and "exporting?batch=" in response.headers["Location"]
    assert client.post(url(workfile, f"/payments/{receipts[0].id}/retry")).status_code == 303  # double click
    run_jobs(["pushes"])
    assert [s for s, _ in payments(app, workfile.id)] == [PaymentStatus.POSTED, PaymentStatus.POSTED]
    assert posted_in_dms(sandbox) == 2
    assert [e[0] for e in events(app, workfile.id)][-2:] == ["payment_retried", "payment_posted"]


def test_transient_failure_keeps_exporting_and_retries_with_the_same_key(app, client, auth, make, sandbox, run_jobs):
    location, advisor, workfile, receipts = ready_workfile(make, sandbox, count=1)
    auth.login(advisor.email, PASSWORD)
    sandbox.control.inject_fault("503", count=1, account="alpha-cdk")
    exporting = client.post(url(workfile, "/payments/export")).headers["Location"]
    run_jobs(["pushes"])
    assert payments(app, workfile.id) == [(PaymentStatus.EXPORTING, None)]
    progress = soup(client.get(exporting, htmx=True)).select_one("#export-progress")
    assert "retrying automatically" in progress.text and progress["hx-trigger"] == "load delay:10s"
    with app.app_context():  # the backoff has passed
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        db.session.commit()
        from jobs.pushes import deliver_pushes

        deliver_pushes(location.id)
    assert payments(app, workfile.id)[0][0] == PaymentStatus.POSTED
    assert posted_in_dms(sandbox) == 1


def test_void_transitions_and_forbidden_ones(app, client, auth, make, sandbox, run_jobs):
    location, advisor, workfile, (ready, posted, failed, exporting) = ready_workfile(make, sandbox, count=4)
    with app.app_context():
        for receipt, status in (
            (posted, PaymentStatus.POSTED),
            (failed, PaymentStatus.FAILED),
            (exporting, PaymentStatus.EXPORTING),
        ):
            db.session.execute(update(Payment).where(Payment.id == receipt.id).values(status=status))
        db.session.commit()
    auth.login(advisor.email, PASSWORD)

    def void(receipt):
        return soup(
            client.post(
                url(workfile, f"/payments/{receipt.id}/void"), data={"reason": "Entered twice"}, follow_redirects=True
            )
        )

    assert "voided" in void(ready).select_one(".flashes").text
    assert "already Void" in void(ready).select_one(".flashes").text
    assert "cannot be voided here" in void(posted).select_one(".flashes").text
    assert "being exported" in void(exporting).select_one(".flashes").text
    void(failed)
    assert [s for s, _ in payments(app, workfile.id)] == [
        PaymentStatus.VOID,
        PaymentStatus.POSTED,
        PaymentStatus.VOID,
        PaymentStatus.EXPORTING,
    ]
    # Forged requests: a Void receipt is never exported or retried.
    assert (
        "only Failed receipts can be retried"
        in soup(client.post(url(workfile, f"/payments/{ready.id}/retry"), follow_redirects=True))
        .select_one(".flashes")
        .text
    )
    client.post(url(workfile, "/payments/export"))
    run_jobs(["pushes"])
    assert outbox_count(app) == 0 and posted_in_dms(sandbox) == 0
    assert [e[0] for e in events(app, workfile.id)].count("payment_voided") == 2


def test_voided_receipt_is_not_sent_even_if_its_push_is_requeued(app, client, auth, make, sandbox, run_jobs):
    location, advisor, workfile, (receipt,) = ready_workfile(make, sandbox, count=1)
    auth.login(advisor.email, PASSWORD)
    sandbox.control.inject_fault("expired_token", count=2, account="alpha-cdk")
    client.post(url(workfile, "/payments/export"))
    run_jobs(["pushes"])
    client.post(url(workfile, f"/payments/{receipt.id}/void"), data={"reason": "Customer paid by card instead"})
    with app.app_context():
        message = db.session.scalar(select(OutboxMessage))
        assert message.status == OutboxStatus.DISMISSED  # not retryable from the Failed pushes page
        from webapp.outbox import requeue

        requeue(db.session, message)  # as a forged or buggy resend would
        db.session.commit()
    run_jobs(["pushes"])
    assert payments(app, workfile.id) == [(PaymentStatus.VOID, None)]
    assert posted_in_dms(sandbox) == 0


def test_unsupported_vendor_says_so_and_sends_nothing(app, client, auth, make, sandbox, run_jobs):
    location, advisor, workfile, receipts = ready_workfile(make, sandbox, "beta-karmak", count=2)
    auth.login(advisor.email, PASSWORD)
    page = soup(client.get(url(workfile) + "?tab=payments"))
    notice = page.select_one(".dms-export-unsupported").text
    assert "Payment export is not available with Karmak Fusion" in notice
    assert page.find("button", string="Export all Ready payments").has_attr("disabled")
    assert len(page.select("table.dms-payments tbody tr")) == 2  # still listed
    response = client.post(url(workfile, "/payments/export"), follow_redirects=True)
    assert "does not support payment export. Nothing was sent" in soup(response).select_one(".flashes").text
    run_jobs(["pushes"])
    assert outbox_count(app) == 0
    assert [s for s, _ in payments(app, workfile.id)] == [PaymentStatus.READY] * 2
    assert posted_in_dms(sandbox, "beta-karmak") == 0


def test_export_needs_a_repair_id(app, client, auth, make, sandbox):
    location, advisor, workfile = setup_workfile(make, sandbox)
    make.payment(workfile)
    auth.login(advisor.email, PASSWORD)
    response = client.post(url(workfile, "/payments/export"), follow_redirects=True)
    assert "no DMS Repair ID yet" in soup(response).select_one(".flashes").text
    assert outbox_count(app) == 0


def test_receipt_of_another_workfile_is_404(client, auth, make):
    location, advisor, workfile = setup_workfile(make)
    other = make.workfile(location)
    receipt = make.payment(other)
    auth.login(advisor.email, PASSWORD)
    assert client.post(url(workfile, f"/payments/{receipt.id}/void")).status_code == 404


def test_retry_and_export_all_only_move_the_right_statuses(app, client, auth, make, sandbox, run_jobs):
    location, advisor, workfile, (ready, posted, failed) = ready_workfile(make, sandbox, count=3)
    with app.app_context():
        for receipt, status in ((posted, PaymentStatus.POSTED), (failed, PaymentStatus.FAILED)):
            db.session.execute(update(Payment).where(Payment.id == receipt.id).values(status=status))
        db.session.commit()
    auth.login(advisor.email, PASSWORD)
    for receipt in (ready, posted):  # forged retries of a Ready and a Posted receipt
        flashes = (
            soup(client.post(url(workfile, f"/payments/{receipt.id}/retry"), follow_redirects=True))
            .select_one(".flashes")
            .text
        )
        assert "only Failed receipts can be retried" in flashes
    assert outbox_count(app) == 0
    client.post(url(workfile, "/payments/export"))  # only the Ready one; Failed ones are retried one by one
    run_jobs(["pushes"])
    assert [s for s, _ in payments(app, workfile.id)] == [
        PaymentStatus.POSTED,
        PaymentStatus.POSTED,
        PaymentStatus.FAILED,
    ]
    assert outbox_count(app) == 1 and posted_in_dms(sandbox) == 1


def test_closed_ro_takes_no_new_receipts(app, client, auth, make):
    location, advisor, workfile = setup_workfile(make, is_closed=True)
    auth.login(advisor.email, PASSWORD)
    page = soup(client.get(url(workfile) + "?tab=payments"))
    assert page.find("summary", string="Add a receipt") is None
    response = client.post(
        url(workfile, "/payments"),
        data={"kind": "customer", "amount": "10.00", "payer": "Sharon Turpin", "method": "cash"},
        follow_redirects=True,
    )
    assert "receipts can no longer be added" in soup(response).select_one(".flashes").text
    assert payments(app, workfile.id) == []
