"""SQLAlchemy models, one module per aggregate. Import from here."""
from webapp.models.base import LocationOwned, TimestampMixin, utcnow
from webapp.models.location import Location, WriteBackMode, SyncMode
from webapp.models.user import Role, User, user_locations
from webapp.models.customer import Customer
from webapp.models.asset import Asset
from webapp.models.change_history import ChangeHistory, ChangeSource
from webapp.models.dms_mirror import DmsRecord, RunStatus, RunTrigger, SyncCursor, SyncRun

__all__ = [
    "Asset",
    "ChangeHistory",
    "ChangeSource",
    "Customer",
    "DmsRecord",
    "Location",
    "LocationOwned",
    "Role",
    "RunStatus",
    "RunTrigger",
    "SyncCursor",
    "SyncRun",
    "SyncMode",
    "TimestampMixin",
    "User",
    "WriteBackMode",
    "user_locations",
    "utcnow",
]
