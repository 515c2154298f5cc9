"""`serve --workers N`: N processes share the port (SO_REUSEPORT) and stop together."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.infra import free_port


def test_several_workers_answer_on_one_port_and_stop_on_sigterm(
    database_url: str, redis_url: str
) -> None:
    port = free_port()
    process = _serve_two_workers(database_url, redis_url, port)
    try:
        deadline = time.monotonic() + 60
        pids: set[int] = set()
        while time.monotonic() < deadline and len(pids) < 2:
            try:
                # A new connection each time: the kernel spreads them over the two listeners.
                with httpx.Client() as client:
                    client.get(f"http://127.0.0.1:{port}/healthz").raise_for_status()
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            pids = _server_processes(process.pid)
        assert len(pids) == 2
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()


def _serve_two_workers(database_url: str, redis_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LICENCE_GATEWAY_DATABASE_URL": database_url,
        "LICENCE_GATEWAY_REDIS_URL": redis_url,
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # serve makes its own
    command = [str(Path(sys.executable).parent / "licence-gateway"), "serve", "--port", str(port)]
    return subprocess.Popen([*command, "--workers", "2"], env=env, stderr=subprocess.DEVNULL)


def _server_processes(pid: int) -> set[int]:
    """The worker processes under `serve` (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found: set[int] = set()
    for child in children.read_text().split() if children.exists() else []:
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"spawn_main" in cmdline:
            found.add(int(child))
    return found


def test_serve_runs_one_worker_per_core_by_default_and_none_outlives_a_killed_parent(
    database_url: str, redis_url: str
) -> None:
    """docker-compose runs `serve` without --workers: it gets one worker per core, and a SIGKILL
    of `serve` (an OOM kill, a crash harness) takes the workers with it instead of leaving them
    holding the port."""
    port = free_port()
    env = {
        **os.environ,
        "LICENCE_GATEWAY_DATABASE_URL": database_url,
        "LICENCE_GATEWAY_REDIS_URL": redis_url,
    }
    command = [str(Path(sys.executable).parent / "licence-gateway"), "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    cores = len(os.sched_getaffinity(0))
    try:
        deadline = time.monotonic() + 60
        pids: set[int] = set()
        while time.monotonic() < deadline and len(pids) < cores:
            time.sleep(0.2)
            pids = _server_processes(process.pid) if cores > 1 else {process.pid}
        assert len(pids) == cores
        process.kill()
        process.wait(timeout=10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
            time.sleep(0.1)
        assert not [pid for pid in pids if _alive(pid)]
    finally:
        if process.poll() is None:
            process.kill()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_metrics_of_several_workers_add_up_whichever_answers(
    database_url: str, redis_url: str
) -> None:
    """Prometheus multiprocess mode: every scrape counts the requests all the workers answered."""
    port = free_port()
    process = _serve_two_workers(database_url, redis_url, port)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while len(_server_processes(process.pid)) < 2 or not _answers(f"{url}/readyz"):
            assert time.monotonic() < deadline, "serve --workers 2 did not start"
            time.sleep(0.2)
        answered = 40
        for _ in range(answered):  # a new connection each: the kernel spreads them over both
            httpx.get(f"{url}/healthz").raise_for_status()
        scraped = [_healthz_count(httpx.get(f"{url}/metrics").text) for _ in range(10)]
        assert scraped == [answered] * 10
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.TransportError:
        return False


def _healthz_count(exposition: str) -> int:
    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "http_requests_total" and sample.labels["route"] == "/healthz":
                total += sample.value
    return int(total)
