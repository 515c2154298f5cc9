"""Whose rows a signed-in person sees: the one row-level rule of the invoice checker.

Permissions (`domain/permissions.py`) say *what* a person may do; a `Scope` says *on which rows*.
Every route (and the web app's pages) derives it once per request with `Scope.of(principal, …)`
and hands it to the store, where `store/scopes.py` turns it into SQL:

- `ProjectReach.ALL` (finance, admin: `can_see_all_projects`): every project's invoices, hour
  entries, money and project pages.
- `ProjectReach.LED` (team leads: `can_view_invoices` without the above): only the projects whose
  10000ft tags name them (`project_admins`, set by the project sync). Anything else is 404.
- `ProjectReach.NONE` (employees): no project's invoices or money; every project and client
  page, but without money and without other people's hours (`directory_reach`).

Everyone sees their own hour entries, flex and person-month. Health data: an entry whose leave
type is sensitive (`sensitive_leave_types`, by default sick leave) keeps its type only for its
owner and holders of `can_see_sick_leaves`; anyone else sees it as `Leave`, without type or notes
(`Scope.hides_leave`, `mask_leave`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from invoice_checker.domain.permissions import Permission, Principal

# What a sensitive leave entry is called for people who may not know its type.
LEAVE_LABEL = "Leave"
DEFAULT_SENSITIVE_LEAVE_TYPES = ("Sick leave",)


class ProjectReach(StrEnum):
    ALL = "all"
    LED = "led"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Scope:
    """The rows one person may see; build it with `Scope.of`."""

    email: str  # lower-cased; matched to 10000ft users and hour entries by e-mail
    reach: ProjectReach
    sees_sick_leave: bool
    sensitive_leave_types: frozenset[str] = frozenset(DEFAULT_SENSITIVE_LEAVE_TYPES)
    sees_people: bool = False  # other people's person-months (can_view_reports)

    @classmethod
    def of(
        cls,
        principal: Principal,
        sensitive_leave_types: Iterable[str] = DEFAULT_SENSITIVE_LEAVE_TYPES,
    ) -> Scope:
        if principal.can(Permission.SEE_ALL_PROJECTS):
            reach = ProjectReach.ALL
        elif principal.can(Permission.VIEW_INVOICES):
            reach = ProjectReach.LED
        else:
            reach = ProjectReach.NONE
        return cls(
            email=principal.email.strip().lower(),
            reach=reach,
            sees_sick_leave=principal.can(Permission.SEE_SICK_LEAVES),
            sensitive_leave_types=frozenset(sensitive_leave_types),
            sees_people=principal.can(Permission.VIEW_REPORTS),
        )

    @property
    def directory_reach(self) -> ProjectReach:
        """Which project and client pages: employees browse them all (without money or other
        people's hours), team leads only their own projects, finance and admin all."""
        return ProjectReach.LED if self.reach is ProjectReach.LED else ProjectReach.ALL

    @property
    def sees_money(self) -> bool:
        """Money and other people's hours of the projects in reach (employees: never)."""
        return self.reach is not ProjectReach.NONE

    def is_own(self, email: str | None) -> bool:
        return email is not None and email.strip().lower() == self.email

    def sees_person(self, email: str | None) -> bool:
        """One's own person-month, or anyone's with `can_view_reports`."""
        return self.sees_people or self.is_own(email)

    def hides_leave(self, leave_type: str, owner_email: str | None) -> bool:
        """True when this entry's leave type is health data this person may not read."""
        return (
            leave_type in self.sensitive_leave_types
            and not self.sees_sick_leave
            and not self.is_own(owner_email)
        )


@dataclass(frozen=True, slots=True)
class ShownLeave:
    """The type-bearing fields of an hour entry as one person may see them."""

    leave_type: str
    category: str
    notes: str | None


class LeaveFacts(Protocol):
    """What `mask_leave` reads of an hour entry."""

    @property
    def leave_type(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def notes(self) -> str | None: ...
    @property
    def user_email(self) -> str | None: ...


def mask_leave(scope: Scope, entry: LeaveFacts) -> ShownLeave:
    """The entry's type, category and notes, or `Leave` with neither type nor notes."""
    if scope.hides_leave(entry.leave_type, entry.user_email):
        return ShownLeave(LEAVE_LABEL, LEAVE_LABEL, None)
    return ShownLeave(entry.leave_type, entry.category, entry.notes)
