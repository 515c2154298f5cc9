"""A real Dovecot 2.3 POP3 server for tests, on free 127.0.0.1 ports, with a Maildir per user.

Plain POP3 with STLS on one port, POP3S on another (both with the test certificate); USER/PASS
against one shared password, and AUTH XOAUTH2 through Dovecot's oauth2 passdb, which checks each
token at an introspection URL (the Microsoft identity simulator's /introspect).
Debian: `apt-get install dovecot-core dovecot-pop3d` (.ci/run does it); without them the tests
that use it are skipped (see tests/support/system_tools.py).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from licence_gateway.simulators.serving import StartsAndStops
from tests.support.infra import free_port
from tests.support.system_tools import require_tool
from tests.support.tls import LocalCertificate

# Debian's dovecot-core installs the master; it runs the POP3 server from its libexec directory.
POP3_BINARY = "/usr/lib/dovecot/pop3"


@dataclass(frozen=True)
class _MailOwner:
    user: str
    group: str
    uid: int
    gid: int


def _mail_owner() -> _MailOwner:
    """Mail files belong to an unprivileged user: `nobody` when we are root, else ourselves."""
    if os.geteuid() == 0:
        user = pwd.getpwnam("nobody")
        return _MailOwner("nobody", grp.getgrgid(user.pw_gid).gr_name, user.pw_uid, user.pw_gid)
    user = pwd.getpwuid(os.geteuid())
    return _MailOwner(user.pw_name, grp.getgrgid(user.pw_gid).gr_name, user.pw_uid, user.pw_gid)


class DovecotServer(StartsAndStops):
    def __init__(
        self, certificate: LocalCertificate, *, introspection_url: str, password: str
    ) -> None:
        self.executable = require_tool("dovecot", "dovecot-core")
        require_tool(POP3_BINARY, "dovecot-pop3d")
        # Not pytest's tmp_path: its 0700 parents keep the unprivileged mail user out.
        self.root = Path(tempfile.mkdtemp(prefix="dovecot-test-"))
        self.root.chmod(0o755)
        self.owner = _mail_owner()
        self.password = password
        self.pop3_port = free_port()
        self.pop3s_port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._write_config(certificate, introspection_url)

    def _write_config(self, certificate: LocalCertificate, introspection_url: str) -> None:
        root, owner = self.root, self.owner
        # Dovecot's unprivileged auth process reads the CA itself: keep a readable copy here.
        ca_file = root / "ca.pem"
        shutil.copyfile(certificate.ca_file, ca_file)
        ca_file.chmod(0o644)
        unprivileged = (
            ""
            if os.geteuid() == 0
            else f"default_login_user = {owner.user}\ndefault_internal_user = {owner.user}\n"
        )
        (root / "oauth2.conf.ext").write_text(
            f"introspection_mode = auth\n"
            f"introspection_url = {introspection_url}\n"
            f"tls_ca_cert_file = {ca_file}\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
            "force_introspection = yes\n"
        )
        (root / "dovecot.conf").write_text(
            f"""protocols = pop3
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
{unprivileged}ssl = yes
ssl_cert = <{certificate.files.cert}
ssl_key = <{certificate.files.key}
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2
auth_failure_delay = 0
mail_location = maildir:{root}/mail/%u/Maildir
passdb {{
  driver = oauth2
  mechanisms = xoauth2
  args = {root}/oauth2.conf.ext
}}
passdb {{
  driver = static
  mechanisms = plain login
  args = password={self.password}
}}
userdb {{
  driver = static
  args = uid={owner.uid} gid={owner.gid} home={root}/mail/%u
}}
# No growing delay after failed logins: tests fail logins on purpose, all from 127.0.0.1.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {self.pop3s_port}
    ssl = yes
  }}
}}
"""
        )

    def start(self) -> DovecotServer:
        self._process = subprocess.Popen(
            [self.executable, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while not (_answers(self.pop3_port) and _answers(self.pop3s_port)):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dovecot did not start: {self.log()[-2000:]}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def maildir(self, user: str) -> Path:
        return self.root / "mail" / user / "Maildir"

    def create_mailbox(self, user: str) -> Path:
        """An empty Maildir for the user, owned by the mail user (Dovecot may not create it)."""
        maildir = self.maildir(user)
        folders = (maildir.parent, maildir, *(maildir / name for name in ("tmp", "new", "cur")))
        (self.root / "mail").mkdir(exist_ok=True)
        for folder in folders:
            folder.mkdir(exist_ok=True)
            os.chown(folder, self.owner.uid, self.owner.gid)
        return maildir

    def deliver(self, user: str, raw: bytes) -> str:
        """Drop a message into the user's Maildir, as a delivery agent would; return its name."""
        maildir = self.create_mailbox(user)
        name = f"{time.time_ns()}.{uuid.uuid4().hex}.test"
        staged = maildir / "tmp" / name
        staged.write_bytes(raw)
        os.chown(staged, self.owner.uid, self.owner.gid)
        staged.rename(maildir / "new" / name)  # atomic: POP never sees half a message
        return name

    def stored(self, user: str) -> int:
        """How many messages the user's Maildir holds (new and seen)."""
        maildir = self.maildir(user)
        return sum(
            1
            for folder in ("new", "cur")
            if (maildir / folder).exists()
            for entry in (maildir / folder).iterdir()
        )

    def clear(self, user: str) -> None:
        """Empty the user's mailbox."""
        shutil.rmtree(self.root / "mail" / user, ignore_errors=True)
        self.create_mailbox(user)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
