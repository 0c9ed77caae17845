"""Appointments: book, reschedule and cancel; every change reaches the DMS through the outbox."""

from webapp.appointments.routes import bp

__all__ = ["bp"]
