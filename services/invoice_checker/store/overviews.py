"""The sums behind the part-2 pages: the hours overview, billing ratio month by month, client
hours, and AWS accounts with their monthly costs and links. Everyone's flex saldo is
`store.flex.everyones_saldo`."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.aws_billing import ACCOUNT_TOTAL
from invoice_checker.domain.entry_status import EntryStatus
from invoice_checker.domain.reports import billing_ratio, month_starts
from invoice_checker.store import reports
from invoice_checker.store.aws import (
    AmazonInvoiceRow,
    AmazonLinkedAccount,
    ProjectAmazonAccount,
    UserAmazonAccount,
    ensure_invoices,
)
from invoice_checker.store.directory import Client, Project, TenkfeetUser
from invoice_checker.store.hours import HourEntry
from invoice_checker.store.invoice_stats import month_end, refresh_invoice_stats
from invoice_checker.store.invoices import Invoice
from invoice_checker.store.syncs import Event

STATUSES = tuple(str(status) for status in EntryStatus)
# The overview's flags: each counts the entries that have the problem (spec 1.5.1), by the
# query parameter `/hours` filters on.
FLAGS = {
    "not_billable": "NOT e.calculated_is_billable",
    "no_notes": "NOT e.calculated_has_notes",
    "no_phase": "NOT e.calculated_has_phase",
    "no_category": "NOT e.calculated_has_category",
    "improper_price": "NOT e.calculated_has_proper_price",
    "overtime": "e.calculated_is_overtime",
}


@dataclass(frozen=True, slots=True)
class Tally:
    entries: int
    hours: float


@dataclass(frozen=True, slots=True)
class HoursMonth:
    month: date
    total: Tally
    by_status: dict[str, Tally]
    by_flag: dict[str, Tally]


def _overview_sql() -> str:
    parts = ["count(*) AS total_entries", "coalesce(sum(e.incurred_hours), 0) AS total_hours"]
    for index in range(len(STATUSES)):
        parts.append(f"count(*) FILTER (WHERE e.status = :status_{index}) AS s{index}_entries")
        parts.append(
            f"coalesce(sum(e.incurred_hours) FILTER (WHERE e.status = :status_{index}), 0) "
            f"AS s{index}_hours"
        )
    for name, condition in FLAGS.items():
        parts.append(f"count(*) FILTER (WHERE {condition}) AS {name}_entries")
        parts.append(
            f"coalesce(sum(e.incurred_hours) FILTER (WHERE {condition}), 0) AS {name}_hours"
        )
    # Only the constants above are put into the text; dates and statuses are bound.
    return f"""
        SELECT CAST(date_trunc('month', e.date) AS date) AS month, {", ".join(parts)}
        FROM invoice_checker.hour_entries e
        WHERE e.date BETWEEN :first AND :last AND e.incurred_hours <> 0
        GROUP BY 1 ORDER BY 1 DESC
    """  # nosec B608


async def hours_overview(session: AsyncSession, *, first: date, last: date) -> list[HoursMonth]:
    """Per month (newest first), entries and hours by status (Unsubmitted, Pending Approval,
    Approved) and by problem flag, over every entry with hours, leaves included."""
    rows = await session.execute(
        text(_overview_sql()),
        {"first": first, "last": last, **{f"status_{i}": s for i, s in enumerate(STATUSES)}},
    )
    months = []
    for row in rows.mappings():
        months.append(
            HoursMonth(
                month=row["month"],
                total=Tally(row["total_entries"], float(row["total_hours"])),
                by_status={
                    status: Tally(row[f"s{i}_entries"], float(row[f"s{i}_hours"]))
                    for i, status in enumerate(STATUSES)
                },
                by_flag={
                    name: Tally(row[f"{name}_entries"], float(row[f"{name}_hours"]))
                    for name in FLAGS
                },
            )
        )
    return months


async def billing_ratio_by_month(
    session: AsyncSession, *, first: date, last: date, include_leaves: bool = False
) -> tuple[list[str], dict[str, dict[str, float | None]]]:
    """Each person's billing ratio (percent) per month of first..last: the months as
    `YYYY-MM` (oldest first) and `ratios[person][month]`, person being the name (or e-mail).
    The same sums as the billing-ratio report, month by month."""
    months: list[str] = []
    ratios: dict[str, dict[str, float | None]] = defaultdict(dict)
    for start in month_starts(first, last):
        label = start.strftime("%Y-%m")
        months.append(label)
        rows = await reports.billable_hours_by_person(
            session,
            start=max(start, first),
            end=min(month_end(start), last),
            include_leaves=include_leaves,
        )
        for row in rows:
            person = row["name"] or row["email"] or "?"
            ratios[person][label] = billing_ratio(row["billable_hours"], row["non_billable_hours"])
    return months, dict(sorted(ratios.items()))


async def client_hours(session: AsyncSession, *, first: date, last: date) -> dict[str, float]:
    """Hours per client on weekdays of first..last, internal work left out (the client report's
    counting), for the client-share chart."""
    per_client = await reports.client_days(session, first=first, last=last)
    return {client: sum(h for _, h in days.values()) for client, days in per_client.items()}


# AWS -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkedProject:
    guid: uuid.UUID
    client: str
    name: str


@dataclass(frozen=True, slots=True)
class LinkedPerson:
    guid: uuid.UUID
    name: str


@dataclass
class AwsAccount:
    """A linked AWS account: its monthly costs (the AccountTotal rows, per currency) and what
    it is billed to."""

    account_id: str
    name: str
    costs: dict[date, dict[str, float]] = field(default_factory=dict)
    projects: list[LinkedProject] = field(default_factory=list)
    people: list[LinkedPerson] = field(default_factory=list)

    @property
    def linked(self) -> bool:
        return bool(self.projects or self.people)


async def aws_accounts(
    session: AsyncSession, *, months: Sequence[date], account_id: str | None = None
) -> list[AwsAccount]:
    """Every AWS account (or one), by name, with its costs in `months` (1st of each) and its
    linked projects and people."""
    query = select(AmazonLinkedAccount).order_by(
        func.lower(AmazonLinkedAccount.name), AmazonLinkedAccount.linked_account_id
    )
    if account_id is not None:
        query = query.where(AmazonLinkedAccount.linked_account_id == account_id)
    accounts = {
        a.linked_account_id: AwsAccount(a.linked_account_id, a.name)
        for a in (await session.execute(query)).scalars()
    }
    if not accounts:
        return []
    ids = list(accounts)
    costs = await session.execute(
        select(
            AmazonInvoiceRow.linked_account_id,
            AmazonInvoiceRow.invoice_month,
            AmazonInvoiceRow.currency,
            func.coalesce(func.sum(AmazonInvoiceRow.total_cost), 0.0),
        )
        .where(
            AmazonInvoiceRow.linked_account_id.in_(ids),
            AmazonInvoiceRow.record_type == ACCOUNT_TOTAL,
            AmazonInvoiceRow.invoice_month.in_(list(months)),
        )
        .group_by(
            AmazonInvoiceRow.linked_account_id,
            AmazonInvoiceRow.invoice_month,
            AmazonInvoiceRow.currency,
        )
    )
    for account, month, currency, total in costs:
        accounts[account].costs.setdefault(month, {})[currency] = float(total or 0.0)
    projects = await session.execute(
        select(ProjectAmazonAccount.linked_account_id, Project.guid, Client.name, Project.name)
        .join(Project, Project.guid == ProjectAmazonAccount.project_guid)
        .join(Client, Client.id == Project.client_id)
        .where(ProjectAmazonAccount.linked_account_id.in_(ids))
        .order_by(Client.name, Project.name)
    )
    for account, guid, client, name in projects:
        accounts[account].projects.append(LinkedProject(guid, client, name))
    people = await session.execute(
        select(
            UserAmazonAccount.linked_account_id,
            TenkfeetUser.guid,
            TenkfeetUser.first_name,
            TenkfeetUser.last_name,
        )
        .join(TenkfeetUser, TenkfeetUser.guid == UserAmazonAccount.user_guid)
        .where(UserAmazonAccount.linked_account_id.in_(ids))
        .order_by(TenkfeetUser.first_name, TenkfeetUser.last_name)
    )
    for account, guid, first_name, last_name in people:
        accounts[account].people.append(LinkedPerson(guid, f"{first_name} {last_name}"))
    return list(accounts.values())


@dataclass(frozen=True, slots=True)
class AwsMonthSplit:
    """A month's AWS total split as the original's overview did, per currency."""

    projects: dict[str, float]
    people: dict[str, float]
    unlinked: dict[str, float]
    linked_accounts: int
    unlinked_accounts: int


def aws_month_split(accounts: Sequence[AwsAccount], month: date) -> AwsMonthSplit:
    """Billed to projects, to people (accounts linked only to people), or to nobody."""
    split: dict[str, dict[str, float]] = {"projects": {}, "people": {}, "unlinked": {}}
    for account in accounts:
        key = "projects" if account.projects else "people" if account.people else "unlinked"
        for currency, amount in account.costs.get(month, {}).items():
            split[key][currency] = split[key].get(currency, 0.0) + amount
    linked = sum(1 for a in accounts if a.linked)
    return AwsMonthSplit(
        split["projects"], split["people"], split["unlinked"], linked, len(accounts) - linked
    )


async def _account_months(session: AsyncSession, account_id: str) -> list[date]:
    months = await session.execute(
        select(AmazonInvoiceRow.invoice_month)
        .where(AmazonInvoiceRow.linked_account_id == account_id)
        .distinct()
    )
    return list(months.scalars())


async def _refresh_project_months(
    session: AsyncSession, project_guid: uuid.UUID, months: Sequence[date]
) -> None:
    """The AWS costs are part of an invoice's totals: recompute the touched invoices."""
    if not months:
        return
    ids = await session.execute(
        select(Invoice.id).where(Invoice.project_guid == project_guid, Invoice.date.in_(months))
    )
    await refresh_invoice_stats(session, invoice_ids=set(ids.scalars()))


@dataclass(frozen=True, slots=True)
class AwsLinkResult:
    created: bool  # False when the link was there already
    invoices_created: int


async def link_project(
    session: AsyncSession, account_id: str, project_guid: uuid.UUID
) -> AwsLinkResult:
    """Bill the account's AWS costs on the project's invoices: link them, create the project's
    invoices of the months the account has costs in (as an import would) and refresh their
    totals."""
    result = await session.execute(
        insert(ProjectAmazonAccount)
        .values(project_guid=project_guid, linked_account_id=account_id)
        .on_conflict_do_nothing()
    )
    months = await _account_months(session, account_id)
    created = 0
    for month in months:
        created += await ensure_invoices(session, month, [account_id])
    await _refresh_project_months(session, project_guid, months)
    return AwsLinkResult(bool(getattr(result, "rowcount", 0)), created)


async def unlink_project(session: AsyncSession, account_id: str, project_guid: uuid.UUID) -> bool:
    """Stop billing the account on the project; its invoices' totals are recomputed."""
    result = await session.execute(
        delete(ProjectAmazonAccount).where(
            ProjectAmazonAccount.linked_account_id == account_id,
            ProjectAmazonAccount.project_guid == project_guid,
        )
    )
    await _refresh_project_months(session, project_guid, await _account_months(session, account_id))
    return bool(getattr(result, "rowcount", 0))


# People ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProjectHours:
    project_guid: uuid.UUID
    client: str
    project: str
    hours: float
    billable_hours: float

    @property
    def billable_share(self) -> float | None:
        return self.billable_hours / self.hours * 100 if self.hours else None


async def person_project_hours(
    session: AsyncSession, user_guid: uuid.UUID, *, first: date, last: date
) -> list[ProjectHours]:
    """A person's submitted hours in first..last per project (leave included, as its own
    project), most hours first: the person page's month."""
    rows = await session.execute(
        select(
            Project.guid,
            Client.name,
            Project.name,
            func.sum(HourEntry.incurred_hours),
            func.coalesce(
                func.sum(HourEntry.incurred_hours).filter(HourEntry.calculated_is_billable), 0.0
            ),
        )
        .join(Invoice, Invoice.id == HourEntry.invoice_id)
        .join(Project, Project.guid == Invoice.project_guid)
        .join(Client, Client.id == Project.client_id)
        .where(
            HourEntry.user_guid == user_guid,
            HourEntry.date.between(first, last),
            HourEntry.status != EntryStatus.UNSUBMITTED,
            HourEntry.incurred_hours > 0,
        )
        .group_by(Project.guid, Client.name, Project.name)
        .order_by(func.sum(HourEntry.incurred_hours).desc(), Client.name, Project.name)
    )
    return [
        ProjectHours(guid, client, name, float(hours), float(billable))
        for guid, client, name, hours, billable in rows
    ]


# Jobs and events -------------------------------------------------------------------------------


async def latest_events(session: AsyncSession, event_types: Sequence[str]) -> dict[str, Event]:
    """The newest event of each of these types (types never written are absent)."""
    if not event_types:
        return {}
    rows = await session.execute(
        select(Event)
        .where(Event.event_type.in_(list(event_types)))
        .distinct(Event.event_type)
        .order_by(Event.event_type, Event.timestamp.desc(), Event.id.desc())
    )
    return {event.event_type: event for event in rows.scalars()}


async def recent_events(session: AsyncSession, limit: int = 50) -> list[Event]:
    rows = await session.execute(
        select(Event).order_by(Event.timestamp.desc(), Event.id.desc()).limit(limit)
    )
    return list(rows.scalars())
