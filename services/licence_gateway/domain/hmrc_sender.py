"""Is this e-mail really HMRC's? Strict sender and Authentication-Results checks (issue 18.2).

Pure: raw header bytes in, `SenderVerdict` out. `From` (and `Sender`, when present) must hold
exactly one mailbox whose addr-spec is HMRC's address (case-insensitive), parsed with
`email.headerregistry` under the default policy: `parseaddr` would return a display name such as
`chief@hmrc.example <attacker@evil.example>` as if it were the address.

When a trusted authserv-id is configured, the topmost `Authentication-Results` header carrying
that id (the one our receiving server stamped last) must say `dmarc=pass` (for HMRC's domain when
it names `header.from`) or `dkim=pass` with `header.d` = HMRC's domain. Headers from any other
authserv-id are ignored: anyone can write one.
"""

from __future__ import annotations

import email.policy
import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser

_COMMENT = re.compile(r"\([^()]*\)")


@dataclass(frozen=True, slots=True)
class SenderVerdict:
    address: str  # the one From addr-spec, lower-cased; "" when From is not one mailbox
    problem: str | None  # why the message must not be applied; None when it is HMRC's
    claims_hmrc: bool  # HMRC's address appears in From or Sender (a forgery if problem is set)


def check_hmrc_sender(
    raw: bytes, expected_address: str, trusted_authserv_id: str = ""
) -> SenderVerdict:
    expected = expected_address.strip().lower()
    try:
        return _check(raw, expected, trusted_authserv_id)
    except Exception as exc:  # the email package raises more than it documents on odd headers
        claims = bool(expected) and expected in raw.decode("latin-1").lower()
        return SenderVerdict("", f"headers cannot be parsed: {exc!r}", claims)


def _check(raw: bytes, expected: str, trusted_authserv_id: str) -> SenderVerdict:
    headers = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
    senders = _raw_values(headers, "From", "Sender")
    claims = bool(expected) and any(expected in value.lower() for value in senders)
    from_address, problem = _one_mailbox(headers, "From")
    if problem is None and from_address != expected:
        problem = f"From is {from_address!r}, not HMRC's address"
    if problem is None and headers.get_all("Sender"):
        sender_address, problem = _one_mailbox(headers, "Sender")
        if problem is None and sender_address != expected:
            problem = f"Sender is {sender_address!r}, not HMRC's address"
    if problem is None and trusted_authserv_id:
        problem = _authentication_problem(headers, trusted_authserv_id, expected.rpartition("@")[2])
    return SenderVerdict(from_address, problem, claims)


def _raw_values(headers: EmailMessage, *names: str) -> list[str]:
    return [str(value) for name in names for value in (headers.get_all(name) or [])]


def _one_mailbox(headers: EmailMessage, name: str) -> tuple[str, str | None]:
    values = headers.get_all(name) or []
    if len(values) != 1:
        return "", f"{len(values)} {name} headers, expected exactly one"
    header = values[0]
    defects = list(getattr(header, "defects", ()))
    addresses: tuple[Address, ...] = tuple(getattr(header, "addresses", ()))
    grouped = any(group.display_name is not None for group in getattr(header, "groups", ()))
    if defects:
        return "", f"{name} is malformed: {defects[0]}"
    if grouped:
        return "", f"{name} holds a group, not a mailbox"
    if len(addresses) != 1:
        return "", f"{name} holds {len(addresses)} mailboxes, expected exactly one"
    address = addresses[0]
    if not address.username or not address.domain:
        return "", f"{name} has no complete address"
    return address.addr_spec.lower(), None


def _authentication_problem(headers: EmailMessage, authserv_id: str, domain: str) -> str | None:
    trusted = authserv_id.strip().lower()
    for value in headers.get_all("Authentication-Results") or []:
        server, results = _parse_authentication_results(str(value))
        if server != trusted:
            continue  # written by someone else: worth nothing
        for method, result, properties in results:
            if result != "pass":
                continue
            if method == "dmarc" and properties.get("header.from", domain) == domain:
                return None
            if method == "dkim" and properties.get("header.d") == domain:
                return None
        return (
            f"Authentication-Results of {authserv_id} show neither dmarc=pass"
            f" nor dkim=pass for {domain}"
        )
    return f"no Authentication-Results from {authserv_id}"


def _parse_authentication_results(
    value: str,
) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """RFC 8601, leniently: (authserv-id, [(method, result, {ptype.property: value})])."""
    text = " ".join(value.split())
    while _COMMENT.search(text):
        text = _COMMENT.sub(" ", text)
    server_part, *result_parts = text.split(";")
    tokens = server_part.split()
    server = tokens[0].lower() if tokens else ""
    results = []
    for part in result_parts:
        words = part.split()
        if not words or "=" not in words[0]:
            continue  # "none", or an empty trailing part
        method, _, result = words[0].partition("=")
        properties = {}
        for word in words[1:]:
            key, equals, item = word.partition("=")
            if equals:
                properties[key.lower()] = item.strip('"').lower().removeprefix("@")
        results.append((method.lower().split("/")[0], result.lower(), properties))
    return server, results
