"""Schemathesis against each service's OpenAPI: no 5xx, no answer outside the schema.

Every operation gets generated requests, valid and invalid (schemathesis positive and negative
modes). Requests are authenticated the way real callers are, so the fuzzing reaches past the door:
ICMS routes Hawk-signed, the gateway's admin routes and every invoice checker route with an admin
bearer token. The apps run in-process on a real PostgreSQL database and Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from dataclasses import dataclass, field
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

from invoice_checker.main import create_app as create_checker
from invoice_checker.settings import InvoiceCheckerSettings
from invoice_checker.simulators.oidc import serve_in_thread
from invoice_checker.store.auth import ensure_user, issue_credential
from licence_gateway.hawk import Credentials, sign_request
from licence_gateway.main import create_app as create_gateway
from licence_gateway.settings import LicenceGatewaySettings
from service_kit.db import create_engine, create_sessionmaker
from tests.support.apps import app_client
from tests.support.database import migrated_database
from tests.support.infra import redis_url_for_db

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


async def _admin_token(database_url: str) -> str:
    engine = create_engine(database_url, pool_size=1)
    async with create_sessionmaker(engine)() as session:
        user = await ensure_user(session, "fuzz-admin@example.com", groups=["admin"])
        _credential, secret = await issue_credential(session, user, kind="api", name="fuzz")
        await session.commit()
    await engine.dispose()
    return secret


async def fuzz(
    service: str,
    per_operation: int,
    database_url: str,
    redis_url: str,
    oidc_issuer: str = "",
) -> FuzzReport:
    report = FuzzReport(service)
    token = ADMIN_TOKEN
    if service == "licence-gateway":
        app = create_gateway(
            LicenceGatewaySettings(
                database_url=database_url,
                redis_url=redis_url,
                icms_hawk_key=HAWK_KEY,
                admin_token=ADMIN_TOKEN,
            )
        )
    else:
        token = await _admin_token(database_url)
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
        for case in cases:
            request = prepared_request(case, service)
            if "Authorization" in request.headers and token != ADMIN_TOKEN:
                request.headers["Authorization"] = f"Bearer {token}"
            response = await client.send(request)
            report.cases += 1
            if response.status_code >= 500:
                report.server_errors += 1
                report.examples.append(f"{request.method} {request.url} -> {response.status_code}")
                continue
            try:
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:
                report.schema_violations += 1
                if len(report.examples) < 20:
                    first = " / ".join(str(exc).strip().splitlines()[:3])
                    report.examples.append(f"{request.method} {request.url.path}: {first}")
    return report


async def run(per_operation: int, database: str) -> list[FuzzReport]:
    database_url = await migrated_database(database)
    redis_url = redis_url_for_db(14)
    # Every feature configured (sign-in against the OpenID Connect stand-in, Slack signing), so
    # no route answers "not configured" and the fuzzing reaches the real handlers.
    with serve_in_thread(client_id=OIDC_CLIENT_ID, client_secret=OIDC_CLIENT_SECRET) as issuer:
        return [
            await fuzz("licence-gateway", per_operation, database_url, redis_url),
            await fuzz("invoice-checker", per_operation, database_url, redis_url, issuer.issuer),
        ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-operation", type=int, default=40)
    parser.add_argument("--database", default="reliability_fuzz")
    args = parser.parse_args()
    reports = asyncio.run(run(args.per_operation, args.database))
    for report in reports:
        for example in report.examples:
            print(f"# {report.service}: {example}", file=sys.stderr)
        print(report.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
