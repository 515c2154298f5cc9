"""The Slack messages the invoice checker sends and answers with, as pure functions.

Shapes follow the original (legacy attachments with fields and buttons); links are absolute,
built on the service's public URL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from invoice_checker.domain.flex import FLEX_MAX_MINUS, FLEX_MAX_PLUS, FlexResult

AUTHOR = "Solinor Finance"
# A month's saldo change worth a word in the flex notice, in hours (either way).
FLEX_NOTABLE_CHANGE = 10.0
TENKFEET_APP = "https://app.10000ft.com"


def escape(text: str | None) -> str:
    """Text from 10000ft made inert in a Slack message: `&`, `<` and `>` as entities, so a
    name like `Web> <!everyone>` cannot mention, link or format anything."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def signed_hours(value: float) -> str:
    """`+3.50h` / `-13.50h`: a change or saldo, sign always shown."""
    return f"{value:+.2f}h"


def hours(value: float) -> str:
    return f"{value:.2f}h"


def euros(value: float) -> str:
    return f"{value:.2f}€"


def ephemeral(text: str, attachments: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """A reply only the person who typed the command sees."""
    body: dict[str, Any] = {"response_type": "ephemeral", "text": text}
    if attachments:
        body["attachments"] = list(attachments)
    return body


@dataclass(frozen=True)
class FlexSummary:
    """What Slack shows of a flex result: the saldo with KIKY, its KIKY part, last change."""

    user_guid: str
    name: str
    saldo: float
    kiky_saldo: float
    change_from_last_month: float | None


def flex_headline(summary: FlexSummary) -> str:
    return f"Flex saldo for {escape(summary.name)} is {signed_hours(summary.saldo)}"


def flex_attachment(summary: FlexSummary, public_url: str) -> dict[str, Any]:
    change = summary.change_from_last_month
    return {
        "fallback": flex_headline(summary),
        "fields": [
            {"short": True, "title": "Flex", "value": signed_hours(summary.saldo)},
            {"short": True, "title": "KIKY deduction", "value": signed_hours(summary.kiky_saldo)},
            {
                "short": True,
                "title": "Change from last month",
                "value": "--" if change is None else signed_hours(change),
            },
        ],
        "actions": [
            {
                "type": "button",
                "style": "primary",
                "text": "View details",
                "url": f"{public_url}/users/{summary.user_guid}/flexhours",
            },
            {"type": "button", "text": "10000ft", "url": TENKFEET_APP},
        ],
    }


def flex_notice_text(saldo: float, kiky_saldo: float, last_month_diff: float | None) -> str:
    """The monthly flex notice in the original's words, or "" when there is nothing worth a
    message. Changes are shown without a `+` sign, as the original did.

    Fixed on purpose: the original's out-of-band texts included a paragraph on last month's
    change keyed on a variable it never set, so that paragraph never showed; here it does.
    Without a comparison month (the saldo was set inside last month) the change rules are
    skipped instead of crashing the whole run (the original's KeyError, 15.12).
    """
    band = (
        f"In the long run, your flex saldo should stay between {FLEX_MAX_MINUS:.0f}h and "
        f"{FLEX_MAX_PLUS:.0f}h."
    )
    if saldo > FLEX_MAX_PLUS:
        return (
            f"{band} If you want to, you can either take days off (agree with the customer and "
            "team) or you can convert flex saldo to salary." + _change_paragraph(last_month_diff)
        )
    if saldo < FLEX_MAX_MINUS:
        text = (
            f"{band} If you already have a valid plan to fix the situation, you can ignore this "
            "notification. If not, your alternatives are a) working more hours to balance this "
            "out, b) take an one-off pay cut to pay back minus hours."
        )
        if kiky_saldo < 0:
            text += (
                f"\n\nYou have {hours(kiky_saldo)} from KIKY hours. Doing work-related learning "
                "and marking hours for that is highly recommended."
            )
        return text + _change_paragraph(last_month_diff)
    if last_month_diff is not None and last_month_diff > FLEX_NOTABLE_CHANGE:
        return "This message is for your information - no action is needed from you."
    if last_month_diff is not None and last_month_diff < -FLEX_NOTABLE_CHANGE:
        return (
            f"Your flex saldo changed by {hours(last_month_diff)} during the past month. "
            "Did you remember to mark all your hours?"
        )
    return ""


def _change_paragraph(last_month_diff: float | None) -> str:
    if last_month_diff is None or abs(last_month_diff) <= FLEX_NOTABLE_CHANGE:
        return ""
    text = f"\n\nYour flex saldo changed by {hours(last_month_diff)} during the past month."
    return text + (" Did you remember to mark in all hours?" if last_month_diff < 0 else "")


def flex_notice_attachment(
    text: str, saldo: float, kiky_saldo: float, last_month_diff: float | None, public_url: str
) -> dict[str, Any]:
    return {
        "author_name": AUTHOR,
        "title": "Flex saldo report",
        "title_link": f"{public_url}/you/flexhours",
        "fallback": text,
        "text": text,
        "fields": [
            {"title": "Flex saldo at the end of last month", "value": hours(saldo), "short": True},
            {
                "title": "Change from the month before",
                "value": "--" if last_month_diff is None else hours(last_month_diff),
                "short": True,
            },
            {"title": "KIKY deduction", "value": hours(kiky_saldo), "short": True},
        ],
    }


@dataclass(frozen=True)
class UnsubmittedEntry:
    date: date
    project_guid: str
    client: str
    project: str
    category: str
    phase: str
    hours: float
    notes: str


def unsubmitted_attachment(
    user_guid: str, entries: Sequence[UnsubmittedEntry], today: date, public_url: str
) -> dict[str, Any]:
    lines = [
        f"- {e.date.isoformat()} - <{public_url}/projects/{e.project_guid}|{escape(e.client)} - "
        f"{escape(e.project)}> - {escape(e.category)} - {escape(e.phase)} - {e.hours}h - "
        f"{escape(e.notes)}"
        for e in entries
    ]
    total = sum(e.hours for e in entries)
    return {
        "author_name": AUTHOR,
        "title": "Unsubmitted hours in 10000ft",
        "fallback": (
            f"You have unsubmitted hours: {public_url}/users/{user_guid}/"
            f"{today.year}/{today.month:02d}"
        ),
        "text": "\n".join(lines),
        "fields": [
            {"title": "Unsubmitted markings", "value": str(len(entries)), "short": True},
            {"title": "Unsubmitted hours", "value": hours(total), "short": True},
        ],
        "actions": [
            {
                "type": "button",
                "style": "primary",
                "text": "Submit your hours",
                "url": f"{public_url}/you/hours/unsubmitted",
            },
            {"type": "button", "text": "Edit in 10000ft", "url": TENKFEET_APP},
        ],
        "footer": "This notification is sent weekly if you have unsubmitted hours.",
    }


@dataclass(frozen=True)
class UnapprovedProject:
    project_guid: str
    project_id: int | None
    client: str
    name: str
    entries: int
    hours: float
    money: float


def unapproved_attachment(project: UnapprovedProject, public_url: str) -> dict[str, Any]:
    title = f"Unapproved project hours: {escape(project.client)} - {escape(project.name)}"
    return {
        "author_name": AUTHOR,
        "title": title,
        "fallback": title,
        "fields": [
            {"title": "Value", "value": euros(project.money), "short": True},
            {"title": "Number of entries", "value": str(project.entries), "short": True},
            {"title": "Amount of hours", "value": hours(project.hours), "short": True},
        ],
        "actions": [
            {
                "type": "button",
                "text": "See project in 10000ft",
                "url": f"{TENKFEET_APP}/viewproject?id={project.project_id}",
            },
            {
                "type": "button",
                "text": "Details in Solinor Finance",
                "url": f"{public_url}/projects/{project.project_guid}",
            },
        ],
    }


def flex_summary(user_guid: str, name: str, result: FlexResult) -> FlexSummary:
    """Change from last month = the saldo minus the previous month row's (KIKY mixed in, as in
    the original); None when the calculation covers a single month."""
    change = (
        result.cumulative_saldo - result.months[-2].cumulative_saldo
        if len(result.months) > 1
        else None
    )
    return FlexSummary(
        user_guid=user_guid,
        name=name,
        saldo=round(result.cumulative_saldo, 6),
        kiky_saldo=round(result.kiky.saldo, 6),
        change_from_last_month=None if change is None else round(change, 6),
    )


@dataclass(frozen=True)
class NewProject:
    project_id: int | None
    client: str
    name: str
    created_at: datetime | None


def new_project_text(project: NewProject) -> str:
    """The channel announcement of a project new in 10000ft (the original's exact words)."""
    return (
        f"<!channel> Hi! New project was added: <{TENKFEET_APP}/viewproject?id="
        f"{project.project_id}|{escape(project.client)} - {escape(project.name)}> "
        f"(created at {project.created_at})"
    )


# Unfurls of links to our own pages (Events API `link_shared`).
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
USER_FLEX_PATH = re.compile(rf"^/users/(?P<guid>{_UUID})/flexhours")
INVOICE_PATH = re.compile(rf"^/invoices/(?P<id>{_UUID})$")
PROJECT_PATH = re.compile(rf"^/projects/(?P<guid>{_UUID})$")
# A project unfurl lists at most this many invoices, newest first.
PROJECT_UNFURL_INVOICES = 13


def not_found_unfurl(what: str) -> dict[str, Any]:
    return {"text": f"404 - {what}"}


def sign_in_unfurl(url: str) -> dict[str, Any]:
    """What a link shows when the person who shared it may not see the page (or is unknown)."""
    return {"title": AUTHOR, "title_link": url, "text": "Sign in to view."}


def flex_unfurl(summary: FlexSummary, public_url: str) -> dict[str, Any]:
    return {
        **flex_attachment(summary, public_url),
        "text": flex_headline(summary),
        "is_app_unfurl": True,
    }


@dataclass(frozen=True)
class InvoiceCard:
    invoice_id: str
    client: str
    project: str
    month: date
    state_label: str
    leads: Sequence[str]
    incurred_hours: float
    incurred_money: float
    incorrect_entries: int


def invoice_unfurl(card: InvoiceCard, url: str) -> dict[str, Any]:
    return {
        "title": (
            f"Solinor Invoice - {escape(card.client)} - {escape(card.project)} - {card.month:%Y-%m}"
        ),
        "title_link": url,
        "fields": [
            {"title": "Invoice state", "value": card.state_label, "short": True},
            {"title": "Tags", "value": escape(", ".join(card.leads)) or "-", "short": True},
            {"title": "Incurred hours", "value": hours(card.incurred_hours), "short": True},
            {"title": "Incurred billing", "value": euros(card.incurred_money), "short": True},
            {"title": "Incorrect hour entries", "value": card.incorrect_entries, "short": True},
        ],
    }


@dataclass(frozen=True)
class ProjectCard:
    client: str
    name: str
    description: str
    starts_at: date | None
    ends_at: date | None
    state: str
    invoices: Sequence[InvoiceCard]  # non-empty invoices, newest first


def project_unfurl(card: ProjectCard, url: str, public_url: str) -> dict[str, Any]:
    lines = [
        f"- <{public_url}/invoices/{i.invoice_id}|{i.month:%Y-%m} - {hours(i.incurred_hours)}"
        f" - {euros(i.incurred_money)} - {i.state_label}>"
        for i in card.invoices[:PROJECT_UNFURL_INVOICES]
    ]
    if len(card.invoices) > PROJECT_UNFURL_INVOICES:
        lines.append("...")
    listing = "\n".join(lines) if lines else "No invoices."
    description = escape(card.description)
    return {
        "title": f"Solinor project - {escape(card.client)} {escape(card.name)}",
        "title_link": url,
        "text": f"{description}\n\n{listing}" if description else listing,
        "mrkdwn_in": ["text"],
        "fields": [
            # A project without dates shows "-" (the original crashed formatting None).
            {"title": "Start date", "value": _day(card.starts_at), "short": True},
            {"title": "End date", "value": _day(card.ends_at), "short": True},
            {
                "title": "Incurred hours",
                "value": hours(sum(i.incurred_hours for i in card.invoices)),
                "short": True,
            },
            {
                "title": "Incurred billing",
                "value": euros(sum(i.incurred_money for i in card.invoices)),
                "short": True,
            },
            {"title": "Project state", "value": escape(card.state) or "-", "short": True},
        ],
    }


def _day(value: date | None) -> str:
    return value.isoformat() if value else "-"
