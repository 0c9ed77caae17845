"""SQLAlchemy models, one module per aggregate. Import from here."""
from webapp.models.base import LocationOwned, TimestampMixin, utcnow
from webapp.models.location import Location, WriteBackMode, SyncMode
from webapp.models.user import Role, User, user_locations
from webapp.models.customer import Customer
from webapp.models.asset import Asset
from webapp.models.change_history import ChangeHistory, ChangeSource

__all__ = [
    "Asset",
    "ChangeHistory",
    "ChangeSource",
    "Customer",
    "Location",
    "LocationOwned",
    "Role",
    "SyncMode",
    "TimestampMixin",
    "User",
    "WriteBackMode",
    "user_locations",
    "utcnow",
]
