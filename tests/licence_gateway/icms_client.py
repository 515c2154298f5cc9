"""A test client that behaves like ICMS: mohawk-signed POSTs, Server-Authorization checked."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import mohawk
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from licence_gateway.main import create_app
from licence_gateway.settings import LicenceGatewaySettings
from tests.support.apps import app_client

HAWK_ID = "icms-api"
HAWK_KEY = "a-long-random-key-shared-with-icms"
BASE_URL = "http://testserver"


def with_hawk_key(settings: LicenceGatewaySettings, **changes: Any) -> LicenceGatewaySettings:
    return settings.model_copy(update={"icms_hawk_key": SecretStr(HAWK_KEY), **changes})


def credentials(key: str = HAWK_KEY, id_: str = HAWK_ID) -> dict[str, str]:
    return {"id": id_, "key": key, "algorithm": "sha256"}


@dataclass
class Signed:
    response: httpx.Response
    sender: mohawk.Sender

    def accept(self) -> None:
        """Check the answer's Server-Authorization exactly as ICMS does (raises if it fails)."""
        self.sender.accept_response(
            self.response.headers["Server-Authorization"],
            content=self.response.content,
            content_type=self.response.headers["Content-Type"],
        )


class IcmsClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(
        self,
        path: str,
        body: bytes | str | dict[str, Any] | list[Any],
        *,
        content_type: str = "application/json",
        header: str = "Hawk-Authentication",
        signed_url: str | None = None,
        signed_body: bytes | None = None,
        signed_content_type: str | None = None,
        **sender_options: Any,
    ) -> Signed:
        """POST `body` signed with mohawk; the signed_* options sign something else (tampering)."""
        if isinstance(body, dict | list):
            content = json.dumps(body).encode()
        else:
            content = body.encode() if isinstance(body, str) else body
        options = {"credentials": credentials()} | sender_options
        sender = mohawk.Sender(
            options.pop("credentials"),
            signed_url or str(self.http.base_url).rstrip("/") + path,
            "POST",
            content=content if signed_body is None else signed_body,
            content_type=signed_content_type or content_type,
            **options,
        )
        response = await self.http.post(
            path,
            content=content,
            headers={"Content-Type": content_type, header: sender.request_header},
        )
        return Signed(response, sender)


@asynccontextmanager
async def icms_client(
    settings: LicenceGatewaySettings, session: AsyncSession | None, base_url: str = BASE_URL
) -> AsyncIterator[IcmsClient]:
    async with app_client(create_app(settings), session, base_url=base_url) as http:
        yield IcmsClient(http)
