"""parse_hmrc_email: the fixtures, charsets, attachment counts, size, and arbitrary input."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from licence_gateway.domain.email_message import EmailParseError, ParsedEmail, parse_hmrc_email

FIXTURES = Path(__file__).parent / "fixtures" / "email"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def message_with(
    *attachments: tuple[str, bytes, str | None], subject: str = "CHIEF_licenceReply_7_202401020304"
) -> bytes:
    message = EmailMessage()
    message["From"] = '"HMRC, CHIEF" <chief@hmrc.test>'
    message["To"] = "icms@dit.test"
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime(2024, 1, 2, 3, 4, tzinfo=UTC))
    message["Message-ID"] = "<abc@hmrc.test>"
    message.set_content("see attached")
    for name, data, charset in attachments:
        if charset:
            message.add_attachment(
                data, maintype="text", subtype="plain", filename=name, params={"charset": charset}
            )
        else:
            message.add_attachment(
                data, maintype="application", subtype="octet-stream", filename=name
            )
    return message.as_bytes()


def test_licence_reply_fixture() -> None:
    parsed = parse_hmrc_email(fixture("CHIEF_licenceReply_29236_202209231140.eml"))

    assert parsed == ParsedEmail(
        message_id="<CAB2+i39VyYHS6MCAk20oy3LFFwvNRxmaiDttF_OTV672+Bfa7A@mail.gmail.com>",
        sender="chief@hmrc_test_email.com",
        subject="CHIEF_licenceReply_29236_202209231140",
        date=parsed.date,
        attachment_name="CHIEF_licenceReply_29236_202209231140",
        attachment_text=fixture("CHIEF_licenceReply_29236_202209231140_attachment").decode(),
    )
    assert parsed.date is not None and parsed.date.isoformat() == "2022-09-28T07:59:36+01:00"
    assert (parsed.sender_local_part, parsed.sender_domain) == ("chief", "hmrc_test_email.com")


def test_usage_fixture() -> None:
    parsed = parse_hmrc_email(fixture("ILBDOTI_live_CHIEF_usageData_7132_202209280300.eml"))
    assert parsed.subject == "ILBDOTI_live_CHIEF_usageData_7132_202209280300"
    assert (
        parsed.attachment_text
        == fixture("ILBDOTI_live_CHIEF_usageData_7132_202209280300_attachment").decode()
    )


def test_unknown_subjects_still_parse_so_the_caller_can_route_them() -> None:
    parsed = parse_hmrc_email(fixture("CHIEF_licenceReply_29238_202209251140-unknown-subject.eml"))
    assert parsed.subject == "All about cakes"


def test_two_attachments_are_refused_clearly() -> None:
    raw = fixture("CHIEF_licenceReply_29237_202209241020-two-attachments.eml")
    with pytest.raises(EmailParseError, match="exactly one attachment, found 2"):
        parse_hmrc_email(raw)


def test_no_attachment_is_refused_clearly() -> None:
    with pytest.raises(EmailParseError, match="exactly one attachment, found 0"):
        parse_hmrc_email(message_with())


def test_oversized_and_empty_input_are_refused_before_parsing() -> None:
    with pytest.raises(EmailParseError, match="more than the 100 allowed"):
        parse_hmrc_email(b"x" * 101, max_bytes=100)
    with pytest.raises(EmailParseError, match="empty"):
        parse_hmrc_email(b"\r\n \r\n")


def test_the_declared_charset_of_the_attachment_is_used() -> None:
    raw = message_with(("reply", "café “1234A6”".encode("cp1252"), "cp1252"))
    assert parse_hmrc_email(raw).attachment_text == "café “1234A6”"


def test_undeclared_utf8_is_read_as_utf8_and_stray_bytes_do_not_block() -> None:
    assert parse_hmrc_email(message_with(("r", "“x”".encode(), None))).attachment_text == "“x”"
    assert parse_hmrc_email(message_with(("r", b"caf\xe9", None))).attachment_text == "café"


def test_encoded_headers_are_decoded() -> None:
    raw = message_with(("r", b"x", None), subject="Réponse CHIEF")
    parsed = parse_hmrc_email(raw)
    assert parsed.subject == "Réponse CHIEF"
    assert parsed.message_id == "<abc@hmrc.test>"
    assert parsed.sender == "chief@hmrc.test"


def test_a_missing_file_name_falls_back_to_the_subject() -> None:
    raw = (
        b"From: chief@hmrc.test\r\nSubject: CHIEF_licenceReply_8_202401020304\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment\r\n"
        b"\r\n1\\fileHeader\r\n--b--\r\n"
    )
    parsed = parse_hmrc_email(raw)
    assert parsed.attachment_name == "CHIEF_licenceReply_8_202401020304"
    assert parsed.attachment_text == "1\\fileHeader"
    assert parsed.date is None and parsed.message_id is None


def test_a_header_the_stdlib_parser_chokes_on_is_read_raw() -> None:
    # Found by hypothesis: "<(" makes email's Message-ID parser raise IndexError.
    raw = fixture("CHIEF_licenceReply_29236_202209231140.eml").replace(b"<CAB2", b"<(CAB2", 1)
    parsed = parse_hmrc_email(raw)
    assert parsed.message_id is not None and parsed.message_id.startswith("<(CAB2+i39")
    assert parsed.subject == "CHIEF_licenceReply_29236_202209231140"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_parse_or_fail_clearly(raw: bytes) -> None:
    try:
        parsed = parse_hmrc_email(raw)
    except EmailParseError:
        return
    assert isinstance(parsed.attachment_text, str)


header_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=60
).filter(lambda text: text.strip() == text and "  " not in text)
file_names = st.from_regex(r"[A-Za-z0-9_.-]{1,60}", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(
    subject=header_text,
    name=file_names,
    # Text a mailer can encode (no lone surrogates); NUL makes an attachment unreadable.
    text=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=500),
)
def test_what_a_mailer_writes_is_read_back(subject: str, name: str, text: str) -> None:
    raw = message_with((name, text.encode("utf-8"), "utf-8"), subject=subject)
    parsed = parse_hmrc_email(raw)
    assert (parsed.subject, parsed.attachment_name) == (subject, name)
    assert parsed.attachment_text == text  # base64 carries CR, LF and all of Unicode as is


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_damaged_real_e_mails_parse_or_fail_clearly(data: st.DataObject) -> None:
    raw = fixture("CHIEF_licenceReply_29236_202209231140.eml")
    start = data.draw(st.integers(0, len(raw)))
    end = data.draw(st.integers(start, min(len(raw), start + 80)))
    damaged = raw[:start] + data.draw(st.binary(max_size=80)) + raw[end:]
    try:
        parsed = parse_hmrc_email(damaged)
    except EmailParseError:
        return
    assert isinstance(parsed.subject, str) and isinstance(parsed.attachment_text, str)
