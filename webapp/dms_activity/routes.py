"""Repair orders and their DMS Activity window (seed 003): Properties, Payments, History.

Everyone with ``VIEW_RECORDS`` reads; every change needs ``SYNC_RECORDS``. Workfiles and
receipts are read through :mod:`webapp.scoping`, so another location's id is a 404.
DMS lookups (RO reservation, customer/vehicle search) are short, user-initiated calls;
payment exports go through the outbox and the exporting screen polls their progress.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask_login import current_user

from connectors.records import KINDS
from webapp.dms_activity import service
from webapp.dms_activity.forms import LinkRoForm, NewVehicleForm, PaymentForm, PropertiesForm, VoidForm, WorkfileForm
from webapp.dms_activity.service import NEW_RECORD, Refused
from webapp.domain.times import format_local, zone_of
from webapp.extensions import db, htmx
from webapp.models import (
    Appointment,
    Asset,
    Customer,
    DmsEvent,
    Location,
    Payment,
    PaymentKind,
    PaymentStatus,
    Workfile,
)
from webapp.permissions import Permission, can, require
from webapp.rendering import render
from webapp.repair_orders.queries import dms_repair_order_or_404, parse_ro
from webapp.scoping import current_location_or_404, get_or_404, scoped

bp = Blueprint("dms_activity", __name__)

TABS = ("properties", "payments", "history")


# ----------------------------------------------------------------------------- helpers
def _workfile(workfile_id: int) -> tuple[Workfile, Location]:
    """The workfile (404 for a foreign or missing one) and its location."""
    workfile = get_or_404(Workfile, workfile_id)
    return workfile, db.session.get(Location, workfile.location_id)


def _payment(workfile: Workfile, payment_id: int) -> Payment:
    """A receipt of this workfile (404 otherwise, also for another location's receipt)."""
    payment = get_or_404(Payment, payment_id)
    if payment.workfile_id != workfile.id:
        abort(404)
    return payment


def _history(workfile: Workfile) -> list[DmsEvent]:
    """Every DMS event of the workfile, newest first."""
    return list(
        db.session.scalars(
            scoped(DmsEvent)
            .where(DmsEvent.workfile_id == workfile.id)
            .order_by(DmsEvent.occurred_at.desc(), DmsEvent.id.desc())
        )
    )


def _context(workfile: Workfile, location: Location, tab: str, **extra) -> dict:
    """Everything the DMS Activity template needs."""
    payments = list(db.session.scalars(scoped(Payment).where(Payment.workfile_id == workfile.id).order_by(Payment.id)))
    profile = service.profile_of(location)
    context = {
        "workfile": workfile,
        "location": location,
        "tab": tab,
        "tabs": TABS,
        "profile": profile,
        "payments": payments,
        "events": _history(workfile) if tab == "history" else [],
        "export_supported": service.payment_export_supported(location),
        "ready_count": sum(1 for p in payments if p.status == PaymentStatus.READY),
        "may_edit": can(current_user, Permission.SYNC_RECORDS),
        "customer_export": service.export_message(workfile, "customer"),
        "vehicle_export": service.export_message(workfile, "vehicle"),
        "properties_form": extra.pop("properties_form", None) or PropertiesForm(obj=workfile, formdata=None),
        "payment_form": extra.pop("payment_form", None) or PaymentForm(formdata=None, payer=workfile.customer_name),
        "link_form": extra.pop("link_form", None) or LinkRoForm(formdata=None),
        "void_form": extra.pop("void_form", None),
        "void_payment_id": extra.pop("void_payment_id", None),
        "today": location_today(location),
        "reservation_error": None,
        "NEW_RECORD": NEW_RECORD,
    }
    context.update(extra)
    return context


def location_today(location: Location) -> date:
    """Today's date where the location is (receipts cannot be dated later than this)."""
    return datetime.now(zone_of(location)).date()


def _to_tab(workfile: Workfile, tab: str):
    return redirect(url_for("dms_activity.activity", workfile_id=workfile.id, tab=tab), code=303)


def _refused(workfile: Workfile, tab: str, exc: Refused):
    """Say why nothing happened, on the tab the user came from."""
    db.session.rollback()
    flash(exc.message + (f" {exc.fix_hint}" if exc.fix_hint else ""), "error")
    return _to_tab(workfile, tab)


# ----------------------------------------------------------------------------- repair orders
@bp.route("")
@require(Permission.VIEW_RECORDS)
def index():
    """The old workfile list's address: the location's repair orders are one list now (repair_orders.index)."""
    return redirect(url_for("repair_orders.index", q=request.args.get("q", "").strip() or None), code=302)


def _new_workfile(customer: Customer | None, asset: Asset | None, appointment: Appointment | None):
    """The "New repair order" page and its POST, from a customer, a vehicle or an appointment."""
    location = current_location_or_404()
    blocked = existing = None
    if appointment is not None:
        existing = service.workfile_of_appointment(appointment)
        if appointment.is_cancelled and existing is None:
            blocked = "This appointment is cancelled, so it cannot be checked in."
    if customer is not None and asset is None and appointment is None:
        vehicles = list(db.session.scalars(scoped(Asset).where(Asset.customer_id == customer.id).order_by(Asset.id)))
        choices = [(0, "No vehicle yet")] + [(a.id, f"{a.description} · {a.vin or 'no VIN'}") for a in vehicles]
    else:
        vehicles = [asset] if asset else []
        choices = [(asset.id if asset else 0, asset.description if asset else "No vehicle")]
    form = WorkfileForm()
    form.asset_id.choices = choices
    if request.method == "GET":
        form.asset_id.data = choices[1][0] if len(choices) == 2 and choices[0][0] == 0 else choices[0][0]
    status = 200
    if request.method == "POST":
        if existing is not None:  # a second click on "Check in": the repair order already exists
            return _to_tab(existing, "properties")
        if blocked:
            status = 409
        elif form.validate():
            chosen = asset
            if appointment is None and asset is None:
                picked = form.asset_id.data or 0
                chosen = next((a for a in vehicles if a.id == picked), None)
                if picked and chosen is None:
                    form.asset_id.errors.append('Choose one of this customer\'s vehicles, or "No vehicle yet".')
            if not form.errors:
                workfile, created = service.new_workfile(
                    location,
                    customer=customer,
                    asset=chosen,
                    user_id=current_user.id,
                    insurer=form.insurer.data,
                    total=form.total.data,
                    appointment=appointment,
                )
                db.session.commit()
                if created:
                    flash(
                        f"Repair order {workfile.number} started. Convert it to an RO, or link it to an RO the DMS "
                        "already has, below.",
                        "success",
                    )
                return _to_tab(workfile, "properties")
        status = 422 if form.errors else status
    return render(
        "dms_activity/new_workfile.html",
        status=status,
        form=form,
        location=location,
        customer=customer,
        asset=asset,
        appointment=appointment,
        existing=existing,
        blocked=blocked,
        fixed_vehicle=appointment is not None or asset is not None,
    )


@bp.route("/new/customer/<int:customer_id>", methods=["GET", "POST"])
@require(Permission.SYNC_RECORDS)
def new_for_customer(customer_id: int):
    """New repair order from the customer page (pick one of their vehicles)."""
    return _new_workfile(get_or_404(Customer, customer_id), None, None)


@bp.route("/new/asset/<int:asset_id>", methods=["GET", "POST"])
@require(Permission.SYNC_RECORDS)
def new_for_asset(asset_id: int):
    """New repair order from the vehicle page (for the vehicle's owner)."""
    asset = get_or_404(Asset, asset_id)
    customer = db.session.get(Customer, asset.customer_id) if asset.customer_id else None
    return _new_workfile(customer, asset, None)


@bp.route("/new/appointment/<int:appointment_id>", methods=["GET", "POST"])
@require(Permission.SYNC_RECORDS)
def new_for_appointment(appointment_id: int):
    """Check in an appointment: its repair order (one per appointment)."""
    appointment = get_or_404(Appointment, appointment_id)
    return _new_workfile(appointment.customer, appointment.asset, appointment)


@bp.route("/dms/<dms_id>/dms-activity", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def start_from_dms_ro(dms_id: str):
    """DMS Activity on a repair order pulled from the DMS: its workfile (made on first use)."""
    location = current_location_or_404()
    record = dms_repair_order_or_404(dms_id)
    ro = parse_ro(record)
    if ro is None:
        flash(
            "The stored copy of this repair order no longer reads as a repair order, so DMS Activity cannot start "
            "from it. Pulls read only the repair orders the DMS has changed: it can once the DMS next changes this "
            "repair order.",
            "error",
        )
        return redirect(url_for("repair_orders.dms_detail", dms_id=record.dms_id), code=303)
    workfile, created = service.start_from_dms_ro(location, ro, current_user.id)
    db.session.commit()
    if created:
        flash(f"Workfile {workfile.number} started for the DMS repair order.", "success")
    return _to_tab(workfile, "properties")


@bp.route("/<int:workfile_id>")
@require(Permission.VIEW_RECORDS)
def detail(workfile_id: int):
    """The RO's page: its header and the way into DMS Activity."""
    workfile, location = _workfile(workfile_id)
    payments = list(db.session.scalars(scoped(Payment).where(Payment.workfile_id == workfile.id)))
    return render("dms_activity/detail.html", workfile=workfile, location=location, payments=payments)


@bp.route("/<int:workfile_id>/dms-activity")
@require(Permission.VIEW_RECORDS)
def activity(workfile_id: int):
    """The DMS Activity window, on the Properties, Payments or History tab."""
    workfile, location = _workfile(workfile_id)
    tab = request.args.get("tab", "properties")
    if tab not in TABS:
        tab = "properties"
    return render("dms_activity/activity.html", block="tab_panel", **_context(workfile, location, tab))


# ----------------------------------------------------------------------------- Properties
@bp.route("/<int:workfile_id>/dms-activity/properties", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def save_properties(workfile_id: int):
    """Save the DMS ids typed (or corrected) by hand."""
    workfile, location = _workfile(workfile_id)
    form = PropertiesForm()
    if not form.validate():
        return render(
            "dms_activity/activity.html", status=422, **_context(workfile, location, "properties", properties_form=form)
        )
    try:
        changed = [
            field
            for field in service.ID_FIELDS
            if service.set_dms_id(workfile, field, getattr(form, field).data, current_user.id)
        ]
    except Refused as exc:
        return _refused(workfile, "properties", exc)
    db.session.commit()
    flash("Properties saved." if changed else "Nothing changed.", "success" if changed else "info")
    return _to_tab(workfile, "properties")


@bp.route("/<int:workfile_id>/dms-activity/convert", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def convert_to_ro(workfile_id: int):
    """Convert to RO: reserve the RO number in the DMS and fill the DMS Repair ID."""
    workfile, location = _workfile(workfile_id)
    try:
        number = service.convert_to_ro(workfile, location, current_user.id)
    except Refused as exc:
        db.session.rollback()
        workfile, location = _workfile(workfile_id)
        error = {"message": exc.message, "fix_hint": exc.fix_hint}
        return render(
            "dms_activity/activity.html",
            status=422,
            **_context(workfile, location, "properties", reservation_error=error),
        )
    db.session.commit()
    flash(f"RO number {number} reserved in the DMS; it is now the DMS Repair ID.", "success")
    return _to_tab(workfile, "properties")


@bp.route("/<int:workfile_id>/dms-activity/link-ro", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def link_ro(workfile_id: int):
    """Link the workfile to a repair order the DMS already has: look its number up live."""
    workfile, location = _workfile(workfile_id)
    form = LinkRoForm()
    if form.validate():
        try:
            number, notes = service.link_ro_by_number(workfile, location, form.ro_number.data, current_user.id)
        except Refused as exc:
            db.session.rollback()
            workfile, location = _workfile(workfile_id)
            form.ro_number.errors.append(exc.message + (f" {exc.fix_hint}" if exc.fix_hint else ""))
        else:
            db.session.commit()
            flash(f"Linked to DMS repair order {number}.", "success")
            for note in notes:
                flash(note, "warning")
            return _to_tab(workfile, "properties")
    return render(
        "dms_activity/activity.html", status=422, **_context(workfile, location, "properties", link_form=form)
    )


def _search(workfile_id: int, what: str):
    """The DMS customer / vehicle search panel (only the results for the live search)."""
    workfile, location = _workfile(workfile_id)
    # "Turpin, Sharon" on the workfile: the DMS search matches the last name best.
    default = workfile.customer_name.split(",")[0].strip() if what == "customers" else (workfile.vin or "")
    text = (request.args["q"] if "q" in request.args else default or "").strip()
    results, error = [], None
    try:
        results = service.search(location, what, text)
    except Refused as exc:
        error = {"message": exc.message, "fix_hint": exc.fix_hint}
    # "Not listed - export as new" only once the DMS has really been searched: after a failed
    # (or slow, timed-out) search the record may well be there, and exporting makes a duplicate.
    searched = error is None and len(text) >= 2
    block = "results" if htmx.target == f"{what}-results" else "search_panel"
    return render(
        "dms_activity/_search.html",
        block=block,
        workfile=workfile,
        location=location,
        what=what,
        q=text,
        results=results,
        error=error,
        searched=searched,
        NEW_RECORD=NEW_RECORD,
        noun=KINDS[what].noun,
    )


@bp.route("/<int:workfile_id>/dms-activity/export-state")
@require(Permission.VIEW_RECORDS)
def export_state(workfile_id: int):
    """The "Exporting the customer/vehicle…" line alone (``?which=customer|vehicle``): polled by
    htmx until the push is done or failed (then it stops polling and says the new DMS id)."""
    which = "vehicle" if request.args.get("which") == "vehicle" else "customer"
    workfile, _location = _workfile(workfile_id)
    export = service.export_message(workfile, which)
    if export is None and request.args.get("message", "").isdigit():
        # Delivered: the workfile no longer points at the message; the poll names it.
        export = service.export_message_by_id(workfile, int(request.args["message"]))
    return render("dms_activity/_export_state.html", workfile=workfile, noun=which, export=export)


@bp.route("/<int:workfile_id>/dms-activity/customer-search")
@require(Permission.SYNC_RECORDS)
def search_customers(workfile_id: int):
    """The search icon next to DMS Customer ID: search the DMS's customers."""
    return _search(workfile_id, "customers")


@bp.route("/<int:workfile_id>/dms-activity/vehicle-search")
@require(Permission.SYNC_RECORDS)
def search_vehicles(workfile_id: int):
    """The search icon next to DMS Vehicle ID: search the DMS's vehicles."""
    return _search(workfile_id, "vehicles")


@bp.route("/<int:workfile_id>/dms-activity/customer", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def pick_customer(workfile_id: int):
    """Next: use the chosen DMS customer, or export the workfile's customer as new."""
    workfile, location = _workfile(workfile_id)
    choice = (request.form.get("choice") or "").strip()[:64]
    if not choice:
        flash('Choose a DMS customer, or "Customer not listed".', "error")
        return _to_tab(workfile, "properties")
    try:
        if choice == NEW_RECORD:
            note = service.export_new_customer(workfile, location, current_user.id)
            if note:
                flash(note, "warning")
            message = "Exporting the customer to the DMS as a new customer record…"
        else:
            service.set_dms_id(workfile, "dms_customer_id", choice, current_user.id)
            message = f"DMS Customer ID set to {choice}."
    except Refused as exc:
        return _refused(workfile, "properties", exc)
    db.session.commit()
    flash(message, "success")
    return _to_tab(workfile, "properties")


@bp.route("/<int:workfile_id>/dms-activity/vehicle", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def pick_vehicle(workfile_id: int):
    """Next: use the chosen DMS vehicle, or go on to confirm make/model for a new one."""
    workfile, _location = _workfile(workfile_id)
    choice = (request.form.get("choice") or "").strip()[:64]
    if not choice:
        flash('Choose a DMS vehicle, or "Vehicle not listed".', "error")
        return _to_tab(workfile, "properties")
    if choice == NEW_RECORD:
        return redirect(url_for("dms_activity.new_vehicle", workfile_id=workfile.id), code=303)
    try:
        service.set_dms_id(workfile, "dms_vehicle_id", choice, current_user.id)
    except Refused as exc:
        return _refused(workfile, "properties", exc)
    db.session.commit()
    flash(f"DMS Vehicle ID set to {choice}.", "success")
    return _to_tab(workfile, "properties")


@bp.route("/<int:workfile_id>/dms-activity/new-vehicle", methods=["GET", "POST"])
@require(Permission.SYNC_RECORDS)
def new_vehicle(workfile_id: int):
    """ "Vehicle not listed": confirm make/model from the workfile, then export as new."""
    workfile, location = _workfile(workfile_id)
    asset = workfile.asset
    defaults = {
        "year": workfile.vehicle_year or (asset.year if asset else None),
        "make": workfile.vehicle_make or (asset.make if asset else None),
        "model": workfile.vehicle_model or (asset.model if asset else None),
        "vin": workfile.vin or (asset.vin if asset else None),
    }
    form = NewVehicleForm(data=defaults) if request.method == "GET" else NewVehicleForm()
    if request.method == "POST":
        if form.validate():
            try:
                note = service.export_new_vehicle(
                    workfile,
                    location,
                    {"year": form.year.data, "make": form.make.data, "model": form.model.data, "vin": form.vin.data},
                    current_user.id,
                )
            except Refused as exc:
                return _refused(workfile, "properties", exc)
            db.session.commit()
            if note:
                flash(note, "warning")
            flash("Exporting the vehicle to the DMS as a new vehicle record…", "success")
            return _to_tab(workfile, "properties")
    return render(
        "dms_activity/new_vehicle.html",
        status=422 if form.errors else 200,
        workfile=workfile,
        location=location,
        form=form,
    )


# ----------------------------------------------------------------------------- Payments
@bp.route("/<int:workfile_id>/dms-activity/payments", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def add_payment(workfile_id: int):
    """Save a receipt on the workfile (Ready)."""
    workfile, location = _workfile(workfile_id)
    form = PaymentForm()
    form.today = location_today(location)
    if not form.validate():
        return render(
            "dms_activity/activity.html", status=422, **_context(workfile, location, "payments", payment_form=form)
        )
    received = None
    if form.received_on.data:
        received = datetime.combine(form.received_on.data, time(12, 0), tzinfo=UTC)
    try:
        payment = service.add_payment(
            workfile,
            location,
            kind=PaymentKind(form.kind.data),
            amount=form.amount.data,
            payer=form.payer.data.strip(),
            method=form.method.data,
            received_at=received,
            user_id=current_user.id,
            reference=form.reference.data,
        )
    except Refused as exc:
        return _refused(workfile, "payments", exc)
    db.session.commit()
    flash(f"Receipt of ${payment.amount:,.2f} saved (Ready).", "success")
    return _to_tab(workfile, "payments")


@bp.route("/<int:workfile_id>/dms-activity/payments/export", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def export_payments(workfile_id: int):
    """Export all Ready payments, then show the exporting screen."""
    workfile, location = _workfile(workfile_id)
    try:
        result = service.export_ready(workfile, location, current_user.id)
    except Refused as exc:
        return _refused(workfile, "payments", exc)
    db.session.commit()
    if not result.claimed:
        flash("There are no Ready payments to export.", "info")
        return _to_tab(workfile, "payments")
    return redirect(url_for("dms_activity.exporting", workfile_id=workfile.id, batch=result.batch), code=303)


@bp.route("/<int:workfile_id>/dms-activity/payments/exporting")
@require(Permission.VIEW_RECORDS)
def exporting(workfile_id: int):
    """The Exporting payments screen: per-receipt progress (polled), then Finish."""
    workfile, location = _workfile(workfile_id)
    batch = (request.args.get("batch") or "")[:32]
    payments = service.batch_payments(workfile, batch) if batch else []
    messages = service.messages_by_id(payments)
    in_flight = [p for p in payments if p.status == PaymentStatus.EXPORTING]
    waiting = [
        p
        for p in in_flight
        if (m := messages.get(p.outbox_message_id)) is not None
        and m.error_kind == "transient"
        and m.status.value == "pending"
    ]
    return render(
        "dms_activity/exporting.html",
        block="progress",
        workfile=workfile,
        location=location,
        batch=batch,
        payments=payments,
        messages=messages,
        done=not in_flight,
        only_waiting=bool(in_flight) and len(waiting) == len(in_flight),
        posted=sum(1 for p in payments if p.status == PaymentStatus.POSTED),
        failed=sum(1 for p in payments if p.status == PaymentStatus.FAILED),
    )


@bp.route("/<int:workfile_id>/dms-activity/payments/<int:payment_id>/retry", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def retry_payment(workfile_id: int, payment_id: int):
    """Export a Failed receipt again."""
    workfile, location = _workfile(workfile_id)
    payment = _payment(workfile, payment_id)
    try:
        batch = service.retry_payment(payment, location, current_user.id)
    except Refused as exc:
        return _refused(workfile, "payments", exc)
    db.session.commit()
    return redirect(url_for("dms_activity.exporting", workfile_id=workfile.id, batch=batch), code=303)


@bp.route("/<int:workfile_id>/dms-activity/payments/<int:payment_id>/void", methods=["POST"])
@require(Permission.SYNC_RECORDS)
def void_payment(workfile_id: int, payment_id: int):
    """Void a Ready or Failed receipt: it will never be exported."""
    workfile, location = _workfile(workfile_id)
    payment = _payment(workfile, payment_id)
    form = VoidForm()
    # Every void needs its reason (kept in History); a missing or blank one is refused on the field.
    if payment.can_void and not form.validate():
        return render(
            "dms_activity/activity.html",
            status=422,
            **_context(workfile, location, "payments", void_form=form, void_payment_id=payment.id),
        )
    try:
        service.void_payment(payment, current_user.id, form.reason.data)
    except Refused as exc:
        return _refused(workfile, "payments", exc)
    db.session.commit()
    flash(f"Receipt of ${payment.amount:,.2f} voided. It will not be exported.", "success")
    return _to_tab(workfile, "payments")


# ----------------------------------------------------------------------------- History
def _summary_rows(workfile: Workfile) -> list[DmsEvent]:
    return _history(workfile)


@bp.route("/<int:workfile_id>/dms-activity/summary")
@require(Permission.VIEW_RECORDS)
def summary(workfile_id: int):
    """Print Export Summary: the workfile header and the DMS transaction history, printable."""
    workfile, location = _workfile(workfile_id)
    return render("dms_activity/summary.html", workfile=workfile, location=location, events=_summary_rows(workfile))


CSV_COLUMNS = ("Date", "Completed By", "Description", "Amount $", "Status", "Reference ID", "Detail")


def _csv_cell(value) -> str:
    """A spreadsheet must never run a cell as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.route("/<int:workfile_id>/dms-activity/summary.csv")
@require(Permission.VIEW_RECORDS)
def summary_csv(workfile_id: int):
    """The export summary as CSV (header lines, then one row per DMS event)."""
    workfile, location = _workfile(workfile_id)
    out = io.StringIO()
    writer = csv.writer(out)
    for label, value in (
        ("RO Number", workfile.dms_repair_id or ""),
        ("Customer", workfile.customer_name),
        ("Total", f"{workfile.total:.2f}"),
        ("Insurer", workfile.insurer or ""),
        ("Vehicle", workfile.vehicle),
        ("VIN", workfile.vin or ""),
    ):
        writer.writerow([label, _csv_cell(value)])
    writer.writerow([])
    writer.writerow(CSV_COLUMNS)
    for row in _summary_rows(workfile):
        writer.writerow(
            [
                format_local(row.occurred_at, location, "%Y-%m-%d %H:%M"),
                _csv_cell(row.completed_by),
                row.description,
                f"{row.amount:.2f}" if row.amount is not None else "",
                row.status or "",
                _csv_cell(row.reference_id or ""),
                _csv_cell(row.detail or ""),
            ]
        )
    name = f"export-summary-{workfile.number}.csv".replace("/", "-")
    return Response(
        out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
