"""Process control for the reliability harnesses: services that come back after SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import IO

from tests.support.infra import free_port


class Respawning:
    """One service process, started again every time it dies, until `stop()`.

    `kill()` may be called from any thread (a simulator's hook): it only sends SIGKILL; the
    `run()` task notices the death, counts it and starts a new process.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str],
        log_path: Path,
        after_death: Callable[[], Awaitable[object]] | None = None,
        ready_marker: bytes = b"",
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self.started_at = 0.0  # monotonic time of the current process's start
        self.generation = 0  # how many processes have been started
        self.kills = 0  # deaths by SIGKILL, each followed by a restart
        self.other_exits: list[int] = []  # anything else is a finding, not a kill
        self.after_death = after_death  # runs between a death and the restart
        self.ready_marker = ready_marker  # what the process logs once it is up
        self.restarts_s: list[float] = []  # from each SIGKILL to the new process's ready marker
        self._died_at: float | None = None
        self._log_offset = 0  # where the current process's log starts
        self._stopping = False

    @property
    def pid(self) -> int | None:
        process = self.process
        return process.pid if process is not None and process.returncode is None else None

    def kill(self) -> bool:
        """SIGKILL the current process; False if none is running."""
        pid = self.pid
        if pid is None or self._stopping:
            return False
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            return True
        return False

    async def run(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            while not self._stopping:
                code = await self._one_life(log)
                if self._stopping:
                    return
                if code == -signal.SIGKILL:
                    self.kills += 1
                    self._died_at = time.monotonic()
                else:
                    self.other_exits.append(code)
                    await asyncio.sleep(0.5)  # a crash loop must not spin
                if self.after_death is not None:
                    await self.after_death()

    def ready(self) -> bool:
        """The current process is running and has logged its ready marker."""
        if self.pid is None:
            return False
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            up = self.ready_marker in log.read()
        if up and self._died_at is not None:
            self.restarts_s.append(time.monotonic() - self._died_at)
            self._died_at = None
        return up

    async def _one_life(self, log: IO[bytes]) -> int:
        log.flush()
        self._log_offset = log.tell()
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, env=self.env, stdout=log, stderr=log
        )
        self.started_at = time.monotonic()
        self.generation += 1
        return await self.process.wait()

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; no restart."""
        self._stopping = True
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


def service_env(prefix: str, settings: dict[str, str]) -> dict[str, str]:
    """The environment of a service process: this one's, less any of the service's own settings,
    plus `settings` as PREFIX_NAME variables.

    Bytecode is written and read again, as an installed service has it: this machine's
    environment sets PYTHONDONTWRITEBYTECODE, which made every restart compile the services'
    modules anew, a good part of a restart's CPU."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(f"{prefix}_") and name != "PYTHONDONTWRITEBYTECODE"
    }
    env.update({f"{prefix}_{name.upper()}": value for name, value in settings.items()})
    return env


def api_replicas(
    command: Path, env: dict[str, str], logs: Path, count: int
) -> tuple[list[Respawning], list[int]]:
    """`count` replicas of a service's `serve`, each on a free port (returned beside them),
    logging to `logs/api-N.log`.

    One server process per replica, as a replica given one core runs (`serve` starts one per
    core): two replicas of two processes each on this machine's two cores made every restart
    cost three interpreters' imports, and a SIGKILL of `serve` then reached no request (its
    children finish theirs on the SIGTERM they get); here it kills the process serving."""
    ports = [free_port() for _ in range(count)]
    apis = [
        Respawning(
            f"api-{n}",
            [str(command), "serve", "--port", str(port), "--workers", "1"],
            env,
            logs / f"api-{n}.log",
            ready_marker=b"Application startup complete",
        )
        for n, port in enumerate(ports, start=1)
    ]
    return apis, ports
