"""Slack request signing (v0): HMAC-SHA256 over `v0:{timestamp}:{raw body}` with the signing secret.

See https://api.slack.com/authentication/verifying-requests-from-slack. Pure: the caller passes
the clock, so stale-request checks are testable.
"""

from __future__ import annotations

import hashlib
import hmac

VERSION = "v0"
# Slack's advice: refuse requests more than five minutes old (replay protection).
MAX_AGE_SECONDS = 5 * 60


class SignatureError(Exception):
    """The request is not provably from Slack; the message says why (safe to show)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` value Slack would send for this body and timestamp."""
    base = f"{VERSION}:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return f"{VERSION}={digest}"


def verify(
    secret: str,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    max_age: int = MAX_AGE_SECONDS,
) -> None:
    """Raise SignatureError unless the headers prove the body came from Slack recently."""
    if not timestamp or not signature:
        raise SignatureError("missing X-Slack-Request-Timestamp or X-Slack-Signature")
    if not timestamp.isascii() or not timestamp.isdigit():
        raise SignatureError("X-Slack-Request-Timestamp is not a Unix time")
    if abs(now - int(timestamp)) > max_age:
        raise SignatureError("the request is older than five minutes (or from the future)")
    # Compared as bytes: compare_digest refuses non-ASCII str, and headers can hold anything.
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode()):
        raise SignatureError("X-Slack-Signature does not match the body")
