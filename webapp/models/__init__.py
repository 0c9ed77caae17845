"""SQLAlchemy models, one module per aggregate. Import from here."""

from sqlalchemy.orm import configure_mappers

from webapp.models.appointment import Appointment, AppointmentStatus, PushState
from webapp.models.asset import Asset
from webapp.models.audit import AuditEvent
from webapp.models.base import LocationOwned, TimestampMixin, utcnow
from webapp.models.case import (
    Case,
    CaseColumnPreference,
    CaseStatus,
    LookupTrigger,
    RelatedLookupStatus,
    RelatedRoNumber,
    case_watchers,
)
from webapp.models.change_history import ChangeHistory, ChangeSource
from webapp.models.customer import Customer
from webapp.models.dms_mirror import DmsRecord, RunStatus, RunTrigger, SyncCursor, SyncRun
from webapp.models.location import Location, SyncMode, WriteBackMode
from webapp.models.notification import Notification, NotificationKind
from webapp.models.outbox import OutboxKind, OutboxMessage, OutboxStatus
from webapp.models.payment import Payment, PaymentKind, PaymentStatus
from webapp.models.search_token import SearchToken
from webapp.models.sync_session import SyncSession, SyncSessionStatus
from webapp.models.update_request import UpdateRequest, UpdateRequestStatus
from webapp.models.user import Role, User, UserSession, user_locations
from webapp.models.workfile import DmsEvent, DmsEventKind, Workfile

__all__ = [
    "Appointment",
    "AuditEvent",
    "AppointmentStatus",
    "OutboxKind",
    "OutboxMessage",
    "OutboxStatus",
    "PushState",
    "Asset",
    "Case",
    "CaseColumnPreference",
    "CaseStatus",
    "LookupTrigger",
    "RelatedLookupStatus",
    "RelatedRoNumber",
    "case_watchers",
    "ChangeHistory",
    "ChangeSource",
    "Customer",
    "DmsEvent",
    "DmsEventKind",
    "DmsRecord",
    "Location",
    "LocationOwned",
    "Notification",
    "NotificationKind",
    "Payment",
    "PaymentKind",
    "PaymentStatus",
    "Role",
    "RunStatus",
    "RunTrigger",
    "SearchToken",
    "SyncCursor",
    "SyncRun",
    "SyncSession",
    "SyncSessionStatus",
    "SyncMode",
    "TimestampMixin",
    "UpdateRequest",
    "UpdateRequestStatus",
    "User",
    "UserSession",
    "Workfile",
    "WriteBackMode",
    "user_locations",
    "utcnow",
]


def configure() -> None:
    """Map every model now (importing this package defines them all): Alembic compares the whole
    schema, and a broken relationship fails at start-up rather than on the first query."""
    configure_mappers()
