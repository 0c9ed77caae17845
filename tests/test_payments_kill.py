"""A real worker process SIGKILLed in the middle of "Export all Ready payments".

The receipts are exported through the real route; a ``python -m jobs.worker`` process on the
test database and Redis delivers them to the sandbox DMS, and a failpoint kills its whole
process group (worker and work-horse) at the chosen moment: before a receipt is sent, right
after the DMS posted it but before the console recorded it, or just after a commit. RQ's
own recovery re-queues the abandoned job and a new worker finishes the export.

Whatever the moment, each Ready receipt must be posted in the DMS exactly once (the resend
carries the receipt's idempotency key, so the DMS answers with the posting it already made),
counted in the sandbox, and the console must show every receipt Posted with its reference id.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from tests.conftest import soup
from tests.factories import PASSWORD
from tests.test_dms_activity import events, setup_workfile, url
from tests.worker_process import recover_abandoned, run_worker
from webapp.extensions import db
from webapp.models import OutboxMessage, OutboxStatus, Payment, PaymentStatus
from webapp.redis_conn import get_redis

RECEIPTS = 4


def _receipts(app, workfile_id: int) -> list[Payment]:
    with app.app_context():
        rows = list(db.session.scalars(select(Payment).where(Payment.workfile_id == workfile_id).order_by(Payment.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def _message_statuses(app) -> list[OutboxStatus]:
    with app.app_context():
        return list(db.session.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)))


@pytest.mark.parametrize(
    "failpoint",
    [
        "push.before_send=2",  # killed before the second receipt went out
        "push.after_send=1",  # the DMS posted the first receipt; the console never heard
        "push.after_send=3",  # ... the third one, after two were recorded
        "push.after_commit=1",  # the first result was committed; killed before the rest
    ],
)
def test_sigkill_mid_export_posts_each_receipt_exactly_once(app, client, auth, make, sandbox, failpoint):
    location, advisor, workfile = setup_workfile(make, sandbox, dms_repair_id="12345678")
    amounts = [Decimal(f"{100 * (n + 1)}.{n:02d}") for n in range(RECEIPTS)]
    for amount in amounts:
        make.payment(workfile, amount=amount)
    make.payment(workfile, amount=Decimal("55.00"), status=PaymentStatus.VOID)  # never exported
    auth.login(advisor.email, PASSWORD)
    response = client.post(url(workfile, "/payments/export"))
    assert response.status_code == 303 and "/payments/exporting?batch=" in response.headers["Location"]
    exporting = response.headers["Location"]

    assert run_worker(app, "pushes", failpoint, "payment-kill-worker.log") == -9  # killed mid-export
    stuck = [p.status for p in _receipts(app, workfile.id)]
    # The export was really interrupted (after a commit, the delivery may already have
    # recorded every receipt of its chunk: then the kill only tests the recovery's replay).
    interrupted = PaymentStatus.EXPORTING in stuck
    assert interrupted or failpoint.startswith("push.after_commit")
    if failpoint.startswith("push.after_send"):
        # The DMS has the receipt the console has not recorded yet.
        assert sandbox.control.count_created("alpha-cdk").get("payments", 0) > stuck.count(PaymentStatus.POSTED)
    if interrupted:
        progress = soup(client.get(exporting, htmx=True)).select_one("#export-progress")
        assert progress["data-done"] == "false" and progress.has_attr("hx-trigger")  # still in progress

    redis = get_redis(app.config["REDIS_URL"])
    recover_abandoned(redis, "pushes")
    assert FailedJobRegistry("pushes", connection=redis).count == 0  # re-queued, not failed
    assert run_worker(app, "pushes", None, "payment-kill-worker.log") == 0

    assert _message_statuses(app) == [OutboxStatus.SENT] * RECEIPTS
    receipts = _receipts(app, workfile.id)
    assert [p.status for p in receipts] == [PaymentStatus.POSTED] * RECEIPTS + [PaymentStatus.VOID]
    refs = [p.reference_id for p in receipts[:RECEIPTS]]
    assert all(refs) and len(set(refs)) == RECEIPTS
    assert all(p.posted_at for p in receipts[:RECEIPTS]) and receipts[-1].reference_id is None
    # Exactly once each in the DMS: as many postings as receipts, one distinct posting per receipt.
    assert sandbox.control.count_created("alpha-cdk")["payments"] == RECEIPTS
    for ref, amount in zip(refs, amounts):
        posted = sandbox.control.get_record("alpha-cdk", "payments", ref)
        assert (posted["ro_number"], posted["amount"]) == ("12345678", f"{amount:.2f}")
    # One "Payment posted" History row per receipt, with its reference id.
    posted_rows = [e for e in events(app, workfile.id) if e[0] == "payment_posted"]
    assert sorted(e[1] for e in posted_rows) == sorted(refs)

    # The console shows it: the exporting screen finished, the Payments tab lists them Posted.
    progress = soup(client.get(exporting, htmx=True)).select_one("#export-progress")
    assert progress["data-done"] == "true" and f"Export finished: {RECEIPTS} posted" in progress.text
    rows = soup(client.get(url(workfile) + "?tab=payments")).select("table.dms-payments tbody tr")
    assert [tr["data-status"] for tr in rows] == ["posted"] * RECEIPTS + ["void"]
    for tr, ref in zip(rows, refs):
        assert ref in tr.get_text(" ", strip=True) and "Posted" in tr.text
