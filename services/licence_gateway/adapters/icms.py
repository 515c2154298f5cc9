"""The ICMS client: Hawk-signed JSON POSTs of licence outcomes and usage (reference §4, §11).

The body is serialised once, exactly as the original did (`json.dumps` defaults: ", " and ": "
separators, ASCII escapes), signed, and those same bytes are sent. The answer must carry a valid
`Server-Authorization` for the same request, or the call fails: an unsigned "OK" proves nothing.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urljoin

import httpx
import mohawk

from licence_gateway.domain.hawk import Credentials, HawkError, sign_request, verify_response
from licence_gateway.settings import LicenceGatewaySettings
from service_kit.settings import require_settings

logger = logging.getLogger(__name__)

LICENCE_REPLY_PATH = "chief/license-data-callback"  # sic: ICMS spells it "license"
USAGE_DATA_PATH = "chief/usage-data-callback"
CHECK_CONNECTION_PATH = "chief/check-icms-connection/"
HAWK_HEADER = "hawk-authentication"
CONTENT_TYPE = "application/json"


class IcmsError(Exception):
    """ICMS did not take the call. `transient` says whether sending it again later may work."""

    transient = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class IcmsUnavailableError(IcmsError):
    """Connection failed, timed out, or ICMS answered 5xx / 429: send again later."""

    transient = True


class IcmsRejectedError(IcmsError):
    """ICMS answered 4xx: the same body will be refused again; needs an operator."""


class IcmsSignatureError(IcmsError):
    """The answer's Server-Authorization is missing or wrong: it may not come from ICMS.

    Not transient by itself, but ICMS may or may not have applied the call; a later identical
    call is safe because ICMS records outcomes by licence id.
    """


def icms_json(body: Mapping[str, Any]) -> bytes:
    """The exact bytes ICMS gets: Python's json.dumps defaults, so `“` goes as `\\u201c`."""
    return json.dumps(body).encode("ascii")


class IcmsClient:
    """Calls ICMS over an httpx.AsyncClient the caller owns (created at startup, closed at exit)."""

    def __init__(
        self, http: httpx.AsyncClient, base_url: str, credentials: Credentials | None
    ) -> None:
        self._http = http
        self._base_url = base_url if base_url.endswith("/") else f"{base_url}/"
        self._credentials = credentials

    async def send_licence_reply(self, body: Mapping[str, Any]) -> None:
        """POST a licence reply body (§4.1: run_number, accepted, rejected)."""
        await self.post(LICENCE_REPLY_PATH, body)

    async def send_usage_data(self, body: Mapping[str, Any]) -> None:
        """POST a usage body (§4.2: usage_data)."""
        await self.post(USAGE_DATA_PATH, body)

    async def check_connection(self) -> None:
        """POST {"foo": "bar"} to ICMS's connection check; it must answer {"bar": "foo"}."""
        answer = await self.post(CHECK_CONNECTION_PATH, {"foo": "bar"})
        if answer != {"bar": "foo"}:
            raise IcmsRejectedError(f"Invalid response from ICMS: {answer!r}"[:300])

    async def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """Sign and POST `body`; return ICMS's parsed JSON answer (None if it is not JSON)."""
        url = urljoin(self._base_url, path)
        content = icms_json(body)
        headers = {"content-type": CONTENT_TYPE}
        sender = None
        if self._credentials is not None:
            sender = sign_request(
                self._credentials, method="POST", url=url, body=content, content_type=CONTENT_TYPE
            )
            headers[HAWK_HEADER] = sender.request_header
        try:
            response = await self._http.post(url, content=content, headers=headers)
        except httpx.TimeoutException as exc:
            raise IcmsUnavailableError(f"Timeout exceeded when sending request to {url}") from exc
        except httpx.TransportError as exc:
            raise IcmsUnavailableError(f"Cannot reach ICMS at {url}: {exc}") from exc

        status = response.status_code
        if status >= 500 or status == 429:
            raise IcmsUnavailableError(f"ICMS answered {status} to {url}", status=status)
        if not 200 <= status < 300:
            # ICMS refuses without signing (reference §4); a refusal is believed either way,
            # since acting on it changes nothing at ICMS.
            raise IcmsRejectedError(
                f"ICMS answered {status} to {url}: {response.text[:300]}", status=status
            )
        if sender is not None:
            _verify(sender, response, url)
        logger.info("ICMS accepted the call", extra={"url": url, "status": status})
        try:
            return response.json()
        except ValueError:
            return None


def _verify(sender: mohawk.Sender, response: httpx.Response, url: str) -> None:
    try:
        verify_response(
            sender,
            response.headers.get("server-authorization"),
            response.content,
            response.headers.get("content-type", ""),
        )
    except HawkError as exc:
        raise IcmsSignatureError(
            f"ICMS answered {response.status_code} to {url}, but {exc}",
            status=response.status_code,
        ) from exc


@asynccontextmanager
async def icms_client(settings: LicenceGatewaySettings) -> AsyncIterator[IcmsClient]:
    """An IcmsClient with its own connection pool for the life of the block (a lifespan or job
    startup). NotConfiguredError if the ICMS URL or the Hawk key is missing."""
    require_settings(settings, "The ICMS client", "icms_api_url")
    credentials = None
    if not settings.hawk_disabled:
        require_settings(settings, "Hawk signing of ICMS calls", "icms_hawk_key")
        key = settings.icms_hawk_key.get_secret_value().encode()
        credentials = Credentials(settings.icms_hawk_id, key)
    verify = ssl.create_default_context(cafile=settings.tls_ca_file or None)
    timeout = httpx.Timeout(settings.icms_timeout_seconds)
    async with httpx.AsyncClient(timeout=timeout, verify=verify) as http:
        yield IcmsClient(http, settings.icms_api_url, credentials)
