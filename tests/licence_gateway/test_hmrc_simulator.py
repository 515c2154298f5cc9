"""The HMRC simulator: its POP3 server alone (RFC 1939 conformance through stdlib poplib), then
licenceData in over SMTP and licenceReply out over POP3, through the gateway's own SMTP and POP3
adapters and CHIEF codec."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import json
import poplib
import ssl
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from licence_gateway.adapters.identity import StaticTokenProvider
from licence_gateway.adapters.pop3 import Pop3Config, Pop3Mailbox
from licence_gateway.adapters.smtp import (
    SmtpConfig,
    SmtpPermanentError,
    SmtpSender,
    new_message_id,
)
from licence_gateway.domain.chief import (
    FileError,
    LicenceDataFile,
    LicenceDataSummary,
    ReplyOutcome,
    build_licence_data,
    parse_licence_reply,
    parse_usage_data,
)
from licence_gateway.simulators.hmrc import HmrcConfig, HmrcSimulator, OutcomeMix, read_file
from licence_gateway.simulators.microsoft_identity import IdentityDirectory
from licence_gateway.simulators.microsoft_identity import create_app as create_identity_app
from licence_gateway.simulators.pop3_server import (
    FolderMailbox,
    MemoryMailbox,
    Pop3Server,
    dot_stuffed,
    introspection_token_check,
    static_token_check,
    to_crlf,
    xoauth2_credentials,
)
from licence_gateway.simulators.serving import BackgroundServer
from licence_gateway.simulators.tls import write_self_signed_certificate
from tests.support.infra import free_port

USER, PASSWORD = "icms-mailbox@example.com", "mailbox-secret"
TOKEN = "t" * 1800  # as long as a real Entra token: past aiosmtpd's default line limits


def message(subject: str, body: str = "hello") -> bytes:
    return f"From: chief@hmrc.example\nSubject: {subject}\n\n{body}\n".encode()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the address the clients connect to)."""
    files = write_self_signed_certificate(tmp_path_factory.mktemp("tls"))
    return files.cert, files.key


@pytest_asyncio.fixture
async def pop3() -> AsyncIterator[Pop3Server]:
    server = Pop3Server(
        MemoryMailbox(), passwords={USER: PASSWORD}, token_check=static_token_check(TOKEN)
    )
    await server.start()
    yield server
    await server.stop()


async def in_thread(function, *args):  # poplib blocks: keep the server's loop running
    return await asyncio.to_thread(function, *args)


def login(port: int) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", port, timeout=5)
    client.user(USER)
    client.pass_(PASSWORD)
    return client


def xoauth2(port: int, token: str, *, inline: bool = False) -> poplib.POP3:
    """The dialogue icms-hmrc has with Microsoft 365 (`AUTH XOAUTH2`, `+ `, the string)."""
    client = poplib.POP3("127.0.0.1", port, timeout=5)
    raw: Any = client  # `_shortcmd` is poplib's own (private) way to send a bare command
    sasl = base64.b64encode(f"user={USER}\x01auth=Bearer {token}\x01\x01".encode()).decode()
    if inline:
        raw._shortcmd(f"AUTH XOAUTH2 {sasl}")
    else:
        assert raw._shortcmd("AUTH XOAUTH2").startswith(b"+")
        raw._shortcmd(sasl)
    return client


async def test_capa_lists_what_the_server_does(pop3: Pop3Server) -> None:
    def capa() -> dict:
        client = poplib.POP3("127.0.0.1", pop3.port, timeout=5)
        try:
            return client.capa()
        finally:
            client.quit()

    capabilities = await in_thread(capa)
    assert capabilities["SASL"] == ["PLAIN", "XOAUTH2"]
    assert {"USER", "UIDL", "TOP"} <= set(capabilities)
    assert "STLS" not in capabilities  # no certificate configured


async def test_stat_list_uidl_retr_and_dot_stuffing(pop3: Pop3Server) -> None:
    pop3.mailbox.add(message("first", "line one\n.starts with a dot\n..two dots"))
    pop3.mailbox.add(message("second"))

    def session() -> tuple:
        client = login(pop3.port)
        try:
            stat = client.stat()
            listing = client.list()[1]
            uidl = client.uidl()[1]
            one = client.uidl(1)
            retr = client.retr(1)[1]
            top = client.top(2, 0)[1]
            return stat, listing, uidl, one, retr, top
        finally:
            client.quit()

    stat, listing, uidl, one, retr, top = await in_thread(session)
    sizes = [len(m.data) for m in pop3.mailbox.visible(time.time())]
    assert stat == (2, sum(sizes))
    assert listing == [f"1 {sizes[0]}".encode(), f"2 {sizes[1]}".encode()]
    uids = [line.split()[1] for line in uidl]
    assert len(set(uids)) == 2 and one == b"+OK 1 " + uids[0]
    # poplib undoes the stuffing: the lines come back as stored
    assert retr[-3:] == [b"line one", b".starts with a dot", b"..two dots"]
    assert top == [b"From: chief@hmrc.example", b"Subject: second", b""]


async def test_deletes_apply_only_at_quit_and_rset_undoes_them(pop3: Pop3Server) -> None:
    for subject in ("a", "b", "c"):
        pop3.mailbox.add(message(subject))

    def dropped_connection() -> None:
        client = login(pop3.port)
        client.dele(1)
        client.close()  # no QUIT: the RFC says nothing is deleted

    def rset_then_quit() -> None:
        client = login(pop3.port)
        client.dele(1)
        client.dele(2)
        client.rset()
        client.dele(3)
        with pytest.raises(poplib.error_proto, match="already deleted"):
            client.retr(3)
        assert client.stat()[0] == 2
        client.quit()

    await in_thread(dropped_connection)
    await asyncio.sleep(0.05)
    assert len(pop3.mailbox.visible(time.time())) == 3
    await in_thread(rset_then_quit)
    subjects = [m.data.split(b"Subject: ")[1][:1] for m in pop3.mailbox.visible(time.time())]
    assert subjects == [b"a", b"b"]


async def test_xoauth2_both_forms_and_bad_tokens(pop3: Pop3Server) -> None:
    pop3.mailbox.add(message("x"))

    def count(inline: bool) -> int:
        client = xoauth2(pop3.port, TOKEN, inline=inline)
        try:
            return client.stat()[0]
        finally:
            client.quit()

    assert await in_thread(count, False) == 1
    assert await in_thread(count, True) == 1
    with pytest.raises(poplib.error_proto, match="Authentication failure"):
        await in_thread(xoauth2, pop3.port, "wrong-token")
    with pytest.raises(poplib.error_proto, match="Authentication failure"):
        await in_thread(login_with, pop3.port, USER, "wrong-password")


async def test_xoauth2_tokens_checked_by_the_identity_simulator() -> None:
    """Long (~1.8 KB) tokens from the Microsoft identity stand-in, checked by introspection."""
    directory = IdentityDirectory(tenant_id="tenant")
    app = directory.register("client", "secret", USER)
    token = directory.issue(app, "https://outlook.office.com/.default")
    stranger = directory.issue(directory.register("other", "s", "other@x"), "scope")
    with BackgroundServer(create_identity_app(directory)) as identity:
        check = introspection_token_check(f"{identity.url}introspect")
        server = Pop3Server(MemoryMailbox(), passwords={}, token_check=check)
        await server.start()
        try:
            box = Pop3Mailbox(
                Pop3Config("127.0.0.1", server.port, "none", "xoauth2", USER, "", 5),
                StaticTokenProvider(token),
            )
            assert await box.count() == 0
            with pytest.raises(poplib.error_proto, match="Authentication failure"):
                await in_thread(xoauth2, server.port, stranger)  # valid, for another mailbox
        finally:
            await server.stop()


def login_with(port: int, user: str, password: str) -> None:
    client = poplib.POP3("127.0.0.1", port, timeout=5)
    client.user(user)
    client.pass_(password)


async def test_commands_out_of_state_are_refused_and_maildrop_is_locked(pop3: Pop3Server) -> None:
    def check() -> None:
        client = poplib.POP3("127.0.0.1", pop3.port, timeout=5)
        with pytest.raises(poplib.error_proto, match="wrong state"):
            client.stat()
        with pytest.raises(poplib.error_proto, match="USER first"):
            client.pass_(PASSWORD)
        client.user(USER)
        client.pass_(PASSWORD)
        with pytest.raises(poplib.error_proto, match="IN-USE"):
            login(pop3.port)
        with pytest.raises(poplib.error_proto, match="no such message"):
            client.retr(9)
        assert client.noop() == b"+OK"
        client.quit()
        login(pop3.port).quit()  # released at QUIT

    await in_thread(check)


async def test_an_overlong_line_ends_that_session_only(pop3: Pop3Server) -> None:
    pop3.mailbox.add(message("kept"))
    reader, writer = await asyncio.open_connection("127.0.0.1", pop3.port)
    await reader.readline()
    writer.write(b"USER " + b"x" * 40_000 + b"\r\n")
    await writer.drain()
    assert await reader.read() == b""  # closed
    writer.close()

    def count() -> int:
        client = login(pop3.port)
        try:
            return client.stat()[0]
        finally:
            client.quit()

    assert await in_thread(count) == 1


async def test_messages_arriving_during_a_session_wait_for_the_next(pop3: Pop3Server) -> None:
    def session() -> tuple[int, int]:
        client = login(pop3.port)
        pop3.mailbox.add(message("late"))
        during = client.stat()[0]
        client.quit()
        client = login(pop3.port)
        after = client.stat()[0]
        client.quit()
        return during, after

    assert await in_thread(session) == (0, 1)


async def test_stls_upgrades_the_session(tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    server = Pop3Server(MemoryMailbox(), passwords={USER: PASSWORD}, tls_context=server_context)
    await server.start()
    server.mailbox.add(message("secret"))

    def session() -> int:
        client = poplib.POP3("127.0.0.1", server.port, timeout=5)
        assert "STLS" in client.capa()
        client.stls(ssl.create_default_context(cafile=cert))
        assert "STLS" not in client.capa()
        client.user(USER)
        client.pass_(PASSWORD)
        count = client.stat()[0]
        client.quit()
        return count

    try:
        assert await in_thread(session) == 1
    finally:
        await server.stop()


def test_folder_mailbox_survives_a_restart_and_hides_future_messages(tmp_path: Path) -> None:
    first = FolderMailbox(tmp_path / "box")
    now = time.time()
    uid = first.add(message("now"), available_at=now - 1)
    first.add(message("later"), available_at=now + 60)
    again = FolderMailbox(tmp_path / "box")
    assert [m.uid for m in again.visible(now)] == [uid]
    assert len(again.visible(now + 61)) == 2
    again.delete([uid])
    assert [b"later" in m.data for m in FolderMailbox(tmp_path / "box").visible(now + 61)] == [True]


# -- licenceData in over SMTP, licenceReply out over POP3 ------------------------------------

GATEWAY, CHIEF = "gateway@licence-gateway.local", "chief@hmrc.simulator.local"
WHEN = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


def licence(number: int, action: str = "insert") -> dict:
    """A valid SIL licence; a cancel carries only the common fields, as ICMS sends it."""
    common = {
        "type": "SIL",
        "action": action,
        "id": f"00000000-0000-4000-8000-{number:012d}",
        "reference": f"IMA/2026/{number:05d}",
        "licence_reference": f"GBSIL{number:07d}H",
        "start_date": "2026-06-29",
        "end_date": "2027-12-29",
    }
    if action == "cancel":
        return common
    return common | {
        "organisation": {
            "eori_number": "GB123456654321000",
            "name": "SIL Organisation",
            "address": {"line_1": "1 High Street", "postcode": "S227ZZ"},
        },
        "country_code": "US",
        "restrictions": "",
        "goods": [{"description": "Rifles", "quantity": 2, "controlled_by": "Q", "unit": 30}],
    }


def licence_file(run: int, *numbers: int, action: str = "insert") -> LicenceDataFile:
    return build_licence_data(
        [licence(n, action) for n in numbers], run_number=run, created_at=WHEN
    )


def simulator_config(**overrides: object) -> HmrcConfig:
    defaults: dict = {
        "smtp_username": GATEWAY,
        "smtp_password": PASSWORD,
        "mailbox_user": USER,
        "mailbox_password": PASSWORD,
        "reply_sender": CHIEF,
        "reply_delay": 0.0,
        "mix": OutcomeMix(seed=7, accept_ratio=0.5),
    }
    return HmrcConfig(**(defaults | overrides))


@pytest_asyncio.fixture
async def hmrc() -> AsyncIterator[HmrcSimulator]:
    simulator = HmrcSimulator(simulator_config(), token_check=static_token_check(TOKEN))
    await simulator.start()
    yield simulator
    await simulator.stop()


def sender(simulator: HmrcSimulator, **overrides: object) -> SmtpSender:
    """The gateway's own SMTP client, configured as the stack configures it."""
    config: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": simulator.smtp_port,
        "security": "none",
        "auth": "password",
        "username": GATEWAY,
        "password": PASSWORD,
        "from_address": GATEWAY,
        "to_address": CHIEF,
        "timeout_seconds": 5,
    }
    return SmtpSender(SmtpConfig(**(config | overrides)), StaticTokenProvider(TOKEN))


def mailbox(
    simulator: HmrcSimulator, auth: Literal["xoauth2", "password"] = "password"
) -> Pop3Mailbox:
    """The gateway's own POP3 client."""
    config = Pop3Config("127.0.0.1", simulator.pop3.port, "none", auth, USER, PASSWORD, 5)
    return Pop3Mailbox(config, StaticTokenProvider(TOKEN))


async def send(simulator: HmrcSimulator, file: LicenceDataFile, **overrides: object) -> None:
    await sender(simulator, **overrides).send_licence_data(
        file_name=file.name, text=file.attachment, message_id=new_message_id()
    )


async def replies(
    simulator: HmrcSimulator, auth: Literal["xoauth2", "password"] = "password"
) -> list[EmailMessage]:
    box = mailbox(simulator, auth)
    messages = await box.fetch_all()
    await box.delete([m.uid for m in messages])
    return [email.message_from_bytes(m.raw or b"", policy=email.policy.default) for m in messages]


def attachment_text(message: EmailMessage) -> str:
    (part,) = message.iter_attachments()
    return (
        part.get_content() if isinstance(part.get_content(), str) else part.get_content().decode()
    )


async def test_licence_data_in_reply_out_through_the_gateway_clients(hmrc: HmrcSimulator) -> None:
    file = licence_file(41, *range(1, 11))
    await send(hmrc, file)
    (reply,) = await replies(hmrc)
    assert reply["From"].addresses[0].addr_spec == CHIEF
    assert reply["Subject"].startswith("CHIEF_licenceReply_41_")
    (part,) = reply.iter_attachments()
    assert part.get_filename() == reply["Subject"]
    text = part.get_content().decode("ascii")
    assert {len(line) for line in text.splitlines()} == {185}  # padded as CHIEF pads
    parsed = parse_licence_reply(text)
    assert parsed.outcome == ReplyOutcome.VALID
    assert parsed.header is not None and parsed.header.run_number == "41"
    outcomes = {*parsed.accepted, *(r.reference for r in parsed.rejected)}
    assert outcomes == set(file.references)
    assert parsed.accepted and parsed.rejected  # a 50/50 mix over ten licences has both
    assert all(r.errors[0].code.isdigit() for r in parsed.rejected)  # ICMS wants numbers
    assert await replies(hmrc) == []  # deleted by the QUIT that followed


async def test_legacy_layout_and_cancels_are_read_too(hmrc: HmrcSimulator) -> None:
    await send(hmrc, licence_file(3, 1, 2, action="cancel"), legacy_layout=True)
    (reply,) = await replies(hmrc)
    (part,) = reply.iter_attachments()
    parsed = parse_licence_reply(part.get_content().decode("ascii"))
    assert parsed.outcome == ReplyOutcome.VALID
    assert len(parsed.accepted) + len(parsed.rejected) == 2


async def test_same_seed_same_outcomes_other_seed_others() -> None:
    file = licence_file(5, *range(1, 41))

    async def outcomes(seed: int, order: tuple[int, ...] = ()) -> tuple:
        simulator = HmrcSimulator(simulator_config(mix=OutcomeMix(seed=seed, accept_ratio=0.5)))
        await simulator.start()
        try:
            await send(simulator, file)
            (reply,) = await replies(simulator)
        finally:
            await simulator.stop()
        (part,) = reply.iter_attachments()
        parsed = parse_licence_reply(part.get_content().decode("ascii"))
        return parsed.accepted, tuple(r.reference for r in parsed.rejected)

    first = await outcomes(1)
    assert await outcomes(1) == first
    assert await outcomes(2) != first
    assert 5 < len(first[0]) < 35  # about half accepted


async def test_file_errors_for_a_broken_file_a_reused_run_and_the_mix() -> None:
    simulator = HmrcSimulator(simulator_config(mix=OutcomeMix(seed=1, file_error_ratio=1.0)))
    await simulator.start()
    try:
        good = licence_file(8, 1)
        broken_text = good.attachment.replace("\\trader\\", "\\trader\\extra\\")
        await sender(simulator).send_licence_data(
            file_name=good.name, text=broken_text, message_id=new_message_id()
        )
        await send(simulator, licence_file(8, 2))  # same run number, other bytes
        await send(simulator, licence_file(9, 3))  # fine, but the mix fails every file
        texts = [attachment_text(m) for m in await replies(simulator)]
    finally:
        await simulator.stop()
    parsed = [parse_licence_reply(text) for text in texts]
    assert [p.outcome for p in parsed] == [ReplyOutcome.INVALID] * 3
    messages = [p.file_errors[0].text for p in parsed]
    assert "trader doesn't contain all necessary values" in messages[0]
    assert messages[1] == "Run 8 already received"
    assert "CHIEF server application error" in messages[2]
    assert simulator.totals.file_errors == 3


async def test_resent_identical_file_is_answered_once(hmrc: HmrcSimulator) -> None:
    file = licence_file(12, 1, 2)
    await send(hmrc, file)
    await send(hmrc, file)  # the gateway re-sends a mail it was not sure got through
    assert len(await replies(hmrc)) == 1


async def test_reply_waits_for_the_delay() -> None:
    simulator = HmrcSimulator(simulator_config(reply_delay=0.6))
    await simulator.start()
    try:
        await send(simulator, licence_file(2, 1))
        assert await mailbox(simulator).count() == 0
        await asyncio.sleep(0.7)
        assert await mailbox(simulator).count() == 1
    finally:
        await simulator.stop()


async def test_smtp_refuses_bad_logins_and_mail_without_a_licence_file(hmrc: HmrcSimulator) -> None:
    with pytest.raises(SmtpPermanentError):
        await send(hmrc, licence_file(1, 1), password="wrong")
    with pytest.raises(SmtpPermanentError, match="not a licenceData file name"):
        await sender(hmrc).send_file(
            recipient=CHIEF, subject="hello", file_name="notes.txt", text="hi", message_id="<x@y>"
        )
    await send(hmrc, licence_file(1, 1), auth="xoauth2")  # the token works for SMTP too
    assert hmrc.totals.files == 1


async def test_usage_data_reports_the_accepted_licences(hmrc: HmrcSimulator) -> None:
    await send(hmrc, licence_file(20, *range(1, 7)))
    await send(hmrc, licence_file(21, 1, action="cancel"))
    (first, second) = await replies(hmrc)
    accepted = [
        *parse_licence_reply(attachment_text(first)).accepted,
        *parse_licence_reply(attachment_text(second)).accepted,
    ]
    subject = hmrc.emit_usage_data()
    (usage_mail,) = await replies(hmrc)
    assert usage_mail["Subject"] == subject and "_usageData_1_" in subject
    usage = parse_usage_data(attachment_text(usage_mail))
    statuses = [(u.licence_ref, u.licence_status) for u in usage.usages]
    assert len(statuses) == len(accepted)
    cancelled = [status for ref, status in statuses if status == "C"]
    assert len(cancelled) == ("IMA/2026/00001" in accepted[-1:])


async def test_starttls_on_both_servers_with_the_gateway_clients(
    tls_files: tuple[Path, Path],
) -> None:
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    simulator = HmrcSimulator(simulator_config(tls_context=context))
    await simulator.start()
    try:
        with pytest.raises(SmtpPermanentError):  # no login before STARTTLS
            await send(simulator, licence_file(1, 1), security="none")
        await send(simulator, licence_file(1, 1), security="starttls", ca_file=str(cert))
        config = Pop3Config(
            "127.0.0.1", simulator.pop3.port, "starttls", "password", USER, PASSWORD, 5, str(cert)
        )
        assert await Pop3Mailbox(config).count() == 1
    finally:
        await simulator.stop()


async def test_the_cli_serves_until_terminated(tmp_path: Path) -> None:
    smtp_port, pop3_port = free_port(), free_port()
    status_file = tmp_path / "not-made-yet" / "status.json"
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "licence-gateway"),
        *("simulate", "hmrc", "--smtp-port", str(smtp_port), "--pop3-port", str(pop3_port)),
        *("--smtp-username", GATEWAY, "--smtp-password", PASSWORD, "--reply-delay", "0"),
        *("--mailbox-user", USER, "--mailbox-password", PASSWORD, "--reply-sender", CHIEF),
        *("--mailbox-dir", str(tmp_path / "box"), "--status-file", str(status_file)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        ready = await asyncio.wait_for(process.stdout.readline(), 30)
        assert f"smtp 127.0.0.1:{smtp_port} pop3 127.0.0.1:{pop3_port}" in ready.decode()
        smtp = SmtpConfig(
            "127.0.0.1", smtp_port, "none", "password", GATEWAY, PASSWORD, GATEWAY, CHIEF, 5
        )
        file = licence_file(77, 1, 2, 3)
        await SmtpSender(smtp).send_licence_data(
            file_name=file.name, text=file.attachment, message_id=new_message_id()
        )
        box = Pop3Config("127.0.0.1", pop3_port, "none", "password", USER, PASSWORD, 5)
        assert await Pop3Mailbox(box).count() == 1
        assert len(list((tmp_path / "box").glob("*.eml"))) == 1  # on disk, for a restart
        status = json.loads(status_file.read_text())
        assert status["files"] == 1 and status["accepted"] + status["rejected"] == 3
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0


# -- properties of the parsing helpers -------------------------------------------------------

text_without_separators = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x01"), min_size=1
)


@given(user=text_without_separators.filter(lambda u: "=" not in u), token=st.text(min_size=1))
def test_xoauth2_strings_round_trip(user: str, token: str) -> None:
    token = token.replace("\x01", "").strip() or "t"
    blob = f"user={user}\x01auth=Bearer {token}\x01\x01".encode()
    assert xoauth2_credentials(blob) == (user, token)


@given(st.binary())
def test_xoauth2_reader_never_raises(blob: bytes) -> None:
    credentials = xoauth2_credentials(blob)
    assert credentials is None or all(credentials)


@given(st.binary())
def test_dot_stuffing_round_trips_any_message(data: bytes) -> None:
    """What a client gets back after undoing the stuffing is the message as stored."""
    stored = to_crlf(data)
    received = [line[1:] if line.startswith(b"..") else line for line in dot_stuffed(stored)]
    assert b"\r\n".join(received) + b"\r\n" == stored
    assert b"." not in dot_stuffed(stored)  # no line could end the transfer early


@given(st.binary(max_size=2000))
def test_any_attachment_gets_a_verdict_never_an_exception(data: bytes) -> None:
    verdict = read_file(data, "1")
    assert isinstance(verdict, FileError | LicenceDataSummary)


COMMAND_WORDS = ["USER", "PASS", "AUTH", "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "RSET"]
COMMAND_WORDS += ["NOOP", "CAPA", "STLS", "AUTH PLAIN", "AUTH XOAUTH2", "APOP", "QUI"]
one_line = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"))
command_lines = st.lists(
    st.builds(lambda word, arg: f"{word} {arg}".strip(), st.sampled_from(COMMAND_WORDS), one_line),
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(lines=command_lines)
async def test_any_command_gets_one_answer_and_the_server_lives_on(lines: list[str]) -> None:
    server = Pop3Server(MemoryMailbox(), passwords={USER: PASSWORD})
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        await reader.readline()
        for line in lines:
            writer.write(line.encode() + b"\r\n")
            answer = await reader.readline()
            if answer.startswith(b"+ "):  # an AUTH continuation: cancel it
                writer.write(b"*\r\n")
                answer = await reader.readline()
            assert answer[:1] in (b"+", b"-"), answer
            if answer.startswith(b"+OK Capability") or answer == b"+OK\r\n":
                while await reader.readline() not in (b".\r\n", b""):
                    pass  # the rest of CAPA's or a bare AUTH's list
        writer.close()
        assert await in_thread(lambda: login(server.port).quit()) == b"+OK bye"
    finally:
        await server.stop()
