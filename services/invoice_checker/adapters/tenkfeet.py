"""The 10000ft (Resource Management by Smartsheet) API client: httpx, async.

- The token goes in the `auth` header (the docs' recommendation) and never in URLs or logs.
- Collections are `{"data": [...], "paging": {"next": ...}}`; `next` is a path relative to the
  host URL, followed until null.
- Hours are submitted for approval with `POST /api/v1/approvals`; 10000ft answers with an
  approval for each entry it accepted and leaves out the ones it refused (stale `updated_at`).
- 429 waits until `X-RateLimit-Reset` (epoch seconds); 5xx, timeouts, dropped connections and
  undecodable bodies are retried with exponential backoff; other 4xx fail at once.

Errors (all `TenkfeetError`):
    TenkfeetError
     ├── TenkfeetUnavailable   retries exhausted (rate limit, 5xx, timeouts, bad bodies)
     └── TenkfeetRejected      a 4xx other than 429 (bad token, unknown path)
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Self, TypeVar

import httpx
import orjson

logger = logging.getLogger(__name__)

Record = dict[str, Any]
Sleep = Callable[[float], Awaitable[None]]
Page = TypeVar("Page")

API = "/api/v1"
PAGE_SIZE = 1000  # the documented maximum for users; used for every collection but hours
TIME_ENTRY_PAGE_SIZE = 10000
MAX_BACKOFF_SECONDS = 30.0
MAX_RATE_LIMIT_WAIT_SECONDS = 120.0


class TenkfeetError(Exception):
    """Any failure talking to 10000ft; the message is one readable line."""


class TenkfeetUnavailable(TenkfeetError):
    pass


class TenkfeetRejected(TenkfeetError):
    def __init__(self, status: int, path: str, message: str) -> None:
        super().__init__(f"10000ft answered {status} for {path}: {message}")
        self.status = status


class _Retryable(Exception):
    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.wait = wait


def _rate_limit_wait(response: httpx.Response, now: float) -> float | None:
    reset: str | None = response.headers.get("X-RateLimit-Reset")
    try:
        return min(max(float(reset) - now, 0.0), MAX_RATE_LIMIT_WAIT_SECONDS) if reset else None
    except ValueError:
        return None


def _decode(body: bytes, path: str) -> Record:
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _Retryable(f"undecodable JSON from {path}") from None
    if not isinstance(decoded, dict):
        raise _Retryable(f"unexpected JSON from {path}: not an object")
    return decoded


def _next_path(page: Record) -> str | None:
    paging = page.get("paging")
    next_path = paging.get("next") if isinstance(paging, dict) else None
    return next_path if isinstance(next_path, str) and next_path else None


@dataclass(frozen=True, slots=True)
class RawPage:
    body: bytes
    next_path: str | None


def _raw_page(body: bytes, path: str) -> RawPage:
    """Find `paging.next` without decoding the items: when `paging` is the envelope's last
    member (as 10000ft sends it), only that tail is parsed; otherwise the whole body is."""
    marker = body.rfind(b'"paging":')
    tail = body[marker + len(b'"paging":') :].rstrip() if marker >= 0 else b""
    if tail.endswith(b"}"):
        try:
            paging = orjson.loads(tail[:-1])
        except orjson.JSONDecodeError:
            paging = None
        if isinstance(paging, dict) and "next" in paging:
            return RawPage(body, _next_path({"paging": paging}))
    return RawPage(body, _next_path(_decode(body, path)))


def decode_items(body: bytes) -> list[Record]:
    """The `data` items of a page fetched raw (its tail was checked, the rest may not be)."""
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise TenkfeetUnavailable(f"undecodable JSON from 10000ft: {exc}") from None
    data = decoded.get("data") if isinstance(decoded, dict) else None
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


class TenkfeetClient:
    """Use as `async with TenkfeetClient(url, token) as client: ...`."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 60.0,
        max_retries: int = 6,
        backoff_seconds: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        max_connections: int = 16,
    ) -> None:
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"auth": token, "accept": "application/json"},
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- transport -------------------------------------------------------------------------

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Record:
        """GET one page and decode it, retrying what is worth retrying."""
        return await self._request(path, params, _decode)

    async def get_raw(self, path: str, params: dict[str, Any] | None = None) -> RawPage:
        """GET one page without decoding its items: the body as sent, and `paging.next`."""
        return await self._request(path, params, _raw_page)

    async def post(self, path: str, body: Record) -> Record:
        """POST a JSON body and decode the answer. Retried like a GET: only used for requests
        that are harmless to repeat (a second submission of a pending entry changes nothing)."""
        return await self._request(path, None, _decode, body)

    async def _request(
        self,
        path: str,
        params: dict[str, Any] | None,
        read: Callable[[bytes, str], Page],
        body: Record | None = None,
    ) -> Page:
        for attempt in range(self.max_retries + 1):
            try:
                return read(await self._send_once(path, params, body), path)
            except _Retryable as exc:
                if attempt == self.max_retries:
                    raise TenkfeetUnavailable(
                        f"10000ft unavailable after {attempt + 1} attempts: {exc}"
                    ) from None
                wait = exc.wait if exc.wait is not None else self._backoff(attempt)
                logger.warning(
                    "10000ft request retried",
                    extra={"path": path, "reason": str(exc), "wait_s": round(wait, 2)},
                )
                await self._sleep(wait)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        base = min(self.backoff_seconds * 2.0**attempt, MAX_BACKOFF_SECONDS)
        return base * (0.5 + random.random() / 2)  # nosec B311 # jitter spreads retries; no secret

    async def _send_once(
        self, path: str, params: dict[str, Any] | None, body: Record | None
    ) -> bytes:
        try:
            if body is None:
                response = await self._http.get(path, params=params)
            else:
                response = await self._http.post(
                    path,
                    content=orjson.dumps(body),
                    headers={"content-type": "application/json"},
                )
        except httpx.TimeoutException:
            raise _Retryable(f"timeout on {path}") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection error on {path}: {exc!r}") from None
        status = response.status_code
        if status == 429:
            raise _Retryable(f"rate limited on {path}", _rate_limit_wait(response, time.time()))
        if status >= 500:
            raise _Retryable(f"{status} on {path}")
        if status >= 400:
            raise TenkfeetRejected(status, path, _error_message(response))
        return response.content

    async def fetch_all(self, path: str, params: dict[str, Any] | None = None) -> list[Record]:
        """Every item of a collection, following `paging.next` until it is null."""
        items: list[Record] = []
        next_path: str | None = path
        page_params = params
        while next_path:
            page = await self.get(next_path, page_params)
            data = page.get("data")
            if isinstance(data, list):
                items.extend(item for item in data if isinstance(item, dict))
            next_path = _next_path(page)
            page_params = None  # `next` carries its own query string
        return items

    async def fetch_all_raw(self, path: str, params: dict[str, Any] | None = None) -> list[bytes]:
        """The bodies of every page of a collection, undecoded (see `decode_items`)."""
        bodies: list[bytes] = []
        next_path: str | None = path
        page_params = params
        while next_path:
            page = await self.get_raw(next_path, page_params)
            bodies.append(page.body)
            next_path, page_params = page.next_path, None
        return bodies

    # --- endpoints -------------------------------------------------------------------------

    async def users(self) -> list[Record]:
        return await self.fetch_all(
            f"{API}/users", {"per_page": PAGE_SIZE, "with_archived": "true"}
        )

    async def projects_with_phases(self) -> list[Record]:
        """Parent projects and phases (a phase has a parent_id), archived included, with tags."""
        return await self.fetch_all(
            f"{API}/projects",
            {
                "per_page": PAGE_SIZE,
                "with_archived": "true",
                "with_phases": "true",
                "fields": "tags",
            },
        )

    async def leave_types(self) -> list[Record]:
        return await self.fetch_all(f"{API}/leave_types", {"per_page": PAGE_SIZE})

    async def holidays(self) -> list[Record]:
        return await self.fetch_all(f"{API}/holidays", {"per_page": PAGE_SIZE})

    async def time_entries(self, start: date, end: date) -> list[Record]:
        """Time entries of start..end (inclusive), with their approvals."""
        return await self.fetch_all(f"{API}/time_entries", _time_entry_params(start, end))

    async def time_entry_pages(self, start: date, end: date) -> list[bytes]:
        """The same, as undecoded page bodies: a sync checksums them and decodes only the
        days that changed."""
        return await self.fetch_all_raw(f"{API}/time_entries", _time_entry_params(start, end))

    async def submit_for_approval(self, entries: Sequence[Approvable]) -> list[Record]:
        """Submit time entries for approval (status "pending"; API users cannot approve).
        Returns the approvals 10000ft created or already had; an entry it refused is absent."""
        if not entries:
            return []
        page = await self.post(
            f"{API}/approvals",
            {"approvables": [entry.wire() for entry in entries], "status": "pending"},
        )
        data = page.get("data")
        return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


@dataclass(frozen=True, slots=True)
class Approvable:
    """A time entry to submit: 10000ft accepts it only with its current `updated_at`."""

    entry_id: int
    updated_at: datetime

    def wire(self) -> Record:
        return {"id": self.entry_id, "type": "TimeEntry", "updated_at": wire_time(self.updated_at)}


def wire_time(moment: datetime) -> str:
    """10000ft's time format: UTC, seconds, a `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time_entry_params(start: date, end: date) -> dict[str, Any]:
    return {
        "fields": "approvals",
        "from": start.isoformat(),
        "to": end.isoformat(),
        "per_page": TIME_ENTRY_PAGE_SIZE,
    }


def _error_message(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])[:200]
    return response.reason_phrase
