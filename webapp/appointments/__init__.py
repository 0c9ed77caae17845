"""Appointments: book, reschedule and cancel; every change reaches the DMS through the outbox."""
from flask import Blueprint

bp = Blueprint("appointments", __name__)

from webapp.appointments import routes  # noqa: E402,F401
