"""The status of an hour entry, as 10000ft's approvals decide it (spec 4.3)."""

from __future__ import annotations

from enum import StrEnum


class EntryStatus(StrEnum):
    """Stored as its value in `hour_entries.status`. Invoices and flex count every entry that is
    not UNSUBMITTED."""

    UNSUBMITTED = "Unsubmitted"
    PENDING_APPROVAL = "Pending Approval"
    APPROVED = "Approved"
