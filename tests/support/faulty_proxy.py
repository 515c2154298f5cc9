"""A TCP proxy that drops the connection part-way through a server's answer (plain text only).

    with FaultyProxy(upstream_port, cut_after_command=b"RETR", cut_after_bytes=200) as proxy:
        ... connect to 127.0.0.1:proxy.port ...

Once the client has sent a line starting with `cut_after_command`, the proxy forwards that many
more bytes from the server and then closes both sides: a connection lost mid-RETR.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from devtools.serving import StartsAndStops


class FaultyProxy(StartsAndStops):
    def __init__(
        self, upstream_port: int, *, cut_after_command: bytes, cut_after_bytes: int
    ) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.cut_after_command = cut_after_command.upper()
        self.cut_after_bytes = cut_after_bytes
        self.cuts = 0  # connections dropped so far
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> FaultyProxy:
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            armed = threading.Event()  # set once the client sent the command
            self._spawn(self._client_to_server, client, server, armed)
            self._spawn(self._server_to_client, server, client, armed)

    def _client_to_server(
        self, client: socket.socket, server: socket.socket, armed: threading.Event
    ) -> None:
        pending = b""
        while chunk := _receive(client):
            pending = (pending + chunk)[-4096:]
            if any(
                line.upper().startswith(self.cut_after_command) for line in pending.split(b"\n")
            ):
                armed.set()
            if not _send(server, chunk):
                break
        _close(client, server)

    def _server_to_client(
        self, server: socket.socket, client: socket.socket, armed: threading.Event
    ) -> None:
        budget = self.cut_after_bytes
        while chunk := _receive(server):
            if armed.is_set():
                if len(chunk) >= budget:
                    _send(client, chunk[:budget])
                    self.cuts += 1
                    break
                budget -= len(chunk)
            if not _send(client, chunk):
                break
        _close(client, server)


def _receive(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
