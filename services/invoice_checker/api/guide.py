"""What /docs shows first: the service in a sentence, how to sign in, the monthly check."""

from __future__ import annotations

from typing import Any

DESCRIPTION = """
Monthly per-project invoices over hour entries synced from 10000ft, checked and approved by team
leads and finance.

**Sign in.** In a browser, open `/api/v1/auth/login` (Google, your company account); the session
cookie then works on this page. Scripts use a personal token: create one with
`POST /api/v1/auth/tokens` (or `invoice-checker create-token`; it lasts 90 days unless you ask
for up to 365, and one made here ends when you sign out) and press **Authorize** above.
`GET /api/v1/auth/me` shows your groups and permissions.

**The monthly check**

1. `GET /api/v1/invoices?month=2026-10&has_problems=true` lists the month's invoices with
   incorrect entries (add `state=C` for the unchecked ones, `tag=...`, `sort=-money`).
2. `GET /api/v1/invoices/{id}` shows the invoice: totals per currency, phases, fixed and AWS
   rows, last month's comparison and `checklist`, the ticks the invoice needs.
3. `GET /api/v1/invoices/{id}/entries?problem=no_category` lists the entries behind a tick;
   fix them in 10000ft and `POST /api/v1/syncs` to fetch them again.
4. Team lead: `POST /api/v1/invoices/{id}/comments` with `checked: true` and the ticks
   → state **Approved**.
5. Finance: fixed rows (`/api/v1/projects/{guid}/fixed-rows`, `/api/v1/invoices/{id}/fixed-rows`),
   then a comment with `invoice_number` → **Preview** (fixed rows are frozen), and with
   `invoice_sent_to_customer: true` → **Sent**. `GET /api/v1/invoices/{id}/hours.xlsx` (or `.csv`,
   `.pdf`) is the hour report to attach.

Errors are `application/problem+json` (RFC 9457).
"""

OPENAPI_TAGS: list[dict[str, Any]] = [
    {"name": "invoices", "description": "The month's invoices, their detail and the check form"},
    {"name": "fixed rows", "description": "Fixed fees and discounts on invoices"},
    {"name": "exports", "description": "Hour reports to attach to an invoice"},
    {"name": "tags", "description": "Free labels to sort invoices by"},
    {"name": "reports", "description": "Billing ratio, sick leaves, company and client figures"},
    {"name": "directory", "description": "Projects, clients and people"},
    {"name": "auth", "description": "Sign-in, who you are, personal API tokens (90 days)"},
    {
        "name": "access",
        "description": "Admins: people, groups, deactivation, anyone's tokens "
        "(as `invoice-checker user ...`)",
    },
    {
        "name": "operations",
        "description": "Notice batches, Slack sync, AWS import and account links, queued for "
        "the worker (202)",
    },
    {"name": "you", "description": "Your own hours: the unsubmitted ones, submitting them"},
]
