"""Run an ASGI app factory under uvicorn, in one process or several.

Several processes each bind their own listening socket with SO_REUSEPORT, so the kernel spreads
new connections evenly over them. (uvicorn's own --workers shares one socket, and whichever
process wakes first tends to take every keep-alive connection, leaving the others idle.)
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
from types import FrameType

import uvicorn

from service_kit.logging import configure_logging


def _config(app_factory: str) -> uvicorn.Config:
    return uvicorn.Config(
        app_factory, factory=True, log_config=None, access_log=False, proxy_headers=True
    )


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def one_per_core() -> int:
    """`serve`'s default: one worker per core this process may run on (a container's limit).
    An API worker is one single-threaded event loop, so fewer leaves cores idle under load."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _die_with_parent(parent: int) -> None:
    """Have the kernel send SIGTERM when `serve` dies, even by SIGKILL: no orphan keeps the port."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


def _serve_one(app_factory: str, host: str, port: int, log_level: str, parent: int) -> None:
    _die_with_parent(parent)
    configure_logging(log_level)
    uvicorn.Server(_config(app_factory)).run(sockets=[_listening_socket(host, port)])


def serve(app_factory: str, *, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve until SIGINT/SIGTERM; with several workers, stop all when one dies."""
    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(
            app_factory,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            access_log=False,
            proxy_headers=True,
        )
        return
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(
            target=_serve_one, args=(app_factory, host, port, log_level, os.getpid()), daemon=False
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.start()

    def stop(signum: int, _frame: FrameType | None) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes its requests and exits

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    multiprocessing.connection.wait([process.sentinel for process in processes])
    stop(signal.SIGTERM, None)
    for process in processes:
        process.join(timeout=30)
    # uvicorn re-raises the SIGTERM it handled once it has shut down: that is a clean stop.
    clean = {0, -signal.SIGTERM, -signal.SIGINT}
    sys.exit(0 if all(process.exitcode in clean for process in processes) else 1)
