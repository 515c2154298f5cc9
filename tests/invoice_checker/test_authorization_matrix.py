"""Every route of the app's OpenAPI, called by every role and by anonymous callers, against a
declared matrix. A route without a rule fails the test, so a new route cannot ship unguarded.

"Allowed" means the caller got past authentication and authorisation (any status but 401/403:
a 404 or 422 for the dummy arguments is fine); "denied" means exactly 401 (anonymous) or 403.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Literal

import httpx
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.domain.permissions import GROUPS, Permission
from invoice_checker.main import create_app
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.directory import TenkfeetUser
from invoice_checker.store.workflow import InvoiceFixedRow, ProjectFixedRow
from tests.invoice_checker.invoice_factories import (
    ROLES,
    bearer,
    make_invoice,
    make_project,
    make_token,
)
from tests.support.apps import app_client

Rule = Permission | Literal["public", "signed-in", "slack-signature"]
P = Permission

MATRIX: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): "public",
    ("GET", "/readyz"): "public",
    # Sign-in and your own credentials.
    ("GET", "/api/v1/auth/login"): "public",
    ("GET", "/api/v1/auth/callback"): "public",
    ("POST", "/api/v1/auth/logout"): "signed-in",
    ("GET", "/api/v1/auth/me"): "signed-in",
    ("GET", "/api/v1/auth/tokens"): "signed-in",
    ("POST", "/api/v1/auth/tokens"): "signed-in",
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): "signed-in",
    # Access administration: people, groups, anyone's tokens.
    ("GET", "/api/v1/access/users"): P.MANAGE_ACCESS,
    ("GET", "/api/v1/access/users/{email}"): P.MANAGE_ACCESS,
    ("PUT", "/api/v1/access/users/{email}/groups/{group}"): P.MANAGE_ACCESS,
    ("DELETE", "/api/v1/access/users/{email}/groups/{group}"): P.MANAGE_ACCESS,
    ("POST", "/api/v1/access/users/{email}/deactivate"): P.MANAGE_ACCESS,
    ("POST", "/api/v1/access/users/{email}/reactivate"): P.MANAGE_ACCESS,
    ("GET", "/api/v1/access/groups"): P.MANAGE_ACCESS,
    ("GET", "/api/v1/access/tokens"): P.MANAGE_ACCESS,
    ("DELETE", "/api/v1/access/tokens/{token_id}"): P.MANAGE_ACCESS,
    # Operations: notices and Slack (can_send_notifications), AWS (can_manage_access).
    ("POST", "/api/v1/notices/{kind}"): P.SEND_NOTIFICATIONS,
    ("POST", "/api/v1/slack-sync"): P.SEND_NOTIFICATIONS,
    ("POST", "/api/v1/aws-imports"): P.MANAGE_ACCESS,
    ("PUT", "/api/v1/projects/{project_guid}/aws-accounts/{linked_account_id}"): P.MANAGE_ACCESS,
    ("DELETE", "/api/v1/projects/{project_guid}/aws-accounts/{linked_account_id}"): P.MANAGE_ACCESS,
    # Invoices and the checking workflow.
    ("GET", "/api/v1/invoices"): P.VIEW_INVOICES,
    ("GET", "/api/v1/invoices/{invoice_id}"): P.VIEW_INVOICES,
    ("GET", "/api/v1/invoices/{invoice_id}/entries"): P.VIEW_INVOICES,
    ("GET", "/api/v1/invoices/{invoice_id}/history"): P.VIEW_INVOICES,
    ("GET", "/api/v1/invoices/{invoice_id}/comments"): P.VIEW_INVOICES,
    ("POST", "/api/v1/invoices/{invoice_id}/comments"): P.CHECK_INVOICES,
    ("GET", "/api/v1/invoices/{invoice_id}/hours.{file_format}"): P.VIEW_INVOICES,
    ("GET", "/api/v1/invoices/{invoice_id}/fixed-rows"): P.VIEW_INVOICES,
    ("POST", "/api/v1/invoices/{invoice_id}/fixed-rows"): P.EDIT_FIXED_ROWS,
    ("PUT", "/api/v1/invoices/{invoice_id}/fixed-rows/{row_id}"): P.EDIT_FIXED_ROWS,
    ("DELETE", "/api/v1/invoices/{invoice_id}/fixed-rows/{row_id}"): P.EDIT_FIXED_ROWS,
    ("GET", "/api/v1/projects/{project_guid}/fixed-rows"): P.VIEW_INVOICES,
    ("POST", "/api/v1/projects/{project_guid}/fixed-rows"): P.EDIT_FIXED_ROWS,
    ("PUT", "/api/v1/projects/{project_guid}/fixed-rows/{row_id}"): P.EDIT_FIXED_ROWS,
    ("DELETE", "/api/v1/projects/{project_guid}/fixed-rows/{row_id}"): P.EDIT_FIXED_ROWS,
    ("GET", "/api/v1/tags"): P.VIEW_INVOICES,
    ("PUT", "/api/v1/invoices/{invoice_id}/tags/{tag}"): P.CHECK_INVOICES,
    ("DELETE", "/api/v1/invoices/{invoice_id}/tags/{tag}"): P.CHECK_INVOICES,
    # Hours and syncs.
    # Rows: your own hours; a team lead's projects' hours; everyone's (test_row_scopes.py).
    ("GET", "/api/v1/hour-entries"): "signed-in",
    # Any sync with can_run_sync; a team lead resyncs the hours of a project they lead.
    ("POST", "/api/v1/syncs"): P.VIEW_INVOICES,
    ("GET", "/api/v1/syncs"): P.VIEW_INVOICES,
    ("GET", "/api/v1/syncs/{run_id}"): P.VIEW_INVOICES,
    # Directory and reports.
    ("GET", "/api/v1/projects"): P.VIEW_DIRECTORY,
    ("GET", "/api/v1/projects/{project_guid}"): P.VIEW_DIRECTORY,
    ("GET", "/api/v1/clients"): P.VIEW_DIRECTORY,
    ("GET", "/api/v1/clients/{client_id}"): P.VIEW_DIRECTORY,
    ("GET", "/api/v1/users"): P.VIEW_REPORTS,
    ("GET", "/api/v1/users/{user_guid}"): "signed-in",  # your own; anyone's: can_view_reports
    ("GET", "/api/v1/reports/billing-ratio"): P.VIEW_REPORTS,
    ("GET", "/api/v1/reports/sick-leaves"): P.SEE_SICK_LEAVES,
    ("GET", "/api/v1/reports/company"): P.VIEW_REPORTS,
    ("GET", "/api/v1/reports/clients"): P.VIEW_REPORTS,
    ("GET", "/api/v1/reports/front-page"): "signed-in",
    # Flex hours: another person's need can_see_flex_saldos (your own: signed-in).
    ("GET", "/api/v1/users/{user_guid}/flex"): P.SEE_FLEX_SALDOS,
    ("GET", "/api/v1/users/{user_guid}/contracts"): P.SEE_FLEX_SALDOS,
    ("POST", "/api/v1/users/{user_guid}/contracts"): P.SEE_FLEX_SALDOS,
    ("PUT", "/api/v1/contracts/{contract_id}"): P.SEE_FLEX_SALDOS,
    ("DELETE", "/api/v1/contracts/{contract_id}"): P.SEE_FLEX_SALDOS,
    ("GET", "/api/v1/users/{user_guid}/flex-corrections"): P.SEE_FLEX_SALDOS,
    ("POST", "/api/v1/users/{user_guid}/flex-corrections"): P.SEE_FLEX_SALDOS,
    ("PUT", "/api/v1/flex-corrections/{correction_id}"): P.SEE_FLEX_SALDOS,
    ("DELETE", "/api/v1/flex-corrections/{correction_id}"): P.SEE_FLEX_SALDOS,
    # Your own hours: only ever the caller's own entries.
    ("GET", "/api/v1/you/hours/unsubmitted"): "signed-in",
    ("POST", "/api/v1/you/hours/submit"): "signed-in",
    # Slack calls these, proving itself with its request signature; no user ever can.
    ("POST", "/api/v1/slack/flex-hours"): "slack-signature",
    ("POST", "/api/v1/slack/events"): "slack-signature",
}

CALLERS = (*ROLES, "anonymous")


def expected(rule: Rule, caller: str) -> Literal["allow", 401, 403]:
    if rule == "public":
        return "allow"
    if rule == "slack-signature" or caller == "anonymous":
        return 401
    if rule == "signed-in" or rule in GROUPS[caller]:
        return "allow"
    return 403


def app_routes(app_schema: dict[str, object]) -> set[tuple[str, str]]:
    paths = app_schema["paths"]
    assert isinstance(paths, dict)
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


async def test_every_route_has_a_rule(ic_client: httpx.AsyncClient) -> None:
    schema = (await ic_client.get("/openapi.json")).json()
    routes = app_routes(schema)
    assert routes - MATRIX.keys() == set(), "routes without a rule in MATRIX"
    assert MATRIX.keys() - routes == set(), "rules for routes that no longer exist"


@pytest_asyncio.fixture
async def client(
    ic_settings: InvoiceCheckerSettings, db_session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    """Every feature configured, so each route reaches its own guard."""
    settings = ic_settings.model_copy(update={"slack_signing_secret": SecretStr("matrix")})
    async with app_client(create_app(settings), db_session) as running:
        yield running


async def test_every_role_against_every_route(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    project = await make_project(db_session)
    invoice = await make_invoice(db_session, project, date(2026, 10, 1))
    someone_else = TenkfeetUser(
        guid=uuid.uuid4(),
        user_id=uuid.uuid4().int % 10**8,
        email=f"someone.else.{uuid.uuid4().hex[:6]}@example.com",
        created_at=datetime(2017, 1, 1, tzinfo=UTC),
    )
    project_row = ProjectFixedRow(project_guid=project.guid, description="Fee", price=1.0)
    invoice_row = InvoiceFixedRow(invoice_id=invoice.id, description="Fee", price=1.0)
    db_session.add_all([someone_else, project_row, invoice_row])
    await db_session.flush()
    values = {
        "invoice_id": str(invoice.id),
        "project_guid": str(project.guid),
        "user_guid": str(someone_else.guid),
        "client_id": str(project.client_id),
        "file_format": "csv",
        "tag": "matrix",
        "token_id": "999999",
        "email": "nobody@example.com",
        "group": "employee",
        "kind": "flex",
        "linked_account_id": "000000000000",
        "run_id": "999999",
        "contract_id": "999999",
        "correction_id": "999999",
    }
    headers: dict[str, dict[str, str]] = {"anonymous": {}} | {
        role: {**bearer(await make_token(db_session, role)), "Origin": "http://testserver"}
        for role in ROLES
    }
    # Row ids differ per caller so one caller's DELETE does not change another's answer.
    wrong: list[str] = []
    for (method, template), rule in sorted(MATRIX.items()):
        for caller in CALLERS:
            path = re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], "1"), template)
            path = path.replace("/fixed-rows/1", "/fixed-rows/999999")
            body: dict[str, object] | None = {} if method in {"POST", "PUT"} else None
            response = await client.request(method, path, json=body, headers=headers[caller])
            want = expected(rule, caller)
            got = response.status_code
            ok = got not in (401, 403) if want == "allow" else got == want
            if not ok:
                wrong.append(f"{method} {template} as {caller}: got {got}, want {want}")
            if got in (401, 403):
                assert response.headers["content-type"] == "application/problem+json"
    assert wrong == []
