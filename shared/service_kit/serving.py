"""Run an ASGI app factory under uvicorn, in one process or several.

Several processes each bind their own listening socket with SO_REUSEPORT, so the kernel spreads
new connections evenly over them. (uvicorn's own --workers shares one socket, and whichever
process wakes first tends to take every keep-alive connection, leaving the others idle.)

With several processes, Prometheus metrics run in multiprocess mode: each process writes its
samples to files in PROMETHEUS_MULTIPROC_DIR and `/metrics`, whichever process answers, adds up
all of them (service_kit.health). The directory is the operator's if set, else a temporary one;
either way it is emptied at start, as stale files from an earlier run would be counted.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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


MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_metrics_directory() -> Iterator[Path]:
    """An empty PROMETHEUS_MULTIPROC_DIR, set in the environment the worker processes inherit.

    The workers are spawned, so prometheus_client, which picks its storage when first imported,
    sees the variable in each of them.
    """
    chosen = os.environ.get(MULTIPROC_DIR_ENV)
    directory = Path(chosen) if chosen else Path(tempfile.mkdtemp(prefix="metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_DIR_ENV] = str(directory)
    try:
        yield directory
    finally:
        if chosen is None:
            del os.environ[MULTIPROC_DIR_ENV]
            shutil.rmtree(directory, ignore_errors=True)


def serve(app_factory: str, *, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve until SIGINT/SIGTERM; with several workers, stop all when one dies."""
    if workers <= 1:
        _serve(app_factory, host=host, port=port, workers=workers, log_level=log_level)
        return
    with shared_metrics_directory():
        _serve(app_factory, host=host, port=port, workers=workers, log_level=log_level)


def _serve(app_factory: str, *, host: str, port: int, workers: int, log_level: str) -> None:
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
    if not all(process.exitcode in clean for process in processes):
        sys.exit(1)
