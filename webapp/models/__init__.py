"""SQLAlchemy models, one module per aggregate. Import from here."""
from webapp.models.base import LocationOwned, TimestampMixin, utcnow
from webapp.models.location import Location, WriteBackMode, SyncMode
from webapp.models.user import Role, User, UserSession, user_locations
from webapp.models.audit import AuditEvent
from webapp.models.customer import Customer
from webapp.models.asset import Asset
from webapp.models.change_history import ChangeHistory, ChangeSource
from webapp.models.dms_mirror import DmsRecord, RunStatus, RunTrigger, SyncCursor, SyncRun
from webapp.models.update_request import UpdateRequest, UpdateRequestStatus
from webapp.models.search_token import SearchToken
from webapp.models.appointment import Appointment, AppointmentStatus, PushState
from webapp.models.outbox import OutboxKind, OutboxMessage, OutboxStatus
from webapp.models.sync_session import SyncSession, SyncSessionStatus
from webapp.models.case import (Case, CaseColumnPreference, CaseStatus, LookupTrigger, RelatedLookupStatus,
                                RelatedRoNumber, case_watchers)
from webapp.models.workfile import DmsEvent, DmsEventKind, Workfile
from webapp.models.payment import Payment, PaymentKind, PaymentStatus
from webapp.models.notification import Notification, NotificationKind

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
