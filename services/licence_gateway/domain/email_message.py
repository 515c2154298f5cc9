"""Parse an e-mail from HMRC's mailbox into what the gateway needs: who, what, and the one file.

Pure: bytes in, a ParsedEmail or an EmailParseError with a clear reason out.
"""

from __future__ import annotations

import email.policy
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime

MAX_EMAIL_BYTES = 10 * 1024 * 1024
_FOLDING = re.compile(r"[ \t\r\n]+")  # what header folding leaves; other spaces are content


class EmailParseError(ValueError):
    """The e-mail cannot be used; the message says why."""


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str | None
    sender: str  # the first From address, e.g. chief@hmrc.gov.uk ("" if none)
    subject: str
    date: datetime | None
    attachment_name: str
    attachment_text: str

    @property
    def sender_local_part(self) -> str:
        return self.sender.rpartition("@")[0]

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2]


def parse_hmrc_email(raw: bytes, *, max_bytes: int = MAX_EMAIL_BYTES) -> ParsedEmail:
    """Parse a raw RFC 5322 message that must carry exactly one attachment.

    The attachment is decoded from its transfer encoding, then as text in its declared charset,
    else UTF-8 (CHIEF's curly quotes), else ISO-8859-1, which always succeeds: an odd byte in a
    reply must not block the mailbox.
    """
    if len(raw) > max_bytes:
        raise EmailParseError(f"e-mail is {len(raw)} bytes, more than the {max_bytes} allowed")
    if not raw.strip():
        raise EmailParseError("e-mail is empty")
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    subject = _FOLDING.sub(" ", _header(message, "Subject")).strip()
    attachments = [part for part in message.walk() if _is_attachment(part)]
    if len(attachments) != 1:
        raise EmailParseError(
            f"expected exactly one attachment, found {len(attachments)} (subject {subject!r})"
        )
    attachment = attachments[0]
    text = _text(attachment)
    if "\x00" in text:  # no CHIEF file has one, and PostgreSQL cannot store it in a text column
        raise EmailParseError("attachment contains a NUL character")
    return ParsedEmail(
        message_id=_header(message, "Message-ID").strip() or None,
        sender=_first_address(message),
        subject=subject,
        date=_date(message),
        attachment_name=_file_name(attachment) or subject,
        attachment_text=text,
    )


def _header(message: EmailMessage, name: str) -> str:
    """A header's decoded text; "" when absent or too broken to decode."""
    try:
        value = message.get(name)
        return "" if value is None else str(value)
    except (ValueError, IndexError, TypeError, AttributeError):
        # The stdlib's structured parser gave up: the raw text, unfolded, is still useful.
        raw = (value for key, value in message.raw_items() if key.lower() == name.lower())
        return _FOLDING.sub(" ", next(raw, "")).strip()


def _first_address(message: EmailMessage) -> str:
    try:
        header = message.get("From")
        addresses: tuple[Address, ...] = getattr(header, "addresses", ())
        if addresses:
            return addresses[0].addr_spec.lower()
    except (ValueError, IndexError, TypeError, AttributeError):
        pass
    # The structured parser gave up (odd quoting, defects): fall back to the lenient one.
    return parseaddr(_header(message, "From"))[1].lower()


def _date(message: EmailMessage) -> datetime | None:
    text = _header(message, "Date")
    if not text:
        return None
    try:
        return parsedate_to_datetime(text)
    except (ValueError, TypeError, IndexError):
        return None


def _is_attachment(part: EmailMessage) -> bool:
    """A leaf part marked as an attachment, or one carrying a file name."""
    if part.is_multipart():
        return False
    try:
        return part.get_content_disposition() == "attachment" or bool(_file_name(part))
    except (ValueError, IndexError, TypeError, AttributeError):
        return False


def _file_name(part: EmailMessage) -> str:
    try:
        name = part.get_filename() or part.get_param("name", header="content-type")
    except (ValueError, IndexError, TypeError, AttributeError):
        return ""
    return name.strip() if isinstance(name, str) else ""


def _text(part: EmailMessage) -> str:
    try:
        data = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError) as exc:
        raise EmailParseError(f"attachment cannot be decoded: {exc}") from exc
    if not isinstance(data, bytes):
        raise EmailParseError("attachment has no content")
    try:
        declared = part.get_content_charset()
    except (ValueError, IndexError, TypeError, AttributeError):
        declared = None
    charsets = [declared, "utf-8"]
    for charset in charsets:
        if not charset:
            continue
        try:
            return data.decode(charset)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("iso-8859-1")
