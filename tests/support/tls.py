"""TLS for the test servers: one self-signed certificate for 127.0.0.1, and contexts using it."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from devtools.tls import CertificateFiles, write_self_signed_certificate


@dataclass(frozen=True)
class LocalCertificate:
    files: CertificateFiles

    @property
    def ca_file(self) -> str:
        """What clients set as their CA bundle (e.g. LICENCE_GATEWAY_TLS_CA_FILE)."""
        return str(self.files.cert)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.files.cert, self.files.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


def make_local_certificate(directory: Path) -> LocalCertificate:
    return LocalCertificate(write_self_signed_certificate(directory))
