"""Helpers the security tests share: both apps running in-process, and OpenAPI walking."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from invoice_checker.main import create_app as create_invoice_checker
from invoice_checker.settings import InvoiceCheckerSettings
from licence_gateway.main import create_app as create_licence_gateway
from licence_gateway.settings import LicenceGatewaySettings
from tests.support.apps import app_client

ADMIN_TOKEN = "admin-token-for-security-tests"
HAWK_KEY = "hawk-key-for-security-tests"


def gateway_settings(database_url: str, redis_url: str, **changes: Any) -> LicenceGatewaySettings:
    settings = LicenceGatewaySettings(
        database_url=database_url,
        redis_url=redis_url,
        environment="test",
        admin_token=SecretStr(ADMIN_TOKEN),
        icms_hawk_key=SecretStr(HAWK_KEY),
    )
    return settings.model_copy(update=changes)


def checker_settings(database_url: str, redis_url: str, **changes: Any) -> InvoiceCheckerSettings:
    settings = InvoiceCheckerSettings(
        database_url=database_url, redis_url=redis_url, environment="test"
    )
    return settings.model_copy(update=changes)


@asynccontextmanager
async def running_gateway(
    settings: LicenceGatewaySettings, session: AsyncSession | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_licence_gateway(settings), session) as client:
        yield client


@asynccontextmanager
async def running_checker(
    settings: InvoiceCheckerSettings, session: AsyncSession | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_invoice_checker(settings), session) as client:
        yield client


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path template, operation) for every operation of an OpenAPI document."""
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method.upper(), path, operation


def fill_path(template: str, values: dict[str, str]) -> str:
    """The template with each {name} replaced by values[name], or "1" for names not given."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], "1"), template)
