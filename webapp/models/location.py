"""A dealership location (rooftop/branch) and its DMS connection settings."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from connectors.vendors import VENDOR_CODES, get_profile
from webapp.extensions import db
from webapp.models.base import TimestampMixin


class WriteBackMode(str, enum.Enum):
    """Whether sync-wizard results are written back to the DMS (seed 001)."""

    PORTAL_ONLY = "portal_only"
    PORTAL_AND_DMS = "portal_and_dms"

    @property
    def label(self) -> str:
        """The wording the External Interfaces page uses."""
        return {
            "portal_only": "Portal Only (default)",
            "portal_and_dms": "Update Portal + DMS (when supported)",
        }[self.value]


class SyncMode(str, enum.Enum):
    """How pulled DMS values reach linked portal records (DESIGN.md §4)."""

    REVIEW = "review"  # only flag drift; a person resolves it in the sync wizard
    AUTOMATIC = "automatic"  # apply DMS values directly, with Change History

    @property
    def label(self) -> str:
        """Human wording."""
        return {"review": "Review differences (default)", "automatic": "Apply DMS values automatically"}[self.value]


# Vendor codes and their display names, from the connector layer's profiles (the one wording).
DMS_VENDORS: dict[str, str] = {code: get_profile(code).display_name for code in VENDOR_CODES}


class Location(TimestampMixin, db.Model):
    """A rooftop or branch. Every customer, asset, case... belongs to exactly one."""

    __tablename__ = "location"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="America/New_York")
    # Comma-free list of franchise brands sold/serviced here (shared-DMS filters use them).
    brands: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)

    # DMS connection. ``dms_vendor`` None = no DMS connected yet.
    dms_vendor: Mapped[str | None] = mapped_column(String(32))
    dms_base_url: Mapped[str | None] = mapped_column(String(255))
    dms_account: Mapped[str | None] = mapped_column(String(64))
    # The wire protocol (a key of connectors.protocols.PROTOCOLS); None = the vendor's default.
    dms_protocol: Mapped[str | None] = mapped_column(String(16))
    # A Fernet token of the JSON dict of the protocol's credentials (webapp.credentials);
    # read and set it through ``dms_credentials``.
    dms_credentials_token: Mapped[str | None] = mapped_column("dms_credentials", Text)
    dms_extract_dir: Mapped[str | None] = mapped_column(String(255))
    webhook_secret: Mapped[str | None] = mapped_column(String(128))
    # Per data type overrides of the vendor's pull cadence, in minutes.
    cadence_overrides: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)

    write_back_mode: Mapped[WriteBackMode] = mapped_column(
        Enum(WriteBackMode, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]),
        nullable=False,
        default=WriteBackMode.PORTAL_ONLY,
    )
    sync_mode: Mapped[SyncMode] = mapped_column(
        Enum(SyncMode, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        nullable=False,
        default=SyncMode.REVIEW,
    )
    oem_build_data: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    related_ro_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Case auto-close rule (issue 8): close open cases idle this many days (None = off)...
    case_auto_close_days: Mapped[int | None] = mapped_column(Integer)
    # ...and only once the case's RO is closed (or invoiced) in the DMS mirror.
    case_auto_close_requires_closed_ro: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # Vendor options the DMS's own rules depend on, e.g. CDK's {"require_address": true,
    # "require_email": true}; passed to the vendor profile's pre-flight rules.
    dms_options: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)

    @property
    def dms_vendor_name(self) -> str:
        """Display name of the connected DMS, or a plain 'No DMS connected'."""
        if not self.dms_vendor:
            return "No DMS connected"
        return DMS_VENDORS.get(self.dms_vendor, self.dms_vendor)

    @property
    def has_dms(self) -> bool:
        """True when a DMS vendor and its endpoint are configured."""
        return bool(self.dms_vendor and (self.dms_base_url or self.dms_extract_dir))

    @property
    def effective_protocol(self) -> str | None:
        """The protocol in use: the chosen one, else the vendor's default (None without a vendor)."""
        if self.dms_protocol:
            return self.dms_protocol
        if not self.dms_vendor:
            return None
        import connectors

        try:
            return connectors.get_profile(self.dms_vendor).protocols[0]
        except (KeyError, ValueError):
            return None

    @property
    def dms_protocol_label(self) -> str:
        """Admin-facing name of the protocol in use ('' without a DMS)."""
        from connectors.protocols import protocol_label

        protocol = self.effective_protocol
        return protocol_label(protocol) if protocol else ""

    @property
    def has_dms_credentials(self) -> bool:
        """True when credentials are stored (without decrypting them)."""
        return bool(self.dms_credentials_token)

    @property
    def dms_credentials(self) -> dict[str, str]:
        """The decrypted credentials dict ({} when none are stored).

        Raises :class:`webapp.credentials.CredentialsUnreadable` (an AuthenticationError) when
        no configured key opens them. Never log or render the result: it holds secrets.
        """
        if not self.dms_credentials_token:
            return {}
        from webapp.credentials import decrypt

        return decrypt(self.dms_credentials_token)

    @dms_credentials.setter
    def dms_credentials(self, value: dict[str, str] | None) -> None:
        """Encrypt and store ``value`` with the current key (empty or None clears it)."""
        from webapp.credentials import encrypt

        cleaned = {k: v for k, v in (value or {}).items() if v not in (None, "")}
        self.dms_credentials_token = encrypt(cleaned) if cleaned else None

    def connector_settings(self) -> dict[str, Any]:
        """Settings for ``connectors.connect(self.dms_vendor, settings)`` (holds decrypted secrets)."""
        from webapp.storage import drop_folder

        return {
            "protocol": self.effective_protocol,
            "base_url": self.dms_base_url,
            "account": self.dms_account,
            "credentials": self.dms_credentials,
            "extract_dir": drop_folder(self.dms_extract_dir),
        }

    def connect_dms(self, timeout: float):
        """A connector to this location's DMS, each call bounded by ``timeout`` seconds
        (use it as a context manager: ``with location.connect_dms(8) as dms: ...``)."""
        import connectors

        return connectors.connect(self.dms_vendor, {**self.connector_settings(), "timeout": timeout})

    def __repr__(self) -> str:
        return f"<Location {self.code}>"
