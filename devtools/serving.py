"""Serve a simulator's ASGI app with uvicorn: in the foreground (CLI) or in a thread (tests)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Self

import uvicorn

from devtools.tls import CertificateFiles


def _config(
    app: Any, host: str, port: int, certificate: CertificateFiles | None, **extra: Any
) -> uvicorn.Config:
    tls: dict[str, Any] = {}
    if certificate is not None:
        tls = {"ssl_certfile": str(certificate.cert), "ssl_keyfile": str(certificate.key)}
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        **tls,
        **extra,
    )


def serve(app: Any, host: str, port: int, certificate: CertificateFiles | None = None) -> None:
    """Run until interrupted."""
    uvicorn.Server(_config(app, host, port, certificate)).run()


class StartsAndStops:
    """`with thing:` starts it and stops it again; subclasses define start() and stop()."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class BackgroundServer(StartsAndStops):
    """The app on 127.0.0.1 and a free port, served by a thread for the life of a `with` block."""

    def __init__(self, app: Any, certificate: CertificateFiles | None = None) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        scheme = "https" if certificate else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}/"
        self._server = uvicorn.Server(_config(app, "127.0.0.1", self.port, certificate))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
