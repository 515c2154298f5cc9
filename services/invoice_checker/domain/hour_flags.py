"""The invoice checks' view of one hour entry (spec 1.5.1): billability and the calculated flags.

Kept exactly as the original decided them, quirks included (leave entries are billable; phase
prefixes are matched lower-cased; `overtime` anywhere in the phase name), because invoice stats
and reports are defined by them.
"""

from __future__ import annotations

from typing import NamedTuple

LEAVE_PROJECT_NAME = "[Leave Type]"
NON_BILLABLE_PROJECT_NAMES = frozenset({"LeaveType", "Solinor"})
NON_BILLABLE_PHASE_PREFIXES = ("non-billable", "non billable")
NO_PHASE = "[Non Phase Specific]"
NO_CATEGORY_VALUES = frozenset({"No category", "[none]"})
# A bill rate is "proper" strictly inside this band, in euros per hour.
PROPER_PRICE_LOW = 50.0
PROPER_PRICE_HIGH = 170.0


def is_phase_billable(phase_name: str | None, project_name: str | None) -> bool:
    if project_name in NON_BILLABLE_PROJECT_NAMES:
        return False
    return not (phase_name or "").lower().startswith(NON_BILLABLE_PHASE_PREFIXES)


class PhaseFlags(NamedTuple):
    """The flags that depend only on where the hours were booked (computed once per phase)."""

    is_billable: bool
    has_phase: bool
    is_overtime: bool


class EntryFlags(NamedTuple):
    """The flags that depend on the entry itself."""

    has_notes: bool
    has_proper_price: bool
    has_category: bool


def phase_flags(phase_name: str, project_name: str) -> PhaseFlags:
    """`project_name` is the name of the project of the invoice the entry is attached to."""
    return PhaseFlags(
        is_billable=is_phase_billable(phase_name, project_name),
        has_phase=phase_name != NO_PHASE,
        is_overtime="overtime" in phase_name.lower(),
    )


def entry_flags(notes: str | None, category: str, bill_rate: float) -> EntryFlags:
    return EntryFlags(
        has_notes=bool(notes),  # whitespace-only notes count as present
        has_proper_price=PROPER_PRICE_LOW < bill_rate < PROPER_PRICE_HIGH,
        has_category=category not in NO_CATEGORY_VALUES,
    )


class HourFlags(NamedTuple):
    is_billable: bool
    has_notes: bool
    has_phase: bool
    is_approved: bool
    has_proper_price: bool
    has_category: bool
    is_overtime: bool


def hour_flags(
    *,
    phase_name: str,
    project_name: str,
    notes: str | None,
    category: str,
    bill_rate: float,
    approved: bool,
) -> HourFlags:
    """Every calculated flag of one entry (spec 1.5.1)."""
    phase = phase_flags(phase_name, project_name)
    entry = entry_flags(notes, category, bill_rate)
    return HourFlags(
        is_billable=phase.is_billable,
        has_notes=entry.has_notes,
        has_phase=phase.has_phase,
        is_approved=approved,
        has_proper_price=entry.has_proper_price,
        has_category=entry.has_category,
        is_overtime=phase.is_overtime,
    )
