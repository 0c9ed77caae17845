"""E-mailing a notification to its user (queued by webapp.services.notifications after the commit).

Runs on the maintenance queue. An SMTP error raises, and RQ retries the job (see
``webapp.services.notifications.RETRY_INTERVALS``); a sent e-mail is recorded on the notification (``emailed_at``) so a
retry never sends it twice. Nothing is sent when SMTP is not configured (any more), the
notification is gone, or the user has no active account.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.notification import Notification
from webapp.services.notifications import smtp_configured

SMTP_TIMEOUT = 20  # seconds per SMTP command


def build_message(notification: Notification, sender: str) -> EmailMessage:
    """The short plain-text e-mail about one notification."""
    user = notification.user
    message = EmailMessage()
    message["Subject"] = f"Update request #{notification.update_request_id}: {notification.kind.label.lower()}"
    message["From"] = sender
    message["To"] = user.email
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(
        f"Hello {user.name},\n\n"
        f"{notification.text}\n\n"
        "Sign in to the DMS Sync Console and open Notifications (at the top of every page) or "
        "My requests to see the request.\n\n"
        "-- \nDMS Sync Console (an automatic message; replies are not read)\n"
    )
    return message


def send_notification_email(notification_id: int) -> str:
    """Send the notification's e-mail; returns what happened (shown in the job's result)."""
    config = current_app.config
    if not smtp_configured(config):
        return "not sent: SMTP is not configured"
    notification = db.session.get(Notification, notification_id)
    if notification is None:
        return "not sent: the notification no longer exists"
    if notification.emailed_at is not None:
        return "already sent"
    user = notification.user
    if user is None or not user.is_active or not user.email:
        return "not sent: the user has no active account with an e-mail address"
    message = build_message(notification, config["SMTP_FROM"])
    with smtplib.SMTP(config["SMTP_HOST"], int(config.get("SMTP_PORT") or 25), timeout=SMTP_TIMEOUT) as smtp:
        if config.get("SMTP_STARTTLS"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("SMTP_USER"):
            smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
        smtp.send_message(message)
    notification.emailed_at = utcnow()
    db.session.commit()
    return f"sent to {user.email}"
