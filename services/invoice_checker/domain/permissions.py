"""Who may do what: permissions, and the groups that carry them.

The codenames of spec 9.1 are kept; the `can_*_invoices` family is new and closes bug 15.15
(any signed-in user could approve an invoice or mark it sent).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Permission(StrEnum):
    VIEW_INVOICES = "can_view_invoices"
    CHECK_INVOICES = "can_check_invoices"  # tick the checklist, approve
    SEND_INVOICES = "can_send_invoices"  # invoice number, sent flag
    EDIT_FIXED_ROWS = "can_edit_fixed_rows"
    VIEW_DIRECTORY = "can_view_directory"  # projects, people, clients
    VIEW_REPORTS = "can_view_reports"  # company, client and billing-ratio reports
    RUN_SYNC = "can_run_sync"
    SEND_NOTIFICATIONS = "can_send_notifications"
    SEE_HOURS_OVERVIEW = "can_see_hours_overview"
    SEE_SICK_LEAVES = "can_see_sick_leaves"
    SEE_FLEX_SALDOS = "can_see_flex_saldos"
    MANAGE_ACCESS = "can_manage_access"  # other people's groups and tokens
    # Every project's rows; without it a team lead sees only the projects they lead
    # (domain/scopes.py).
    SEE_ALL_PROJECTS = "can_see_all_projects"


_EMPLOYEE = frozenset({Permission.VIEW_DIRECTORY})
_TEAM_LEAD = _EMPLOYEE | {
    Permission.VIEW_INVOICES,
    Permission.CHECK_INVOICES,
    Permission.VIEW_REPORTS,
    Permission.SEE_HOURS_OVERVIEW,
}
_FINANCE = _TEAM_LEAD | {
    Permission.SEND_INVOICES,
    Permission.EDIT_FIXED_ROWS,
    Permission.RUN_SYNC,
    Permission.SEE_ALL_PROJECTS,
}

GROUPS: dict[str, frozenset[Permission]] = {
    "employee": _EMPLOYEE,
    "team-lead": frozenset(_TEAM_LEAD),
    "finance": frozenset(_FINANCE),
    "admin": frozenset(Permission),
}


def permissions_of(groups: Iterable[str]) -> frozenset[Permission]:
    """The union of the permissions of the named groups; unknown names carry nothing."""
    granted: set[Permission] = set()
    for group in groups:
        granted |= GROUPS.get(group, frozenset())
    return frozenset(granted)


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in person behind a request."""

    user_id: int
    email: str
    groups: tuple[str, ...]
    permissions: frozenset[Permission]

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


def email_in_domain(email: str, allowed_domain: str) -> bool:
    """True when the address belongs to the allowed domain exactly (no subdomains, no tricks)."""
    local, at, domain = email.rpartition("@")
    return bool(at and local and allowed_domain) and domain.lower() == allowed_domain.lower()
