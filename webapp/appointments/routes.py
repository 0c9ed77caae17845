"""Appointment pages: list, book, view (with its DMS push status), reschedule, cancel.

Booking and changing never wait on the DMS: the change and its outbox row are saved
together and the page shows the push status, which polls until the push is sent or
failed. Pre-flight findings are shown inline on the form with the vendor's fix hint.
"""

from __future__ import annotations

from datetime import UTC, timedelta

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

import connectors
from webapp.appointments import service
from webapp.appointments.forms import AppointmentForm, CancelForm
from webapp.domain.times import zone_of
from webapp.extensions import db
from webapp.models import Appointment, Asset, Customer, Location, utcnow
from webapp.outbox import messages_of
from webapp.permissions import Permission, require
from webapp.rendering import hx_redirect, render, wants_fragment
from webapp.scoping import current_location_or_404, get_or_404, scoped
from webapp.search import engine

bp = Blueprint("appointments", __name__)


# ----------------------------------------------------------------------------- helpers
def _vendor_note(location: Location) -> str | None:
    """What staff should know about when the DMS shows the appointment (CDK batches)."""
    if not location.dms_vendor:
        return "This location has no DMS connected: appointments stay in the console."
    profile = connectors.get_profile(location.dms_vendor)
    if profile.appointment_push_minutes:
        return (
            f"{profile.display_name} takes in appointments every {profile.appointment_push_minutes} minutes: "
            "a sent appointment can take that long to show there."
        )
    return None


def _setup_form(form: AppointmentForm, location: Location, customer: Customer) -> dict:
    """Fill the choices (vehicles, advisors, brands, opcodes) and return template context."""
    assets = list(db.session.scalars(scoped(Asset).where(Asset.customer_id == customer.id).order_by(Asset.id)))
    form.asset_id.choices = [(0, "— No vehicle —")] + [
        (a.id, f"{a.description} · {a.vin or a.unit_number or 'no VIN'}") for a in assets
    ]
    people = service.advisors(location)
    shared = service.shared_advisor_ids(location)
    form.advisor_id.choices = [(0, "— Choose an advisor —")] + [
        (
            u.id,
            u.name
            + (f" · DMS ID {u.advisor_dms_id}" if u.advisor_dms_id else " · no DMS ID")
            + (" (shared)" if (u.advisor_dms_id or "").strip().upper() in shared else ""),
        )
        for u in people
    ]
    form.brand.choices = [("", "— Any —")] + [(b, b) for b in (location.brands or [])]
    opcode_list = service.has_opcode_list(location)
    return {
        "assets": assets,
        "opcode_list": opcode_list,
        "opcode_rows": service.opcode_rows(location) if opcode_list else [],
        "vendor_note": _vendor_note(location),
        "is_cdk": location.dms_vendor == "cdk",
    }


def _read_checked(
    form: AppointmentForm, location: Location, customer: Customer
) -> tuple[dict | None, list[service.Finding]]:
    """The form's values and what the DMS pre-flight rules say of them (booking and changing)."""
    values = _read(form, location, customer)
    if values is None:
        return None, []
    return values, service.preflight(
        location, customer=customer, advisor=values["advisor"], opcodes=values["opcodes"], notes=values["notes"]
    )


def _read(form: AppointmentForm, location: Location, customer: Customer) -> dict | None:
    """The form's values as model values, or None when a field is invalid (errors on the form)."""
    if not form.validate_on_submit():
        return None
    asset = None
    if form.asset_id.data:
        asset = db.session.scalar(scoped(Asset).where(Asset.id == form.asset_id.data, Asset.customer_id == customer.id))
        if asset is None:
            form.asset_id.errors = ["Choose one of the customer's vehicles."]
            return None
    advisor = None
    if form.advisor_id.data:
        advisor = next((u for u in service.advisors(location) if u.id == form.advisor_id.data), None)
        if advisor is None:
            form.advisor_id.errors = ["Choose an advisor of this location."]
            return None
    brand = form.brand.data or None
    if brand and brand not in (location.brands or []):
        form.brand.errors = ["Choose one of the location's brands."]
        return None
    scheduled = form.scheduled_at.data.replace(tzinfo=zone_of(location))
    return {
        "asset": asset,
        "advisor": advisor,
        "scheduled_at": scheduled.astimezone(UTC),
        "opcodes": form.chosen_opcodes(),
        "notes": form.notes.data or None,
        "dispatch_code": ((form.dispatch_code.data or "").upper() or None) if location.dms_vendor == "cdk" else None,
        "brand": brand,
    }


def _show_findings(form: AppointmentForm, findings: list[service.Finding]) -> None:
    """Attach each pre-flight finding to its field so it shows inline."""
    for finding in findings:
        target = {"opcodes": form.opcodes, "advisor_id": form.advisor_id, "dispatch_code": form.dispatch_code}.get(
            finding.field
        )
        if target is not None:
            target.errors = list(target.errors or []) + [f"{finding.title}. {finding.fix_hint}"]


def _done(url: str):
    """After a successful save: 303 for a plain form, a full-page ``HX-Redirect`` for the htmx form."""
    if wants_fragment():
        return hx_redirect(url)
    return redirect(url, code=303)


# ----------------------------------------------------------------------------- list
@bp.route("/")
@require(Permission.BOOK_APPOINTMENTS)
def index():
    """The location's appointments, booked in the console and pulled from the DMS, in one list:
    Upcoming (soonest first), Push failed, Cancelled or All (latest first); filterable by advisor
    and brand (stores sharing one DMS), paged by key. Console bookings show their push status."""
    from webapp.repair_orders import appointment_list
    from webapp.repair_orders.queries import PageKey, advisor_and_brand

    location = current_location_or_404()
    people = service.advisors(location)
    advisor, brand, errors = advisor_and_brand(location, request.args, people)
    show = request.args.get("show", "upcoming")
    if show not in dict(appointment_list.SHOWS):
        errors["show"], show = "Choose one of the listed tabs.", "upcoming"
    result = appointment_list.page(
        location,
        show=show,
        advisor=advisor,
        brand=brand,
        after=PageKey.decode(request.args.get("after")),
        people=people,
    )
    filter_args = {k: v for k, v in (("advisor_id", advisor.id if advisor else None), ("brand", brand)) if v}
    args = {"show": show, **filter_args}
    return render(
        "appointments/list.html",
        block="results",
        status=422 if errors else 200,
        location=location,
        page=result,
        show=show,
        shows=appointment_list.SHOWS,
        advisor=advisor,
        brand=brand,
        advisor_choices=people,
        brands=location.brands or [],
        errors=errors,
        args=args,
        filter_args=filter_args,
        after=request.args.get("after"),
        others_exist=not result.rows and show == "upcoming" and appointment_list.has_any(location),
    )


# ----------------------------------------------------------------------------- booking
CUSTOMER_RESULTS = 20  # customers listed by the booking form's search (A-Z, as on the Customers page)


@bp.route("/customers")
@require(Permission.BOOK_APPOINTMENTS)
def customer_search():
    """Live search for the customer to book for: the Customers page's search (name or company
    words in any order, a phone in any format, an e-mail or its domain, a DMS id), same scope."""
    location = current_location_or_404()
    q = (request.args.get("q") or "").strip()[:200]
    customers = []
    if q:
        customers = engine.search_customers(
            db.session, scoped(Customer), location.id, q, per_page=CUSTOMER_RESULTS
        ).rows
    return render(
        "appointments/new.html",
        block="customer_results",
        customers=customers,
        q=q,
        customer=None,
        location=location,
        form=None,
    )


@bp.route("/opcodes")
@require(Permission.BOOK_APPOINTMENTS)
def opcode_search():
    """Opcodes matching the search, with the ones already ticked kept ticked (and listed first)."""
    location = current_location_or_404()
    q = (request.args.get("opcode_q") or "").strip()
    chosen = [c for c in request.args.getlist("opcodes") if c]
    rows = service.opcode_rows(location, q)
    known = {row.dms_id: row for row in service.opcode_rows(location)}
    ticked = [known[c] for c in chosen if c in known]
    rows = ticked + [r for r in rows if r.dms_id not in chosen]
    return render("appointments/_opcodes.html", opcode_rows=rows, chosen=chosen, q=q)


@bp.route("/new", methods=["GET", "POST"])
@require(Permission.BOOK_APPOINTMENTS)
def new():
    """Book an appointment: pick the customer, then vehicle, advisor, time, opcodes/notes."""
    location = current_location_or_404()
    customer_id = request.values.get("customer_id", type=int)
    customer = get_or_404(Customer, customer_id) if customer_id else None
    if customer is None:
        status = 422 if request.method == "POST" else 200
        return render(
            "appointments/new.html",
            customer=None,
            customers=[],
            q="",
            location=location,
            form=None,
            status=status,
            missing_customer=request.method == "POST",
        )
    form = AppointmentForm()
    context = _setup_form(form, location, customer)
    findings: list[service.Finding] = []
    if request.method == "POST":
        values, findings = _read_checked(form, location, customer)
        if values is not None:
            if not findings:
                appointment = service.book(location, customer=customer, user_id=current_user.id, **values)
                flash("Appointment booked. It is being sent to the DMS; its status shows below.", "success")
                return _done(url_for("appointments.detail", appointment_id=appointment.id))
            _show_findings(form, findings)
        return render(
            "appointments/new.html",
            block="appointment_form",
            status=422,
            form=form,
            customer=customer,
            location=location,
            findings=findings,
            **context,
        )
    form.customer_id.data = str(customer.id)
    if not form.scheduled_at.data:
        tomorrow = (utcnow().astimezone(zone_of(location)) + timedelta(days=1)).replace(
            hour=9, minute=0, second=0, microsecond=0
        )
        form.scheduled_at.data = tomorrow.replace(tzinfo=None)
    assets = context["assets"]
    if len(assets) == 1:
        form.asset_id.data = assets[0].id
    if current_user.location_id == location.id and current_user.advisor_dms_id:
        form.advisor_id.data = current_user.id
    return render("appointments/new.html", form=form, customer=customer, location=location, findings=[], **context)


# ----------------------------------------------------------------------------- one appointment
def _detail_context(appointment: Appointment) -> dict:
    location = db.session.get(Location, appointment.location_id)
    return {
        "appointment": appointment,
        "location": location,
        "messages": messages_of(db.session, "appointment", appointment.id),
        "vendor_note": _vendor_note(location),
        "cancel_form": CancelForm(),
    }


@bp.route("/<int:appointment_id>")
@require(Permission.BOOK_APPOINTMENTS)
def detail(appointment_id: int):
    """The appointment, its DMS push status and the history of its pushes."""
    appointment = get_or_404(Appointment, appointment_id)
    return render("appointments/detail.html", **_detail_context(appointment))


@bp.route("/<int:appointment_id>/push-status")
@require(Permission.BOOK_APPOINTMENTS)
def push_status(appointment_id: int):
    """The push-status panel alone (polled while a push is pending)."""
    appointment = get_or_404(Appointment, appointment_id)
    return render("appointments/detail.html", block="push_status", **_detail_context(appointment))


@bp.route("/<int:appointment_id>/edit", methods=["GET", "POST"])
@require(Permission.BOOK_APPOINTMENTS)
def edit(appointment_id: int):
    """Reschedule: change time, advisor, vehicle, opcodes or notes; the DMS gets the change."""
    appointment = get_or_404(Appointment, appointment_id)
    location = db.session.get(Location, appointment.location_id)
    customer = appointment.customer
    if appointment.is_cancelled:
        flash("This appointment is cancelled; book a new one instead.", "warning")
        return redirect(url_for("appointments.detail", appointment_id=appointment.id), code=303)
    form = AppointmentForm(obj=None if request.method == "POST" else appointment)
    context = _setup_form(form, location, customer)
    findings: list[service.Finding] = []
    if request.method == "POST":
        values, findings = _read_checked(form, location, customer)
        if values is not None:
            if not findings:
                changes = {
                    "scheduled_at": values["scheduled_at"],
                    "advisor_id": values["advisor"].id if values["advisor"] else None,
                    "asset_id": values["asset"].id if values["asset"] else None,
                    "opcodes": values["opcodes"],
                    "notes": values["notes"],
                    "dispatch_code": values["dispatch_code"],
                    "brand": values["brand"],
                }
                changed = service.reschedule(appointment, changes, current_user.id)
                flash(
                    "Appointment updated; the change is being sent to the DMS." if changed else "Nothing was changed.",
                    "success" if changed else "info",
                )
                return _done(url_for("appointments.detail", appointment_id=appointment.id))
            _show_findings(form, findings)
        return render(
            "appointments/edit.html",
            block="appointment_form",
            status=422,
            form=form,
            customer=customer,
            location=location,
            findings=findings,
            appointment=appointment,
            **context,
        )
    form.customer_id.data = str(customer.id)
    form.asset_id.data = appointment.asset_id or 0
    form.advisor_id.data = appointment.advisor_id or 0
    form.brand.data = appointment.brand or ""
    form.scheduled_at.data = appointment.scheduled_at.astimezone(zone_of(location)).replace(tzinfo=None)
    form.opcodes.data = list(appointment.opcodes or [])
    if not context["opcode_list"]:
        form.opcode_text.data = " ".join(appointment.opcodes or [])
    return render(
        "appointments/edit.html",
        form=form,
        customer=customer,
        location=location,
        findings=[],
        appointment=appointment,
        **context,
    )


@bp.route("/<int:appointment_id>/cancel", methods=["POST"])
@require(Permission.BOOK_APPOINTMENTS)
def cancel(appointment_id: int):
    """Cancel the appointment here and in the DMS."""
    appointment = get_or_404(Appointment, appointment_id)
    form = CancelForm()
    if form.validate_on_submit():
        if appointment.is_cancelled:
            flash("This appointment was already cancelled.", "info")
        else:
            told = service.cancel(appointment, current_user.id)
            flash(
                "Appointment cancelled. The DMS is being told."
                if told
                else "Appointment cancelled. It had not reached the DMS, so nothing is sent there.",
                "success",
            )
    return redirect(url_for("appointments.detail", appointment_id=appointment.id), code=303)
