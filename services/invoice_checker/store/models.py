"""ORM models: invoice checker. Importing this module registers every table on Base.metadata."""

from __future__ import annotations

from invoice_checker.store.auth import AuthUser, Credential
from invoice_checker.store.aws import (
    AmazonInvoiceRow,
    AmazonLinkedAccount,
    ProjectAmazonAccount,
    UserAmazonAccount,
)
from invoice_checker.store.base import Base
from invoice_checker.store.directory import (
    Client,
    LeaveType,
    Phase,
    Project,
    ProjectAdmin,
    PublicHoliday,
    TenkfeetUser,
)
from invoice_checker.store.flex import FlexTimeCorrection, WorkContract
from invoice_checker.store.history import HistoryRecord
from invoice_checker.store.hours import HourEntry, HourEntryChecksum
from invoice_checker.store.invoices import Invoice
from invoice_checker.store.slack import (
    SlackChannel,
    SlackNotificationBundle,
    SlackProjectAnnouncement,
)
from invoice_checker.store.slack_outbox import SlackOutboxMessage
from invoice_checker.store.syncs import Event, SyncRun
from invoice_checker.store.workflow import (
    InvoiceComment,
    InvoiceCurrencyTotal,
    InvoiceFixedRow,
    InvoiceTag,
    ProjectFixedRow,
)

__all__ = [
    "AmazonInvoiceRow",
    "AmazonLinkedAccount",
    "AuthUser",
    "Base",
    "Client",
    "Credential",
    "Event",
    "FlexTimeCorrection",
    "HistoryRecord",
    "HourEntry",
    "HourEntryChecksum",
    "Invoice",
    "InvoiceComment",
    "InvoiceCurrencyTotal",
    "InvoiceFixedRow",
    "InvoiceTag",
    "LeaveType",
    "Phase",
    "Project",
    "ProjectAdmin",
    "ProjectAmazonAccount",
    "ProjectFixedRow",
    "PublicHoliday",
    "SlackChannel",
    "SlackNotificationBundle",
    "SlackOutboxMessage",
    "SlackProjectAnnouncement",
    "SyncRun",
    "TenkfeetUser",
    "UserAmazonAccount",
    "WorkContract",
]
