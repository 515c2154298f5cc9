"""Slack request signing (v0), as pure functions: what passes and every way to fail."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoice_checker.domain.slack_signing import SignatureError, sign, verify

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_531_420_618.0
TIMESTAMP = "1531420618"
# Slack's documented example: this body and timestamp sign to this value with this secret.
BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
    b"G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook"
    b"-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F3977"
    b"00885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d"
    b"10d2c447fce8b6703c"
)
SLACK_EXAMPLE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_slacks_documented_example() -> None:
    assert sign(SECRET, TIMESTAMP, BODY) == SLACK_EXAMPLE
    verify(SECRET, timestamp=TIMESTAMP, signature=SLACK_EXAMPLE, body=BODY, now=NOW)


@pytest.mark.parametrize(
    ("timestamp", "signature", "now", "reason"),
    [
        (None, SLACK_EXAMPLE, NOW, "missing"),
        (TIMESTAMP, None, NOW, "missing"),
        ("", "", NOW, "missing"),
        ("1531420618.5", SLACK_EXAMPLE, NOW, "Unix time"),
        ("١٥٣١٤٢٠٦١٨", SLACK_EXAMPLE, NOW, "Unix time"),  # non-ASCII digits
        (TIMESTAMP, SLACK_EXAMPLE, NOW + 301, "older than five minutes"),
        (TIMESTAMP, SLACK_EXAMPLE, NOW - 301, "older than five minutes"),
        (TIMESTAMP, SLACK_EXAMPLE.upper(), NOW, "does not match"),
        (TIMESTAMP, "v0=é" + SLACK_EXAMPLE[4:], NOW, "does not match"),
        (TIMESTAMP, "v1=" + SLACK_EXAMPLE[3:], NOW, "does not match"),
    ],
)
def test_refusals_say_why(
    timestamp: str | None, signature: str | None, now: float, reason: str
) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify(SECRET, timestamp=timestamp, signature=signature, body=BODY, now=now)


@given(body=st.binary(max_size=200), flip=st.integers(min_value=0, max_value=199))
def test_any_change_to_the_body_breaks_the_signature(body: bytes, flip: int) -> None:
    signature = sign(SECRET, TIMESTAMP, body)
    verify(SECRET, timestamp=TIMESTAMP, signature=signature, body=body, now=NOW)
    if body:
        at = flip % len(body)
        changed = body[:at] + bytes([body[at] ^ 1]) + body[at + 1 :]
    else:
        changed = b"x"
    with pytest.raises(SignatureError):
        verify(SECRET, timestamp=TIMESTAMP, signature=signature, body=changed, now=NOW)


@given(signature=st.text(max_size=80), timestamp=st.text(max_size=20))
def test_arbitrary_headers_never_crash(signature: str, timestamp: str) -> None:
    with pytest.raises(SignatureError):
        verify(SECRET, timestamp=timestamp, signature=signature, body=BODY, now=NOW)
