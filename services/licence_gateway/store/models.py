"""ORM models: licence gateway. Importing this module registers every table on Base.metadata."""

from __future__ import annotations

from licence_gateway.store.base import Base
from licence_gateway.store.mail import (
    BatchPayload,
    IcmsCallback,
    LicenceDataBatch,
    Mail,
    MailEvent,
    ReceivedEmail,
)
from licence_gateway.store.payloads import LicencePayload

__all__ = [
    "Base",
    "BatchPayload",
    "IcmsCallback",
    "LicenceDataBatch",
    "LicencePayload",
    "Mail",
    "MailEvent",
    "ReceivedEmail",
]
