"""The HMRC simulator: its POP3 server alone (RFC 1939 conformance through stdlib poplib), then
licenceData in over SMTP and licenceReply out over POP3."""

from __future__ import annotations

import asyncio
import base64
import poplib
import ssl
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from licence_gateway.simulators.pop3_server import (
    FolderMailbox,
    MemoryMailbox,
    Pop3Server,
    static_token_check,
)

USER, PASSWORD, TOKEN = "icms-mailbox@example.com", "mailbox-secret", "token-123"


def message(subject: str, body: str = "hello") -> bytes:
    return f"From: chief@hmrc.example\nSubject: {subject}\n\n{body}\n".encode()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the address the clients connect to)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


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
    sasl = base64.b64encode(f"user={USER}\x01auth=Bearer {token}\x01\x01".encode()).decode()
    if inline:
        client._shortcmd(f"AUTH XOAUTH2 {sasl}")
    else:
        assert client._shortcmd("AUTH XOAUTH2").startswith(b"+")
        client._shortcmd(sasl)
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
