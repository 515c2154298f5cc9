"""A stand-in for ICMS: sends licences to the gateway and receives the outcomes back.

Outbound, like ICMS: compact JSON (pydantic's `model_dump_json`), signed with mohawk's `Sender`
(sha256, application/json) and sent in `Hawk-Authentication` (and, as ICMS does, `Authorization`);
the gateway's `Server-Authorization` must verify. Inbound, like ICMS: `chief/license-data-callback`
and `chief/usage-data-callback` checked with mohawk's `Receiver` (nonces remembered), answered with
a signed `Server-Authorization`; a body ICMS's models would refuse gets an unsigned 422 `{}`.

Every outcome is recorded. A licence is final once accepted or rejected; a later, different
outcome for it is a conflict (kept apart, never overwriting the first). `/` shows an HTML page,
`/status.json` the same as JSON.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urljoin

import httpx
import mohawk
from mohawk.exc import CredentialsLookupError, HawkFail
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from devtools.simulators.licence_gateway.icms_licences import LicenceFactory
from licence_gateway.domain.hawk import HawkError, verify_response

logger = logging.getLogger(__name__)

UPDATE_LICENCE_PATH = "mail/update-licence/"
NONCE_TTL_SECONDS = 120
Fault = Literal["none", "error_500", "hang", "bad_signature", "unsigned"]


@dataclass
class LicenceRecord:
    licence: dict[str, Any]
    sent_at: str | None = None
    post_status: int | None = None
    post_error: str | None = None
    outcome: Literal["accepted", "rejected"] | None = None
    run_number: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "reference": self.licence["reference"],
            "type": self.licence["type"],
            "action": self.licence["action"],
            "sent_at": self.sent_at,
            "post_status": self.post_status,
            "post_error": self.post_error,
            "outcome": self.outcome,
            "run_number": self.run_number,
            "errors": self.errors,
        }


@dataclass
class IcmsSimulator:
    """The simulator's whole state; the app reads and changes it, tests inspect it."""

    gateway_url: str
    hawk_id: str
    hawk_key: str
    seed: int = 0
    callback_hawk_id: str | None = None  # defaults to the same pair, as in production
    callback_hawk_key: str | None = None
    fault: Fault = "none"  # how callbacks are answered, to test the gateway's ICMS client
    hang_seconds: float = 5.0
    # ICMS ids whose outcome ICMS cannot take (unknown id, application in the wrong state):
    # a licence callback naming any of them is refused whole with 422 `{}`, as ICMS does.
    refuse_ids: set[str] = field(default_factory=set)
    refused_callbacks: int = 0
    licences: dict[str, LicenceRecord] = field(default_factory=dict)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    unknown_outcomes: list[dict[str, Any]] = field(default_factory=list)
    usage: list[dict[str, Any]] = field(default_factory=list)
    callbacks: int = 0
    _factory: LicenceFactory | None = None
    _nonces: dict[tuple[str, str, str], float] = field(default_factory=dict)

    # --- sending ---------------------------------------------------------------------------

    def new_licences(self, count: int) -> list[LicenceRecord]:
        """The next `count` licences of the seeded sequence, registered as not yet sent."""
        if self._factory is None:
            self._factory = LicenceFactory(self.seed)
        records = [LicenceRecord(licence) for licence in self._factory.take(count)]
        for record in records:
            self.licences[record.licence["id"]] = record
        return records

    async def send(
        self, http: httpx.AsyncClient, records: list[LicenceRecord], *, patience: float = 60
    ) -> None:
        """POST each licence in order; retry while the gateway is down, `patience` s in all."""
        deadline = time.monotonic() + patience
        for record in records:
            await self._send_one(http, record, deadline)

    async def _send_one(
        self, http: httpx.AsyncClient, record: LicenceRecord, deadline: float
    ) -> None:
        delay = 0.2
        while True:
            try:
                response = await self.post_once(http, record, self.gateway_url)
            except httpx.TransportError:
                response = None
            if (response is None or response.status_code >= 500) and time.monotonic() < deadline:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 3)
                continue
            return

    async def post_once(
        self, http: httpx.AsyncClient, record: LicenceRecord, gateway_url: str
    ) -> httpx.Response:
        """One signed POST of a licence to `gateway_url`, recorded on `record`; a transport
        error is recorded and raised."""
        url = urljoin(gateway_url, UPDATE_LICENCE_PATH)
        # ICMS serialises with pydantic's model_dump_json: compact, UTF-8, nothing escaped.
        body = json.dumps(
            {"licence": record.licence}, separators=(",", ":"), ensure_ascii=False
        ).encode()
        sender = mohawk.Sender(
            self._credentials(self.hawk_id, self.hawk_key),
            url,
            "POST",
            content=body,
            content_type="application/json",
        )
        headers = {
            "Content-Type": "application/json",
            "Hawk-Authentication": sender.request_header,
            "Authorization": sender.request_header,
        }
        try:
            response = await http.post(url, content=body, headers=headers)
        except httpx.TransportError as exc:
            record.post_error = f"{type(exc).__name__}: {exc}"
            raise
        record.sent_at = datetime.now(UTC).isoformat(timespec="seconds")
        record.post_status = response.status_code
        record.post_error = _response_problem(sender, response)
        return response

    # --- receiving -------------------------------------------------------------------------

    def record_licence_reply(self, body: dict[str, Any]) -> None:
        run_number = str(body["run_number"])
        for item in body["accepted"]:
            self._record(str(item["id"]), "accepted", run_number, [])
        for item in body["rejected"]:
            self._record(str(item["id"]), "rejected", run_number, list(item["errors"]))

    def _record(
        self,
        licence_id: str,
        outcome: Literal["accepted", "rejected"],
        run_number: str,
        errors: list[dict[str, Any]],
    ) -> None:
        record = self.licences.get(licence_id)
        entry = {"id": licence_id, "outcome": outcome, "run_number": run_number}
        if record is None:
            self.unknown_outcomes.append(entry)
        elif record.outcome is None:
            record.outcome, record.run_number, record.errors = outcome, run_number, errors
        elif record.outcome != outcome:
            self.conflicts.append({**entry, "first_outcome": record.outcome})

    def status(self) -> dict[str, Any]:
        records = self.licences.values()
        return {
            "licences": {
                licence_id: record.as_json() for licence_id, record in self.licences.items()
            },
            "totals": {
                "licences": len(self.licences),
                "sent": sum(1 for r in records if r.post_status in (200, 201)),
                "final": sum(1 for r in records if r.outcome is not None),
                "accepted": sum(1 for r in records if r.outcome == "accepted"),
                "rejected": sum(1 for r in records if r.outcome == "rejected"),
                "conflicts": len(self.conflicts),
                "unknown_outcomes": len(self.unknown_outcomes),
                "usage_entries": len(self.usage),
                "callbacks": self.callbacks,
            },
            "conflicts": self.conflicts,
            "unknown_outcomes": self.unknown_outcomes,
            "usage": self.usage,
        }

    # --- Hawk ------------------------------------------------------------------------------

    @staticmethod
    def _credentials(hawk_id: str, key: str) -> dict[str, str]:
        return {"id": hawk_id, "key": key, "algorithm": "sha256"}

    def callback_receiver(self, request: Request, body: bytes) -> mohawk.Receiver:
        """Verify a callback the way ICMS does; raises HawkFail."""
        hawk_id = self.callback_hawk_id or self.hawk_id
        key = self.callback_hawk_key or self.hawk_key

        def lookup(sender_id: str) -> dict[str, str]:
            if sender_id != hawk_id:
                raise CredentialsLookupError(f"No Hawk ID of {sender_id}")
            return self._credentials(hawk_id, key)

        return mohawk.Receiver(
            lookup,
            request.headers.get("hawk-authentication", ""),
            str(request.url),
            request.method,
            content=body,
            content_type=request.headers.get("content-type", ""),
            seen_nonce=self._seen_nonce,
        )

    def _seen_nonce(self, sender_id: str, nonce: str, timestamp: str) -> bool:
        now = time.monotonic()
        self._nonces = {k: t for k, t in self._nonces.items() if now - t < NONCE_TTL_SECONDS}
        key = (sender_id, nonce, timestamp)
        seen = key in self._nonces
        self._nonces[key] = now
        return seen


def _response_problem(sender: mohawk.Sender, response: httpx.Response) -> str | None:
    """Why the gateway's answer is not a good one, or None."""
    header = response.headers.get("server-authorization")
    if not header:
        return "no Server-Authorization"
    try:
        verify_response(
            sender,
            header,
            response.content,
            response.headers.get("content-type", ""),
        )
    except HawkError as exc:
        return f"Server-Authorization does not verify: {exc}"
    if response.status_code not in (200, 201):
        return f"HTTP {response.status_code}: {response.text[:300]}"
    return None


def _valid_reply(body: Any) -> bool:
    """What ICMS's pydantic model accepts: run_number an int (string of digits), ids, errors."""
    try:
        int(body["run_number"])
        for item in body["accepted"]:
            str(item["id"])
        for item in body["rejected"]:
            for error in item["errors"]:
                int(error["error_code"])
                str(error["error_msg"])
    except (KeyError, TypeError, ValueError):
        return False
    return True


def _valid_usage(body: Any) -> bool:
    try:
        return all(
            isinstance(entry["licence_ref"], str) and isinstance(entry["licence_status"], str)
            for entry in body["usage_data"]
        )
    except (KeyError, TypeError):
        return False


def create_app(
    simulator: IcmsSimulator, *, send_on_start: int = 0, patience: float = 60
) -> Starlette:
    """The ICMS simulator app. With `send_on_start`, that many licences go out once it is up."""

    async def hawk_endpoint(request: Request, handle: Any) -> Response:
        body = await request.body()
        try:
            receiver = simulator.callback_receiver(request, body)
        except HawkFail as exc:
            logger.info("ICMS simulator refused a callback: %s", exc)
            return JSONResponse({"detail": "Failed HAWK authentication"}, status_code=401)
        simulator.callbacks += 1
        if simulator.fault == "error_500":
            return JSONResponse({"detail": "Internal Server Error"}, status_code=500)
        if simulator.fault == "hang":
            await asyncio.sleep(simulator.hang_seconds)
        try:
            parsed = json.loads(body)
        except ValueError:
            return JSONResponse({}, status_code=400)
        answer = handle(parsed)
        if answer is None:
            return JSONResponse({}, status_code=422)  # unsigned, as ICMS answers its errors
        response = JSONResponse(answer)
        if simulator.fault == "unsigned":
            return response
        signature = receiver.respond(content=response.body, content_type="application/json")
        if simulator.fault == "bad_signature":
            signature = signature.replace('mac="', 'mac="X', 1)
        # ICMS appends nonce and ts so mohawk's accept_response takes it (mohawk issue #50).
        nonce = receiver.parsed_header["nonce"]
        response.headers["Server-Authorization"] = (
            f'{signature}, nonce="{nonce}", ts="{int(time.time())}"'
        )
        return response

    def licence_reply(body: Any) -> dict[str, Any] | None:
        if not _valid_reply(body):
            return None
        named = {str(item["id"]) for kind in ("accepted", "rejected") for item in body[kind]}
        if named & simulator.refuse_ids:
            simulator.refused_callbacks += 1
            return None  # ICMS rolls back the whole run
        simulator.record_licence_reply(body)
        return {}

    def usage(body: Any) -> dict[str, Any] | None:
        if not _valid_usage(body):
            return None
        simulator.usage.extend(body["usage_data"])
        return {}

    def check(body: Any) -> dict[str, Any] | None:
        return {"bar": "foo"} if body == {"foo": "bar"} else None

    async def licence_reply_endpoint(request: Request) -> Response:
        return await hawk_endpoint(request, licence_reply)

    async def usage_endpoint(request: Request) -> Response:
        return await hawk_endpoint(request, usage)

    async def check_endpoint(request: Request) -> Response:
        return await hawk_endpoint(request, check)

    async def send_more(request: Request) -> Response:
        count = int(request.query_params.get("count", "1"))
        if not 1 <= count <= 10_000:
            return JSONResponse({"detail": "count must be 1..10000"}, status_code=400)
        records = simulator.new_licences(count)
        await simulator.send(request.app.state.http, records, patience=patience)
        return JSONResponse({"sent": [record.licence["id"] for record in records]})

    async def status_json(request: Request) -> Response:
        return JSONResponse(simulator.status())

    async def status_page(request: Request) -> Response:
        return HTMLResponse(_status_html(simulator.status()))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=30) as http:
            app.state.http = http
            sending = None
            if send_on_start:
                records = simulator.new_licences(send_on_start)
                sending = asyncio.create_task(simulator.send(http, records, patience=patience))
            try:
                yield
            finally:
                if sending is not None:
                    sending.cancel()
                    with suppress(asyncio.CancelledError):
                        await sending

    return Starlette(
        routes=[
            Route("/", status_page),
            Route("/status.json", status_json),
            Route("/send", send_more, methods=["POST"]),
            Route("/chief/license-data-callback", licence_reply_endpoint, methods=["POST"]),
            Route("/chief/usage-data-callback", usage_endpoint, methods=["POST"]),
            Route("/chief/check-icms-connection/", check_endpoint, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


def _status_html(status: dict[str, Any]) -> str:
    totals = status["totals"]
    summary = " · ".join(f"{name} {value}" for name, value in totals.items())
    rows = "\n".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(value))}</td>"
            for value in (
                licence_id,
                item["reference"],
                item["type"],
                item["action"],
                item["sent_at"] or "",
                item["post_error"] or item["post_status"] or "",
                item["outcome"] or "waiting",
                item["run_number"] or "",
            )
        )
        + "</tr>"
        for licence_id, item in status["licences"].items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">
<title>ICMS simulator</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 8px;text-align:left}}
tr:nth-child(even){{background:#f3f3f3}}</style></head>
<body><h1>ICMS simulator</h1><p>{html.escape(summary)}</p>
<table><tr><th>id</th><th>reference</th><th>type</th><th>action</th><th>sent at</th>
<th>gateway answer</th><th>outcome</th><th>run</th></tr>
{rows}
</table></body></html>
"""
