"""Accessibility bars checked on every page of the app, for every role that may open it.

Generated from app.url_map (like the authorization matrix), so a new page is covered the
day it is added: every form control has a label, every htmx request has a loading
indicator that exists, and every region that refreshes itself (htmx polling: a
``load delay:…`` or ``every …`` trigger that swaps the region with a fresh copy of itself) is
announced, shows its own progress and answers its poll with itself.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.conftest import soup
from tests.factories import PASSWORD
from tests.routes_catalogue import PUBLIC, ROUTE_ROLES, SIGNED, STAFF, app_routes, build_url
from webapp.extensions import db
from webapp.models import (
    Appointment,
    Case,
    Customer,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Payment,
    PaymentStatus,
    PushState,
    RelatedLookupStatus,
    Role,
    RunStatus,
    SyncRun,
    SyncSession,
    SyncSessionStatus,
    Workfile,
    utcnow,
)

HTMX_VERBS = ("hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete")


def _html_pages(app, client, world, role, extra_urls=()):
    """(endpoint, url, page) of every GET page ``role`` may open that answers with HTML, then of
    ``extra_urls`` (pages whose state is in their query string)."""
    for rule, method in app_routes(app):
        expected = ROUTE_ROLES[rule.endpoint]
        if method != "GET" or expected == SIGNED or rule.endpoint == "auth.logout":
            continue
        if rule.endpoint.startswith("rq_dashboard."):  # rq-dashboard's own pages, not our markup
            continue
        if expected != PUBLIC and role not in expected:
            continue
        url = build_url(app, rule, world)
        response = client.get(url)
        if response.status_code != 200 or not response.mimetype == "text/html":
            continue
        yield rule.endpoint, url, soup(response)
    for endpoint, url in extra_urls:
        response = client.get(url)
        assert response.status_code == 200, (endpoint, url, response.status_code)
        yield endpoint, url, soup(response)


def _labelled(page, control) -> bool:
    control_id = control.get("id")
    if control_id and page.select_one(f'label[for="{control_id}"]'):
        return True
    if control.get("aria-label") or control.get("aria-labelledby") or control.get("title"):
        return True
    return control.find_parent("label") is not None


def _inherited_target(element):
    """The hx-target a boosted link or form would inherit from its ancestors (htmx's rules:
    the closest ancestor carrying it, unless that ancestor disinherits it), or None."""
    for ancestor in element.parents:
        if ancestor.name is None:
            break
        if ancestor.get("hx-boost") == "false":
            return None
        if ancestor.has_attr("hx-target"):
            disinherit = ancestor.get("hx-disinherit", "")
            if "*" in disinherit.split() or "hx-target" in disinherit.split():
                continue
            return ancestor.get("hx-target")
    return None


@pytest.mark.parametrize("role", [Role.GLOBAL_ADMIN, Role.SERVICE_MANAGER, Role.SERVICE_ADVISOR], ids=lambda r: r.value)
def test_boosted_links_and_forms_replace_the_page_not_a_region(app, client, auth, world, make, role):
    """hx-boost makes every plain link and form an htmx request, which inherits hx-target from
    its ancestors: a link inside a live-results region would load the next page *into* that
    region (a page within the page). Regions that swap themselves must disinherit hx-target."""
    assert auth.login(world["users"][role].email, PASSWORD).status_code == 302
    loc = world["a"]
    customer = make.customer(loc, first_name="Ann", last_name="Able")
    make.asset(loc, customer, vin="1FTFW1ET5DFC10312")
    extra = ["/customers?q=able", "/assets?q=able", "/customers?q=able&tab=dms", "/assets?q=able&tab=dms"]
    pages = list(_html_pages(app, client, world, role))
    pages += [(url, url, soup(client.get(url))) for url in extra]
    wrong: set[str] = set()
    for endpoint, _url, page in pages:
        plain = [
            a
            for a in page.select("a[href]")
            if not any(a.has_attr(v) for v in HTMX_VERBS)
            and not a.get("href", "").startswith(("#", "http", "mailto:"))
            and not a.has_attr("download")
            and a.get("target") != "_blank"
        ]
        plain += [f for f in page.select("form") if not any(f.has_attr(v) for v in HTMX_VERBS)]
        for element in plain:
            target = _inherited_target(element)
            if target not in (None, "body"):
                wrong.add(
                    f"{endpoint}: boosted {element.name} {element.get('href') or element.get('action')} "
                    f"would load into {target}"
                )
    assert not wrong, "\n".join(sorted(wrong))


# --------------------------------------------------------------------------- regions that refresh themselves
# A trigger that fires without the person doing anything: on load (after a delay) or every N s.
SELF_TRIGGER = re.compile(r"(?:^|,)\s*(?:load\b|every\s+\d)")
# Roles announce changes as live regions do (implicit aria-live).
LIVE_ROLES = ("status", "alert", "log")
# The pages on which each role meets a polled region in ``busy_world`` (a full page each; their
# fragments are checked as the answers to the polls). A new polled page must be listed here.
STAFF_POLLING = {
    "appointments.detail",  # the DMS push on its way
    "appointments.push_status",  # its poll's address, opened without htmx: the whole page
    "cases.detail",  # related RO numbers being looked up
    "dms_activity.activity",  # a customer being exported to the DMS as a new record
    "dms_activity.exporting",  # receipts being exported
    "sync_wizard.customer",  # the wizard's write-back on its way
}
MANAGER_POLLING = {"integrations.health", "integrations.run_progress"}  # a pull under way
POLLING_PAGES = {
    Role.GLOBAL_ADMIN: STAFF_POLLING | MANAGER_POLLING,
    Role.SERVICE_MANAGER: STAFF_POLLING | MANAGER_POLLING,
    Role.SERVICE_ADVISOR: STAFF_POLLING,
    Role.FIELD_MANAGER: {"cases.detail"},
    Role.REVIEWER: set(),  # the review queue and its pages never poll
}


def _polled(page) -> list:
    """The elements of ``page`` that make htmx requests nobody asked for."""
    return [
        element
        for element in page.select("[hx-trigger]")
        if any(element.has_attr(verb) for verb in HTMX_VERBS) and SELF_TRIGGER.search(element["hx-trigger"])
    ]


def _announcement(element) -> tuple:
    """What makes ``element`` itself a live region: (aria-live, role)."""
    return element.get("aria-live"), element.get("role")


def _announced(element) -> bool:
    for node in [element, *element.parents]:
        if node.name is None:
            break
        if node.get("aria-live") in ("polite", "assertive") or node.get("role") in LIVE_ROLES:
            return True
    return False


@pytest.fixture()
def busy_world(app, world):
    """The world with location A busy with everything that polls: a pull running, an appointment
    push, a related-RO lookup, a customer export, a receipt export and (per user) a wizard's
    write-back, each on its way. ``extra_urls(user)``: the pages whose state is in their query."""
    loc = world["a"]
    records = world["records"][loc.code]

    def message(kind, **payload):
        row = OutboxMessage(
            location_id=loc.id,
            kind=kind,
            target_type="workfile",
            target_id=records["workfile"].id,
            payload=payload,
            idempotency_key=f"busy-{kind.value}-{len(payload)}-{utcnow().timestamp()}",
            status=OutboxStatus.PENDING,
            next_attempt_at=utcnow() + timedelta(hours=1),
        )
        db.session.add(row)
        db.session.flush()
        return row

    with app.app_context():
        run = db.session.get(SyncRun, records["sync_run"].id)
        run.status, run.finished_at = RunStatus.RUNNING, None
        db.session.get(Appointment, records["appointment"].id).push_state = PushState.PENDING
        db.session.get(Case, records["case"].id).related_lookup_status = RelatedLookupStatus.PENDING
        workfile = db.session.get(Workfile, records["workfile"].id)
        workfile.customer_export_message_id = message(OutboxKind.CUSTOMER_PUSH, workfile_id=workfile.id).id
        payment = db.session.get(Payment, records["payment"].id)
        payment.status, payment.export_batch = PaymentStatus.EXPORTING, "busy-batch"
        payment.outbox_message_id = message(OutboxKind.PAYMENT_EXPORT, workfile_id=workfile.id, payment=1).id
        db.session.commit()

    def extra_urls(user):
        customer = records["customer"]
        with app.app_context():
            write_back = message(OutboxKind.WIZARD_WRITE_BACK, customer_id=customer.id, user=user.id)
            wizard = SyncSession(
                location_id=loc.id,
                record_type="customer",
                record_id=customer.id,
                user_id=user.id,
                status=SyncSessionStatus.APPLIED,
                step="summary",
                record_version=db.session.get(Customer, customer.id).version,
                dms_id=customer.dms_id,
                dms_record={},
                summary={"write_back": True, "dms_labels": [["E-mail", "old@example.com", "new@example.com"]]},
                outbox_message_id=write_back.id,
            )
            db.session.add(wizard)
            db.session.commit()
            wizard_id = wizard.id
        return [
            (
                "dms_activity.exporting",
                f"/repair-orders/{records['workfile'].id}/dms-activity/payments/exporting?batch=busy-batch",
            ),
            ("sync_wizard.customer", f"/customers/{customer.id}/sync?wizard={wizard_id}"),
        ]

    world["extra_urls"] = extra_urls
    return world


def _check_polled_region(client, where: str, region) -> None:
    """A region that polls: has an id; is a live region (or inside one); names its own loading
    indicator, inside the region; swaps itself (outerHTML on itself); and its poll answers 200
    with the same region, announced the same way."""
    assert region.get("id"), f"{where} has no id (its poll cannot answer with it)"
    assert _announced(region), f"{where} is not announced (aria-live or role=status)"
    indicator = region.get("hx-indicator", "")
    assert indicator.startswith("#") and region.select_one(indicator), (
        f"{where} names no loading indicator of its own (hx-indicator inside the region): {indicator!r}"
    )
    assert region.get("hx-swap", "").split()[0] == "outerHTML", f"{where} does not replace itself"
    assert region.get("hx-target") in (None, "this"), f"{where} swaps into {region.get('hx-target')}"
    verb = next(verb for verb in HTMX_VERBS if region.has_attr(verb))
    answer = client.open(region[verb], method=verb[3:].upper(), htmx=True)
    assert answer.status_code == 200, f"{where}: its poll answers {answer.status_code}"
    fresh = soup(answer).find(id=region["id"])
    assert fresh is not None, f"{where}: its poll does not answer with the region"
    assert _announcement(fresh) == _announcement(region), f"{where}: its poll's answer is announced otherwise"
    if _polled(fresh):
        assert fresh.get("hx-indicator") == indicator, f"{where}: its poll's answer shows progress otherwise"


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_every_page_labels_its_inputs_shows_htmx_progress_and_announces_what_it_polls(
    app, client, auth, busy_world, role
):
    """Every page the role may open, with location A busy with everything that polls: each form
    control has a label; each htmx request a loading indicator that exists; each region that
    polls passes :func:`_check_polled_region`. The pages that poll are known (POLLING_PAGES): a
    walk that finds none where it should fails, and so does a page polling unlisted."""
    world = busy_world
    user = world["users"][role]
    assert auth.login(user.email, PASSWORD).status_code == 302
    extra = world["extra_urls"](user) if role in STAFF else []
    checked = 0
    polling: set[str] = set()
    for endpoint, url, page in _html_pages(app, client, world, role, extra):
        checked += 1
        for control in page.select("input:not([type=hidden]), select, textarea"):
            assert _labelled(page, control), f"{endpoint} {url}: {control} has no label"
        body = page.select_one("body")
        for element in page.select(",".join(f"[{verb}]" for verb in HTMX_VERBS)):
            holder = element if element.has_attr("hx-indicator") else element.find_parent(attrs={"hx-indicator": True})
            indicator = holder.get("hx-indicator") if holder else (body.get("hx-indicator") if body else None)
            assert indicator, f"{endpoint} {url}: {element.name} makes htmx requests without a loading indicator"
            if indicator.startswith("#"):
                assert page.select_one(indicator), f"{endpoint} {url}: indicator {indicator} is missing"
        if body is None:
            continue  # a fragment: checked as the answer to its page's poll
        for region in _polled(page):
            polling.add(endpoint)
            _check_polled_region(client, f"{endpoint} {url}: polled {region.name}#{region.get('id')}", region)
    assert checked >= 3, f"{role}: too few pages checked ({checked})"
    assert polling == POLLING_PAGES[role], f"{role.value}: polled regions found on {sorted(polling)}"
