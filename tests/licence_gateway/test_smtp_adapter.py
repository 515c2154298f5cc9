"""licenceData e-mails through a real SMTP server (aiosmtpd): TLS modes, logins, layouts, faults."""

from __future__ import annotations

import base64
import io
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from licence_gateway.adapters import smtp
from licence_gateway.adapters.identity import MsalTokenProvider, StaticTokenProvider
from licence_gateway.adapters.smtp import (
    SmtpConfig,
    SmtpPermanentError,
    SmtpSender,
    SmtpTransientError,
    legacy_message,
    new_message_id,
    standard_message,
)
from licence_gateway.domain.chief import to_ascii
from licence_gateway.settings import LicenceGatewaySettings
from service_kit.settings import NotConfiguredError
from tests.licence_gateway.mail_fixtures import MAILBOX_USER, IdentityService
from tests.support.infra import free_port
from tests.support.smtp_server import LocalSmtpServer, SmtpFault
from tests.support.tls import LocalCertificate

FIXTURES = Path(__file__).parent / "fixtures" / "email"
USER = "gateway@licence-gateway.test"
PASSWORD = "smtp-secret"
CHIEF = "chief@hmrc.test"
FILE_NAME = "CHIEF_LIVE_ILBDOTI_licenceData_7_202401020304"
FILE_TEXT = "1\\fileHeader\\ILBDOTI\\CHIEF\\licenceData\\202401020304\\7\\N\n2\\fileTrailer\\0\n"


def config(server: LocalSmtpServer, certificate: LocalCertificate, **changes: object) -> SmtpConfig:
    base = SmtpConfig(
        host=server.host,
        port=server.port,
        security="starttls",
        auth="password",
        username=USER,
        password=PASSWORD,
        from_address=USER,
        to_address=CHIEF,
        timeout_seconds=5,
        ca_file=certificate.ca_file,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def parsed(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture
def starttls_server(local_certificate: LocalCertificate) -> Iterator[LocalSmtpServer]:
    with LocalSmtpServer(local_certificate, users={USER: PASSWORD}) as server:
        yield server


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_password_login_over_starttls_sends_the_standard_layout(
    local_certificate: LocalCertificate, mechanism: str
) -> None:
    others = tuple({"PLAIN", "LOGIN"} - {mechanism})
    server = LocalSmtpServer(local_certificate, users={USER: PASSWORD}, exclude_mechanisms=others)
    message_id = new_message_id()
    with server:
        sender = SmtpSender(config(server, local_certificate))
        await sender.send_licence_data(file_name=FILE_NAME, text=FILE_TEXT, message_id=message_id)

    [received] = server.messages
    assert (received.mechanism, received.login) == (mechanism, USER)
    assert (received.sender, received.recipients) == (USER, [CHIEF])
    message = parsed(received.data)
    assert message["Subject"] == FILE_NAME
    assert message["From"] == USER
    assert message["To"] == CHIEF
    assert message["Message-ID"] == message_id
    sent_at = datetime.now(UTC) - message["Date"].datetime
    assert abs(sent_at.total_seconds()) < 60
    [attachment] = message.iter_attachments()
    assert attachment.get_content_type() == "application/octet-stream"
    assert attachment["Content-Transfer-Encoding"] == "base64"
    assert attachment.get_filename() == FILE_NAME
    assert attachment.get_content() == FILE_TEXT.encode("ascii")
    assert not [part for part in message.walk() if part.get_content_maintype() == "text"]


async def test_xoauth2_over_implicit_tls_with_a_full_size_msal_token(
    local_certificate: LocalCertificate,
    identity_service: IdentityService,
    msal_tokens: MsalTokenProvider,
) -> None:
    server = LocalSmtpServer(
        local_certificate, implicit_tls=True, token_is_valid=identity_service.token_is_valid
    )
    with server:
        smtp = config(
            server, local_certificate, security="tls", auth="xoauth2", username=MAILBOX_USER
        )
        await SmtpSender(smtp, msal_tokens).send_licence_data(
            file_name=FILE_NAME, text=FILE_TEXT, message_id=new_message_id()
        )

    assert len(await msal_tokens.access_token()) > 1500  # past aiosmtpd's default 512 bytes
    [received] = server.messages
    assert (received.mechanism, received.login) == ("XOAUTH2", MAILBOX_USER)


async def test_xoauth2_over_starttls(local_certificate: LocalCertificate) -> None:
    server = LocalSmtpServer(local_certificate, tokens={"t" * 1800})
    with server:
        smtp = config(server, local_certificate, auth="xoauth2")
        await SmtpSender(smtp, StaticTokenProvider("t" * 1800)).send_licence_data(
            file_name=FILE_NAME, text=FILE_TEXT, message_id=new_message_id()
        )
    assert server.messages[0].mechanism == "XOAUTH2"


async def test_a_refused_token_is_permanent(local_certificate: LocalCertificate) -> None:
    server = LocalSmtpServer(local_certificate, tokens={"good"})
    with server:
        smtp = config(server, local_certificate, auth="xoauth2")
        with pytest.raises(SmtpPermanentError) as raised:
            await SmtpSender(smtp, StaticTokenProvider("bad")).send_licence_data(
                file_name=FILE_NAME, text=FILE_TEXT, message_id=new_message_id()
            )
    assert raised.value.code == 535
    assert server.messages == []


async def test_a_wrong_password_is_permanent(
    starttls_server: LocalSmtpServer, local_certificate: LocalCertificate
) -> None:
    sender = SmtpSender(config(starttls_server, local_certificate, password="wrong"))
    with pytest.raises(SmtpPermanentError) as raised:
        await sender.send_licence_data(file_name=FILE_NAME, text=FILE_TEXT, message_id="<a@b>")
    assert raised.value.code == 535


async def test_an_untrusted_certificate_is_refused(
    starttls_server: LocalSmtpServer, local_certificate: LocalCertificate
) -> None:
    smtp = config(starttls_server, local_certificate, ca_file="")  # the system store only
    with pytest.raises(SmtpTransientError, match="CERTIFICATE_VERIFY_FAILED"):
        await SmtpSender(smtp).send_licence_data(
            file_name=FILE_NAME, text=FILE_TEXT, message_id="<a@b>"
        )
    assert starttls_server.messages == []


async def test_a_resend_carries_the_same_message_id_and_bytes(
    starttls_server: LocalSmtpServer, local_certificate: LocalCertificate
) -> None:
    sender = SmtpSender(config(starttls_server, local_certificate))
    message_id = new_message_id()
    for _ in range(2):
        await sender.send_licence_data(file_name=FILE_NAME, text=FILE_TEXT, message_id=message_id)

    first, second = (parsed(m.data) for m in starttls_server.messages)
    assert first["Message-ID"] == second["Message-ID"] == message_id
    assert [p.get_content() for p in first.iter_attachments()] == [
        p.get_content() for p in second.iter_attachments()
    ]


async def test_non_ascii_text_is_transliterated_before_sending(
    starttls_server: LocalSmtpServer, local_certificate: LocalCertificate
) -> None:
    sender = SmtpSender(config(starttls_server, local_certificate))
    await sender.send_file(
        recipient="ops@licence-gateway.test",
        subject="Test email",
        file_name="test_file.txt",
        text="some ☃ test ☃ data “quoted”",
        message_id=new_message_id(),
    )
    [attachment] = parsed(starttls_server.messages[0].data).iter_attachments()
    assert attachment.get_content() == b'some  test  data "quoted"'  # as unidecode, as the original
    assert starttls_server.messages[0].recipients == ["ops@licence-gateway.test"]


def test_legacy_layout_renders_exactly_as_the_original() -> None:
    expected = (FIXTURES / "legacy_mime_expected.txt").read_bytes()
    message = legacy_message(
        sender="{EMAIL_HOST_USER}",
        recipient="receiver@email_domain.com",
        subject="Some subject",
        file_name="some filename",
        text="30 \U0001d5c4\U0001d5c6/\U0001d5c1 \u5317\u4eb0",
        boundary="===============8537751789001939036==",
    )
    assert message.as_bytes() == expected


async def test_legacy_layout_on_the_wire_is_the_fixture_with_crlf(
    starttls_server: LocalSmtpServer, local_certificate: LocalCertificate
) -> None:
    sender = SmtpSender(config(starttls_server, local_certificate, legacy_layout=True))
    await sender.send_file(
        recipient="receiver@email_domain.com",
        subject="Some subject",
        file_name="some filename",
        text="30 \U0001d5c4\U0001d5c6/\U0001d5c1 \u5317\u4eb0",
        message_id=new_message_id(),
    )
    data = starttls_server.messages[0].data
    boundary = re.search(rb'boundary="([^"]+)"', data)
    assert boundary is not None
    expected = (
        (FIXTURES / "legacy_mime_expected.txt")
        .read_bytes()
        .replace(b"{EMAIL_HOST_USER}", USER.encode())
        .replace(b"===============8537751789001939036==", boundary.group(1))
        .replace(b"\n", b"\r\n")
    )
    assert data == expected  # smtplib sent CRLF too; no Date, no Message-ID, raw 7-bit body


@pytest.mark.parametrize(
    ("fault", "error", "code"),
    [
        (SmtpFault.REFUSE_TEMPORARY, SmtpTransientError, 451),
        (SmtpFault.REFUSE_PERMANENT, SmtpPermanentError, 554),
    ],
)
async def test_refusals_are_classified_by_their_code(
    starttls_server: LocalSmtpServer,
    local_certificate: LocalCertificate,
    fault: SmtpFault,
    error: type[Exception],
    code: int,
) -> None:
    starttls_server.fault = fault
    sender = SmtpSender(config(starttls_server, local_certificate))
    with pytest.raises(error) as raised:
        await sender.send_licence_data(file_name=FILE_NAME, text=FILE_TEXT, message_id="<a@b>")
    assert getattr(raised.value, "code", None) == code
    assert starttls_server.messages == []


async def test_a_server_that_hangs_times_out_as_transient(
    starttls_server: LocalSmtpServer, local_certificate: LocalCertificate
) -> None:
    starttls_server.fault = SmtpFault.HANG
    sender = SmtpSender(config(starttls_server, local_certificate, timeout_seconds=0.5))
    started = time.monotonic()
    with pytest.raises(SmtpTransientError, match=r"(?i)timed out|timeout"):
        await sender.send_licence_data(file_name=FILE_NAME, text=FILE_TEXT, message_id="<a@b>")
    assert time.monotonic() - started < 5


async def test_no_server_listening_is_transient(local_certificate: LocalCertificate) -> None:
    smtp = SmtpConfig(
        host="127.0.0.1",
        port=free_port(),
        security="starttls",
        auth="none",
        username="",
        password="",
        from_address=USER,
        to_address=CHIEF,
        timeout_seconds=2,
    )
    with pytest.raises(SmtpTransientError):
        await SmtpSender(smtp).send_licence_data(
            file_name=FILE_NAME, text=FILE_TEXT, message_id="<a@b>"
        )


def test_settings_without_a_host_say_what_to_set(lg_settings: LicenceGatewaySettings) -> None:
    with pytest.raises(NotConfiguredError) as raised:
        SmtpConfig.from_settings(lg_settings)
    assert str(raised.value) == (
        "E-mail sending (SMTP) is not configured: set LICENCE_GATEWAY_SMTP_HOST,"
        " LICENCE_GATEWAY_SMTP_TO_ADDRESS"
    )


def test_settings_make_the_config(lg_settings: LicenceGatewaySettings) -> None:
    settings = lg_settings.model_copy(
        update={
            "smtp_host": "smtp.example.test",
            "smtp_to_address": CHIEF,
            "smtp_username": USER,
            "smtp_password": SecretStr(PASSWORD),
            "smtp_security": "tls",
            "smtp_port": 465,
        }
    )
    smtp = SmtpConfig.from_settings(settings)
    assert (smtp.host, smtp.port, smtp.security, smtp.from_address) == (
        "smtp.example.test",
        465,
        "tls",
        USER,
    )
    assert smtp.password == PASSWORD
    assert PASSWORD not in repr(smtp)  # configs end up in logs and tracebacks


async def test_stored_bytes_go_out_unchanged_on_every_delivery(
    starttls_server: LocalSmtpServer, local_certificate: LocalCertificate
) -> None:
    sender = SmtpSender(config(starttls_server, local_certificate))
    data = sender.render_licence_data(FILE_NAME, FILE_TEXT, new_message_id())
    for _ in range(2):
        await sender.deliver(data)

    first, second = (message.data for message in starttls_server.messages)
    assert first == second == data.replace(b"\n", b"\r\n")
    assert starttls_server.messages[0].recipients == [CHIEF]


@pytest.mark.parametrize(
    "text",
    [
        "",
        FILE_TEXT,
        "1\\restrictions\\Müller “quoted” — 北京\n" * 3,
        # Over 57 bytes a base64 line: the body spans many lines and ends on a short one.
        "".join(
            f"{n}\\line\\{n}\\\\\\\\Société Générale №{n}\\O\\\\\\\\\\\\\\\\\\\n"
            for n in range(999)
        ),
    ],
)
def test_rendered_mail_is_the_email_packages_own_rendering(text: str) -> None:
    """The large base64 body is written by binascii: the bytes are what the email package writes."""
    sender = SmtpSender(
        SmtpConfig(
            host="smtp.test",
            port=25,
            security="none",
            auth="none",
            username="",
            password="",
            from_address=USER,
            to_address=CHIEF,
        )
    )
    date = datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    message_id = new_message_id()
    rendered = sender.render_licence_data(FILE_NAME, text, message_id, date)
    reference = standard_message(
        sender=USER,
        recipient=CHIEF,
        subject=FILE_NAME,
        file_name=FILE_NAME,
        text=text,
        message_id=message_id,
        date=date,
    ).as_bytes()

    def boundary_free(data: bytes) -> bytes:
        [boundary] = set(re.findall(rb'boundary="([^"]+)"', data))
        return data.replace(boundary, b"BOUNDARY")

    assert boundary_free(rendered) == boundary_free(reference)
    parts: Any = parsed(rendered).get_payload()
    first_part = parts[0]
    assert first_part.get_content() == to_ascii(text).encode()


@settings(max_examples=60, deadline=None)
@given(
    pattern=st.text(st.characters(max_codepoint=127), min_size=1, max_size=200),
    chunks=st.integers(0, 3),
    more=st.integers(-120, 120),
)
def test_base64_lines_cut_a_chunk_at_a_time_are_encodebytes(
    pattern: str, chunks: int, more: int
) -> None:
    """Whole chunks are cut into lines in one call, the last piece a line at a time: the same
    bytes as `base64.encodebytes`, for texts ending anywhere around the chunks' edges."""
    length = max(0, chunks * smtp._CHUNK + more)
    text = (pattern * (length // len(pattern) + 1))[:length]
    out = io.BytesIO()
    smtp._write_base64_lines(out, text)
    assert out.getvalue() == base64.encodebytes(text.encode("ascii"))
