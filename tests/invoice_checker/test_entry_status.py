"""Entry statuses have one home, EntryStatus: SQL comparing statuses uses only its values."""

from __future__ import annotations

import re
from pathlib import Path

from invoice_checker.domain.entry_status import EntryStatus
from invoice_checker.domain.tenkfeet_mapping import entry_status

STORE = Path(__file__).resolve().parents[2] / "services" / "invoice_checker" / "store"
STATUS_IN_SQL = re.compile(r"\b(?:e|hour_entries)\.status\s*(?:=|<>|!=)\s*'([^']*)'")


def test_every_status_written_in_sql_is_an_entry_status() -> None:
    found = {
        (path.name, literal)
        for path in STORE.glob("*.py")
        for literal in STATUS_IN_SQL.findall(path.read_text())
    }
    assert found, "no SQL status comparison found: the pattern is stale"
    assert {literal for _, literal in found} <= set(EntryStatus)


def test_10000ft_approvals_map_to_the_three_statuses() -> None:
    assert entry_status(None) is EntryStatus.UNSUBMITTED
    assert entry_status({"approved_at": None}) is EntryStatus.PENDING_APPROVAL
    assert entry_status({"approved_at": "2018-01-31T10:00:00Z"}) is EntryStatus.APPROVED
