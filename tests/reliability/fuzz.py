"""Schemathesis against each service's OpenAPI: no 5xx, no answer outside the schema.

Every operation gets generated requests, valid and invalid (schemathesis positive and negative
modes). The apps run in-process on a real PostgreSQL database and Redis holding real data: a month
synced from the 10000ft stand-in (people, projects, invoices, hours) and licences ICMS sent
through the gateway. Half the path ids are real ones (from that data, and from what earlier
requests created: the stateful links), the rest generated. Requests go as each caller does, in
turn: the invoice checker as admin, finance, a team lead (of a synced project), an employee (a
synced person) and anonymously; the gateway's ICMS routes Hawk-signed, its admin routes with the
admin token, both also anonymously. Then every parameter of every operation gets boundary values
(year 1 and 9999, non-ASCII digits, huge and negative numbers, huge pages), each as every caller.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err
from sqlalchemy import text

from devtools.serving import BackgroundServer
from devtools.simulators.invoice_checker.oidc import serve_in_thread
from devtools.simulators.invoice_checker.tenkfeet import TenkfeetWorld
from devtools.simulators.invoice_checker.tenkfeet import create_app as create_tenkfeet
from devtools.simulators.licence_gateway.icms import IcmsSimulator
from invoice_checker.adapters.tenkfeet import TenkfeetClient
from invoice_checker.jobs.sync import sync_hours, sync_projects, sync_users
from invoice_checker.main import create_app as create_checker
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.store.auth import ensure_user, issue_credential
from invoice_checker.store.invoice_stats import refresh_invoice_stats
from licence_gateway.domain.hawk import Credentials, sign_request
from licence_gateway.main import create_app as create_gateway
from licence_gateway.settings import LicenceGatewaySettings
from service_kit.db import create_engine, create_sessionmaker
from tests.security.support import fill_path, operations
from tests.support.apps import app_client
from tests.support.database import migrated_database
from tests.support.infra import redis_url_for_db

BOUNDARY_VALUES = (
    "0001-01-01",
    "9999-12-31",
    "0001-01",
    "9999-12",
    "2018-02-30",
    "²",
    "١٢٣",  # Arabic-Indic digits
    "２０１８-０３-０１",  # fullwidth digits
    "0",
    "-1",
    "99999999999999999999",
    "2147483648",
    "1e309",
    "NaN",
)
SYNCED_MONTH = date(2018, 3, 1)
HAWK_KEY = "fuzz-hawk-key-0123456789abcdef"
ADMIN_TOKEN = "fuzz-admin-token-0123456789abcdef"
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
BASE_URL = "http://testserver"
OIDC_CLIENT_ID = "fuzz-client"
OIDC_CLIENT_SECRET = "fuzz-client-secret"


@dataclass
class FuzzReport:
    service: str
    cases: int = 0
    server_errors: int = 0
    schema_violations: int = 0
    examples: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"reliability fuzz-{self.service}: cases={self.cases} "
            f"server_errors={self.server_errors} schema_violations={self.schema_violations}"
        )


def generated_cases(app: FastAPI, per_operation: int) -> list[Case]:
    """Draw cases for every operation, half valid and half invalid by the schema."""
    schema = schemathesis.openapi.from_dict(app.openapi())
    cases: list[Case] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=max(1, per_operation // 2),
                database=None,
                deadline=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def collect(case: Case) -> None:
                cases.append(case)

            # Unsatisfiable: nothing invalid to generate (an operation with no inputs).
            with contextlib.suppress(Unsatisfiable):
                collect()
    return cases


def _body(kwargs: dict[str, Any]) -> tuple[bytes, str | None]:
    headers = kwargs.get("headers") or {}
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    if "json" in kwargs:
        return json.dumps(kwargs["json"]).encode(), content_type or "application/json"
    data = kwargs.get("data") or kwargs.get("content")
    if isinstance(data, str):
        return data.encode(), content_type
    if isinstance(data, bytes):
        return data, content_type
    if isinstance(data, dict):
        return httpx.QueryParams(data).__str__().encode(), "application/x-www-form-urlencoded"
    return b"", content_type


def prepared_request(case: Case, service: str) -> httpx.Request:
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    body, content_type = _body(kwargs)
    headers = {k: str(v) for k, v in (kwargs.get("headers") or {}).items()}
    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    if content_type:
        headers["Content-Type"] = content_type
    request = httpx.Request(
        kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=headers, content=body
    )
    path = request.url.path
    if service == "licence-gateway" and path.startswith("/mail/"):
        sender = sign_request(
            Credentials("icms-api", HAWK_KEY.encode()),
            method=request.method,
            url=str(request.url),
            body=body,
            content_type=content_type or "",
        )
        request.headers["Hawk-Authentication"] = sender.request_header
    elif service == "invoice-checker" or path.startswith("/admin/"):
        request.headers.setdefault("Authorization", f"Bearer {ADMIN_TOKEN}")
    return request


Ids = dict[str, list[str]]  # path parameter name -> real values


async def _sql(database_url: str, query: str) -> list[str]:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return [str(value) for value in (await connection.execute(text(query))).scalars()]
    finally:
        await engine.dispose()


async def synced_month(database_url: str) -> None:
    """A month of a seeded 10000ft account, synced as the worker would, stats refreshed."""
    world = TenkfeetWorld(
        seed=16,
        user_count=8,
        project_count=5,
        days=31,
        entries_per_day=12,
        start=SYNCED_MONTH,
        token="fuzz-tenkfeet",
    )
    engine = create_engine(database_url, pool_size=4)
    sessions = create_sessionmaker(engine)
    try:
        with BackgroundServer(create_tenkfeet(world)) as server:
            async with TenkfeetClient(server.url.rstrip("/"), "fuzz-tenkfeet") as client:
                await sync_users(sessions, client)
                await sync_projects(sessions, client)
                end = SYNCED_MONTH + timedelta(days=30)
                await sync_hours(sessions, client, SYNCED_MONTH, end)
        async with sessions() as session, session.begin():
            await refresh_invoice_stats(session)
    finally:
        await engine.dispose()


async def checker_callers(database_url: str) -> list[tuple[str, str | None]]:
    """(role, bearer token) for admin, finance, a lead of a synced project, a synced person,
    and anonymous."""
    lead = await _sql(
        database_url,
        "SELECT u.email FROM invoice_checker.project_admins a"
        " JOIN invoice_checker.tenkfeet_users u ON u.guid = a.user_guid ORDER BY u.email LIMIT 1",
    )
    person = await _sql(
        database_url, "SELECT email FROM invoice_checker.tenkfeet_users ORDER BY email LIMIT 1"
    )
    who = [
        ("admin", "fuzz-admin@example.com", ["admin"]),
        ("finance", "fuzz-finance@example.com", ["finance"]),
        ("team-lead", (lead or ["fuzz-lead@example.com"])[0], ["team-lead"]),
        ("employee", (person or ["fuzz-employee@example.com"])[0], ["employee"]),
    ]
    engine = create_engine(database_url, pool_size=1)
    callers: list[tuple[str, str | None]] = []
    async with create_sessionmaker(engine)() as session:
        for role, email, groups in who:
            user = await ensure_user(session, email, groups=groups)
            _credential, secret = await issue_credential(session, user, kind="api", name="fuzz")
            callers.append((role, secret))
        await session.commit()
    await engine.dispose()
    return [*callers, ("anonymous", None)]


async def checker_ids(database_url: str) -> Ids:
    queries = {
        "invoice_id": "SELECT id FROM invoice_checker.invoices",
        "project_guid": "SELECT guid FROM invoice_checker.projects",
        "user_guid": "SELECT guid FROM invoice_checker.tenkfeet_users",
        "client_id": "SELECT id FROM invoice_checker.clients",
        "run_id": "SELECT id FROM invoice_checker.sync_runs",
        "month": "SELECT DISTINCT to_char(date, 'YYYY-MM') FROM invoice_checker.invoices",
    }
    return {name: await _sql(database_url, query) for name, query in queries.items()}


async def gateway_ids(database_url: str) -> Ids:
    queries = {
        "payload_id": "SELECT id FROM licence_gateway.licence_payloads",
        "mail_id": "SELECT id FROM licence_gateway.mails",
    }
    return {name: await _sql(database_url, query) for name, query in queries.items()}


def learn_ids(ids: Ids, request: httpx.Request, response: httpx.Response) -> None:
    """Stateful links: an id a POST created serves later requests naming that resource."""
    if request.method != "POST" or response.status_code >= 300:
        return
    try:
        body = response.json()
    except ValueError:
        return
    if isinstance(body, dict) and body.get("id") is not None:
        segment = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        ids[re.sub(r"s$", "", segment).replace("-", "_") + "_id"].append(str(body["id"]))


def authorise(request: httpx.Request, service: str, caller: tuple[str, str | None]) -> None:
    """As `caller`: the invoice checker's bearer token; the gateway's Hawk or admin token, or
    nothing for anonymous."""
    role, token = caller
    if role == "anonymous":
        request.headers.pop("Authorization", None)
        request.headers.pop("Hawk-Authentication", None)
    elif service == "invoice-checker":
        request.headers["Authorization"] = f"Bearer {token}"


async def fuzz(
    service: str,
    per_operation: int,
    database_url: str,
    redis_url: str,
    oidc_issuer: str = "",
    seed: int = 1,
) -> FuzzReport:
    report = FuzzReport(service)
    rng = random.Random(f"{seed}:{service}")
    app: FastAPI
    if service == "licence-gateway":
        app = create_gateway(
            LicenceGatewaySettings(
                database_url=database_url,
                redis_url=redis_url,
                icms_hawk_key=HAWK_KEY,
                admin_token=ADMIN_TOKEN,
            )
        )
        callers: list[tuple[str, str | None]] = [
            ("icms-or-admin", ADMIN_TOKEN),
            ("anonymous", None),
        ]
    else:
        await synced_month(database_url)
        callers = await checker_callers(database_url)
        app = create_checker(
            InvoiceCheckerSettings(
                database_url=database_url,
                redis_url=redis_url,
                oidc_issuer_url=oidc_issuer,
                google_client_id=OIDC_CLIENT_ID,
                google_client_secret=OIDC_CLIENT_SECRET,
                allowed_domain="example.com",
                session_secret="fuzz-session-secret-0123456789abcdef",
                slack_signing_secret="fuzz-slack-signing-secret",
                slack_bot_token="xoxb-fuzz",
            )
        )
    cases = await asyncio.to_thread(generated_cases, app, per_operation)
    async with app_client(app, base_url=BASE_URL) as client:
        if service == "licence-gateway":
            await icms_sends(client, 40)
            ids = await gateway_ids(database_url)
        else:
            ids = await checker_ids(database_url)
        ids = defaultdict(list, ids)
        for number, case in enumerate(cases):
            for name in list(case.path_parameters or {}):
                if ids.get(name) and rng.random() < 0.5:
                    case.path_parameters[name] = rng.choice(ids[name])
            request = prepared_request(case, service)
            authorise(request, service, callers[number % len(callers)])
            response = await client.send(request)
            report.cases += 1
            learn_ids(ids, request, response)
            if response.status_code >= 500:
                report.server_errors += 1
                report.examples.append(f"{request.method} {request.url} -> {response.status_code}")
                continue
            if callers[number % len(callers)][0] not in ("admin", "icms-or-admin"):
                continue  # the schema is checked on full answers; other callers get 401/403/404
            try:
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:
                report.schema_violations += 1
                if len(report.examples) < 20:
                    first = " / ".join(str(exc).strip().splitlines()[:3])
                    report.examples.append(f"{request.method} {request.url.path}: {first}")
        await boundary_values(client, app, service, ids, callers, report, rng)
    return report


async def icms_sends(client: httpx.AsyncClient, count: int) -> None:
    """ICMS sends licences through the app, so the admin routes have payloads to show."""
    icms = IcmsSimulator(gateway_url=f"{BASE_URL}/", hawk_id="icms-api", hawk_key=HAWK_KEY)
    await icms.send(client, icms.new_licences(count), patience=30)


async def boundary_values(
    client: httpx.AsyncClient,
    app: FastAPI,
    service: str,
    ids: Ids,
    callers: list[tuple[str, str | None]],
    report: FuzzReport,
    rng: random.Random,
) -> None:
    """Every parameter of every operation, each boundary value, as every caller in turn; the
    other path parameters real where known."""
    number = 0
    for method, path, operation in operations(app.openapi()):
        if method != "GET":
            continue
        for parameter in operation.get("parameters", []):
            name, where = parameter["name"], parameter["in"]
            if where not in ("query", "path"):
                continue
            for value in BOUNDARY_VALUES:
                real = {k: rng.choice(v) for k, v in ids.items() if v}
                if where == "path":
                    url = fill_path(path, {**real, name: value})
                    params: dict[str, str] = {}
                else:
                    url = fill_path(path, real)
                    params = {name: value}
                if name in ("page", "page_size") and where == "query":
                    params = {name: "99999999999" if value == "0" else value}
                request = httpx.Request(method, f"{BASE_URL}{url}", params=params)
                caller = callers[number % len(callers)]
                number += 1
                if service == "licence-gateway" and url.startswith("/admin/"):
                    request.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
                authorise(request, service, caller)
                response = await client.send(request)
                report.cases += 1
                if response.status_code >= 500:
                    report.server_errors += 1
                    report.examples.append(
                        f"{caller[0]}: {request.method} {request.url} -> {response.status_code}"
                    )


async def run(per_operation: int, database: str, redis_db: int) -> list[FuzzReport]:
    database_url = await migrated_database(database)
    redis_url = redis_url_for_db(redis_db)
    # Every feature configured (sign-in against the OpenID Connect stand-in, Slack signing), so
    # no route answers "not configured" and the fuzzing reaches the real handlers.
    with serve_in_thread(client_id=OIDC_CLIENT_ID, client_secret=OIDC_CLIENT_SECRET) as issuer:
        return [
            # The gateway has few operations: more cases each, for as many in all.
            await fuzz("licence-gateway", per_operation * 4, database_url, redis_url),
            await fuzz("invoice-checker", per_operation, database_url, redis_url, issuer.issuer),
        ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-operation", type=int, default=40)
    parser.add_argument("--database", default="reliability_fuzz")
    parser.add_argument("--redis-db", type=int, default=10)
    args = parser.parse_args()
    reports = asyncio.run(run(args.per_operation, args.database, args.redis_db))
    for report in reports:
        for example in report.examples:
            print(f"# {report.service}: {example}", file=sys.stderr)
        print(report.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
