"""Hawk (sha256) as ICMS speaks it: the header scheme, checking a request, signing an answer, and
signing our own calls. Pure: no I/O (the nonce store is the server's, in `api.hawk_route`).

The server's check is written out here rather than through mohawk's `Receiver`, which
pretty-prints every body into a debug message whether or not debug logging is on, costing more
than the whole check. It follows the Hawk 1 header scheme exactly; tests check that mohawk's
`Sender` is accepted and that mohawk's `accept_response` accepts what we sign, both ways. Our own
calls to ICMS are signed and checked with mohawk itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import mohawk
from mohawk.exc import HawkFail

ALGORITHM = "sha256"
TIMESTAMP_SKEW_SECONDS = 60
# A request stays valid until its ts is SKEW seconds in the past, and its ts may be SKEW seconds
# in the future: remembering a nonce for twice the skew covers the whole time it could be replayed.
NONCE_TTL_SECONDS = 2 * TIMESTAMP_SKEW_SECONDS
MAX_HEADER_LENGTH = 4096
REQUEST_HEADERS = ("hawk-authentication", "authorization")

_ATTRIBUTE = re.compile(r'(\w+)="([^"\\]*)"\s*(?:,\s*|$)')
_ALLOWED_VALUE = re.compile(r"[ a-zA-Z0-9_!#$%&'()*+,\-./:;<=>?@\[\]^`{|}~]*")
_REQUEST_KEYS = frozenset({"id", "ts", "nonce", "hash", "ext", "mac", "app", "dlg"})


class HawkError(Exception):
    """A request or response that fails Hawk; the message says why (for logs, not for clients)."""


@dataclass(frozen=True)
class Credentials:
    id: str
    key: bytes


@dataclass(frozen=True)
class HawkRequest:
    """The parts of a verified request its response is signed with."""

    credentials: Credentials
    ts: str
    nonce: str
    method: str
    resource: str
    host: str
    port: str
    ext: str
    app: str | None
    dlg: str


def parse_header(value: str) -> dict[str, str]:
    """`Hawk id="…", ts="…", …` into its attributes; anything malformed raises HawkError."""
    if len(value) > MAX_HEADER_LENGTH:
        raise HawkError("header too long")
    scheme, _, rest = value.partition(" ")
    if scheme.lower() != "hawk":
        raise HawkError("not a Hawk header")
    attributes: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    for match in _ATTRIBUTE.finditer(rest):
        if match.start() != position:
            break
        key, text = match.group(1), match.group(2)
        if key not in _REQUEST_KEYS or key in attributes or not _ALLOWED_VALUE.fullmatch(text):
            raise HawkError(f"bad header attribute {key!r}")
        attributes[key] = text
        position = match.end()
    if position != len(rest):
        raise HawkError("unparsable header")
    return attributes


def payload_hash(body: bytes, content_type: str) -> str:
    """base64(sha256("hawk.1.payload\\n" + type + "\\n" + body + "\\n")), type before any `;`."""
    media_type = content_type.split(";")[0].strip().lower()
    digest = hashlib.sha256(b"hawk.1.payload\n%s\n%s\n" % (media_type.encode(), body)).digest()
    return base64.b64encode(digest).decode()


def _mac(kind: str, request: HawkRequest, content_hash: str, ext: str) -> str:
    lines = [
        f"hawk.1.{kind}",
        request.ts,
        request.nonce,
        request.method,
        request.resource,
        request.host,
        request.port,
        content_hash,
        ext,
    ]
    if request.app:
        lines += [request.app, request.dlg]
    normalized = "\n".join(lines) + "\n"
    digest = hmac.new(request.credentials.key, normalized.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_request(
    header: str,
    *,
    credentials: Credentials,
    method: str,
    url: str,
    body: bytes,
    content_type: str,
    now: float | None = None,
) -> HawkRequest:
    """Check MAC, payload hash (always required) and clock skew; the nonce is the caller's job."""
    attributes = parse_header(header)
    for required in ("id", "ts", "nonce", "mac", "hash"):
        if not attributes.get(required):
            raise HawkError(f"header has no {required}")
    if not hmac.compare_digest(attributes["id"], credentials.id):
        raise HawkError(f"unknown Hawk id {attributes['id']!r}")
    if not credentials.key:
        raise HawkError("no Hawk key is configured")
    host, port, resource = _url_parts(url)
    request = HawkRequest(
        credentials=credentials,
        ts=attributes["ts"],
        nonce=attributes["nonce"],
        method=method.upper(),
        resource=resource,
        host=host,
        port=port,
        ext=attributes.get("ext", ""),
        app=attributes.get("app"),
        dlg=attributes.get("dlg", ""),
    )
    if not hmac.compare_digest(
        _mac("header", request, attributes["hash"], request.ext), attributes["mac"]
    ):
        raise HawkError("MAC mismatch")
    if not hmac.compare_digest(payload_hash(body, content_type), attributes["hash"]):
        raise HawkError("payload hash mismatch")
    if not request.ts.isdigit():
        raise HawkError("ts is not a number")
    current = time.time() if now is None else now
    if abs(int(request.ts) - current) > TIMESTAMP_SKEW_SECONDS:
        raise HawkError("stale timestamp")
    return request


def _url_parts(url: str) -> tuple[str, str, str]:
    """Host, port and path+query as Hawk normalises them (host lower-cased, default ports)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise HawkError(f"bad URL {url!r}") from exc
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    resource = f"{parts.path}?{parts.query}" if parts.query else parts.path
    return parts.hostname or "", str(port), resource


def server_authorization(request: HawkRequest, body: bytes, content_type: str) -> str:
    """The Server-Authorization value for our answer to `request`.

    The MAC uses the request's ts and nonce. The nonce and a current ts are appended as well:
    mohawk's `Sender.accept_response` (what ICMS checks with) needs them (mohawk issue #50).
    """
    content_hash = payload_hash(body, content_type)
    mac = _mac("response", request, content_hash, ext="")  # our answers carry no ext
    return (
        f'Hawk mac="{mac}", hash="{content_hash}", nonce="{request.nonce}", ts="{int(time.time())}"'
    )


# --- client side: our own calls to ICMS, on mohawk -----------------------------------------


def _mohawk_credentials(credentials: Credentials) -> dict[str, Any]:
    return {"id": credentials.id, "key": credentials.key.decode(), "algorithm": ALGORITHM}


def sign_request(
    credentials: Credentials, *, method: str, url: str, body: bytes, content_type: str
) -> mohawk.Sender:
    """A mohawk Sender for one call; send `sender.request_header` as `Hawk-Authentication`.

    Keep the sender to check the answer with `verify_response`.
    """
    return mohawk.Sender(
        _mohawk_credentials(credentials),
        url,
        method,
        content=body,
        content_type=content_type,
    )


def verify_response(
    sender: mohawk.Sender, header: str | None, body: bytes, content_type: str
) -> None:
    """Check the Server-Authorization of an answer to `sender`'s request; HawkError if it fails."""
    if not header:
        raise HawkError("response has no Server-Authorization")
    # An answer repeats its request's nonce by design, so there is nothing to look up; mohawk
    # needs the callback only to stop warning, and fails if the header has no nonce (issue #50).
    sender.seen_nonce = _reused_nonce if 'nonce="' in header else None
    try:
        sender.accept_response(header, content=body, content_type=content_type)
    except HawkFail as exc:
        raise HawkError(f"response failed Hawk: {exc}") from exc


def _reused_nonce(sender_id: str, nonce: str, ts: str) -> bool:
    return False
