"""Reading HMRC's mailbox from a real Dovecot: logins, fetch then delete, a cut mid-RETR."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from licence_gateway.adapters.identity import MsalTokenProvider, StaticTokenProvider
from licence_gateway.adapters.pop3 import (
    Pop3AuthenticationError,
    Pop3Config,
    Pop3Mailbox,
    Pop3TransientError,
    xoauth2_string,
)
from licence_gateway.domain.email_message import parse_hmrc_email
from licence_gateway.settings import LicenceGatewaySettings
from service_kit.settings import NotConfiguredError
from tests.licence_gateway.mail_fixtures import MAILBOX_USER, POP3_PASSWORD
from tests.support.dovecot import DovecotServer
from tests.support.faulty_proxy import FaultyProxy
from tests.support.infra import free_port
from tests.support.tls import LocalCertificate

FIXTURES = Path(__file__).parent / "fixtures" / "email"
REPLY = (FIXTURES / "CHIEF_licenceReply_29236_202209231140.eml").read_bytes()
USAGE = (FIXTURES / "ILBDOTI_live_CHIEF_usageData_7132_202209280300.eml").read_bytes()


def password_login(port: int, certificate: LocalCertificate, **changes: object) -> Pop3Config:
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "starttls",
        "auth": "password",
        "username": MAILBOX_USER,
        "password": POP3_PASSWORD,
        "timeout_seconds": 5,
        "ca_file": certificate.ca_file,
    }
    return Pop3Config(**{**options, **changes})  # type: ignore[arg-type]


async def test_user_pass_over_stls_fetches_every_message_and_deletes_nothing(
    hmrc_mailbox: DovecotServer, local_certificate: LocalCertificate
) -> None:
    hmrc_mailbox.deliver(MAILBOX_USER, REPLY)
    hmrc_mailbox.deliver(MAILBOX_USER, USAGE)
    mailbox = Pop3Mailbox(password_login(hmrc_mailbox.pop3_port, local_certificate))

    messages = await mailbox.fetch_all()

    assert [message.raw for message in messages] == [REPLY, USAGE]
    assert [message.size for message in messages] == [len(REPLY), len(USAGE)]
    assert len({message.uid for message in messages}) == 2
    assert hmrc_mailbox.stored(MAILBOX_USER) == 2  # reading alone never deletes
    assert await mailbox.count() == 2
    assert parse_hmrc_email(messages[0].raw or b"").subject == (
        "CHIEF_licenceReply_29236_202209231140"
    )


async def test_delete_removes_only_the_named_uids_in_a_later_session(
    hmrc_mailbox: DovecotServer, local_certificate: LocalCertificate
) -> None:
    for raw in (REPLY, USAGE, REPLY):
        hmrc_mailbox.deliver(MAILBOX_USER, raw)
    mailbox = Pop3Mailbox(password_login(hmrc_mailbox.pop3_port, local_certificate))
    first, second, third = await mailbox.fetch_all()

    deleted = await mailbox.delete({first.uid, third.uid, "no-such-uid"})

    assert deleted == {first.uid, third.uid}
    remaining = await mailbox.fetch_all()
    assert [(m.uid, m.raw) for m in remaining] == [(second.uid, USAGE)]  # UIDs are stable
    assert await mailbox.delete(set()) == set()


async def test_xoauth2_over_pop3s_with_an_msal_token(
    hmrc_mailbox: DovecotServer, local_certificate: LocalCertificate, msal_tokens: MsalTokenProvider
) -> None:
    hmrc_mailbox.deliver(MAILBOX_USER, REPLY)
    config = password_login(
        hmrc_mailbox.pop3s_port, local_certificate, security="tls", auth="xoauth2", password=""
    )

    messages = await Pop3Mailbox(config, msal_tokens).fetch_all()

    assert [message.raw for message in messages] == [REPLY]
    assert len(await msal_tokens.access_token()) == 1800


async def test_xoauth2_over_stls(
    hmrc_mailbox: DovecotServer, local_certificate: LocalCertificate, msal_tokens: MsalTokenProvider
) -> None:
    config = password_login(hmrc_mailbox.pop3_port, local_certificate, auth="xoauth2")
    assert await Pop3Mailbox(config, msal_tokens).count() == 0


async def test_a_token_the_identity_platform_never_issued_is_refused(
    hmrc_mailbox: DovecotServer, local_certificate: LocalCertificate
) -> None:
    config = password_login(
        hmrc_mailbox.pop3s_port, local_certificate, security="tls", auth="xoauth2"
    )
    with pytest.raises(Pop3AuthenticationError, match=r"\[AUTH\]"):
        await Pop3Mailbox(config, StaticTokenProvider("forged")).count()


async def test_a_wrong_password_is_refused(
    hmrc_mailbox: DovecotServer, local_certificate: LocalCertificate
) -> None:
    config = password_login(hmrc_mailbox.pop3_port, local_certificate, password="wrong")
    with pytest.raises(Pop3AuthenticationError):
        await Pop3Mailbox(config).count()


async def test_a_connection_dropped_mid_retr_fails_and_loses_nothing(
    hmrc_mailbox: DovecotServer, local_certificate: LocalCertificate
) -> None:
    hmrc_mailbox.deliver(MAILBOX_USER, REPLY)
    hmrc_mailbox.deliver(MAILBOX_USER, USAGE)
    with FaultyProxy(
        hmrc_mailbox.pop3_port, cut_after_command=b"RETR", cut_after_bytes=300
    ) as proxy:
        config = password_login(proxy.port, local_certificate, security="none")
        mailbox = Pop3Mailbox(config)
        with pytest.raises(Pop3TransientError):
            await mailbox.fetch_all()
        assert proxy.cuts == 1

    assert hmrc_mailbox.stored(MAILBOX_USER) == 2
    direct = Pop3Mailbox(password_login(hmrc_mailbox.pop3_port, local_certificate))
    assert [message.raw for message in await direct.fetch_all()] == [REPLY, USAGE]


async def test_messages_over_the_size_limit_are_listed_but_not_fetched(
    hmrc_mailbox: DovecotServer, local_certificate: LocalCertificate
) -> None:
    hmrc_mailbox.deliver(MAILBOX_USER, b"Subject: small\r\n\r\nhi\r\n")
    hmrc_mailbox.deliver(MAILBOX_USER, REPLY)
    mailbox = Pop3Mailbox(password_login(hmrc_mailbox.pop3_port, local_certificate))

    small, large = await mailbox.fetch_all(max_bytes=200)

    assert small.raw == b"Subject: small\r\n\r\nhi\r\n"
    assert (large.raw, large.size) == (None, len(REPLY))
    assert [m.raw for m in await mailbox.fetch_all(max_messages=1)] == [small.raw]


async def test_no_server_listening_is_transient(local_certificate: LocalCertificate) -> None:
    config = password_login(free_port(), local_certificate)
    with pytest.raises(Pop3TransientError):
        await Pop3Mailbox(config).count()


async def test_an_untrusted_certificate_is_refused(
    hmrc_mailbox: DovecotServer, local_certificate: LocalCertificate
) -> None:
    config = password_login(hmrc_mailbox.pop3s_port, local_certificate, security="tls", ca_file="")
    with pytest.raises(Pop3TransientError, match="CERTIFICATE_VERIFY_FAILED"):
        await Pop3Mailbox(config).count()


def test_xoauth2_string_is_the_sasl_format() -> None:
    # base64("user=u@x\x01auth=Bearer tok\x01\x01"), as Microsoft documents it
    assert xoauth2_string("u@x", "tok") == "dXNlcj11QHgBYXV0aD1CZWFyZXIgdG9rAQE="


def test_settings_without_a_host_say_what_to_set(lg_settings: LicenceGatewaySettings) -> None:
    with pytest.raises(NotConfiguredError, match="LICENCE_GATEWAY_POP3_HOST"):
        Pop3Config.from_settings(lg_settings)
    settings = lg_settings.model_copy(
        update={
            "pop3_host": "outlook.office365.com",
            "pop3_username": MAILBOX_USER,
            "pop3_auth": "password",
            "pop3_password": SecretStr(""),
        }
    )
    with pytest.raises(NotConfiguredError, match="LICENCE_GATEWAY_POP3_PASSWORD"):
        Pop3Config.from_settings(settings)
