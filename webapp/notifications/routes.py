"""The requester's notifications: the list, and marking them read (the header's count is
``notification_count``, webapp/template_filters.py).

Listing does not mark anything read: a GET stays safe (hx-boost, link prefetching and a reload
change nothing), and a notification stays "New" until its user says they have seen it, with
"Mark read" on one row or "Mark all read" (POST forms with the CSRF token; no JavaScript needed).
Every query is filtered by the signed-in user: another user's notification id answers 404.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models.notification import Notification
from webapp.notifications.service import mark_read
from webapp.permissions import Permission, require
from webapp.rendering import render

bp = Blueprint("notifications", __name__)

#: The list shows the newest this many.
LIST_LIMIT = 200


@bp.route("/notifications")
@require(Permission.REQUEST_UPDATES)
def index():
    """The signed-in user's notifications, newest first, unread ones marked "New"."""
    rows = db.session.scalars(
        select(Notification)
        .where(Notification.user_id == current_user.id)
        .options(selectinload(Notification.update_request))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(LIST_LIMIT)
    ).all()
    return render("notifications/index.html", notifications=rows)


@bp.route("/notifications/read", methods=["POST"])
@require(Permission.REQUEST_UPDATES)
def read_all():
    """Mark every notification of the signed-in user read."""
    count = mark_read(db.session, current_user.id)
    db.session.commit()
    flash(
        f"Marked {count} notification{'s' if count != 1 else ''} read." if count else "Nothing was unread.", "success"
    )
    return redirect(url_for("notifications.index"), code=303)


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@require(Permission.REQUEST_UPDATES)
def read_one(notification_id: int):
    """Mark one of the signed-in user's notifications read (someone else's: 404)."""
    owned = db.session.scalar(
        select(Notification.id).where(Notification.id == notification_id, Notification.user_id == current_user.id)
    )
    if owned is None:
        abort(404)
    mark_read(db.session, current_user.id, notification_id)
    db.session.commit()
    return redirect(url_for("notifications.index"), code=303)
