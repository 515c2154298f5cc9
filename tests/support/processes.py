"""Process control for the reliability harnesses: services that come back after SIGKILL, and a
fast stand-in for the gateway worker's cron schedule."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import IO

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix
from arq.jobs import Job, JobStatus


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
            return self.ready_marker in log.read()

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


class JobTicker:
    """Enqueue each job again as soon as its previous run finished: cron, but back to back.

    A job its worker was killed running is replaced at once; one still queued or deferred (a
    retry) is replaced after `stale_after` seconds, as the next cron slot would.
    """

    def __init__(
        self,
        redis: ArqRedis,
        queue_name: str,
        functions: Sequence[str],
        every: float = 0.2,
        stale_after: float = 10.0,
        worker: Respawning | None = None,
    ) -> None:
        self.redis = redis
        self.queue_name = queue_name
        self.functions = list(functions)
        self.every = every
        self.stale_after = stale_after
        self.worker = worker  # a job it was running when it was killed will never finish
        self._serial = itertools.count()
        self._current: dict[str, tuple[str, float, int]] = {}

    async def run(self) -> None:
        while True:
            for function in self.functions:
                if await self._due(function):
                    job_id = f"reliability:{function}:{next(self._serial)}"
                    await self.redis.enqueue_job(
                        function, _job_id=job_id, _queue_name=self.queue_name
                    )
                    self._current[function] = (job_id, time.monotonic(), self._generation())
            await asyncio.sleep(self.every)

    def _generation(self) -> int:
        return self.worker.generation if self.worker is not None else 0

    async def _due(self, function: str) -> bool:
        if function not in self._current:
            return True
        job_id, enqueued_at, generation = self._current[function]
        if time.monotonic() - enqueued_at > self.stale_after:
            return True
        status = await Job(job_id, self.redis, _queue_name=self.queue_name).status()
        if status == JobStatus.in_progress:
            return generation != self._generation()  # its worker was killed
        return status in (JobStatus.complete, JobStatus.not_found)


async def forget_abandoned_jobs(redis: ArqRedis, queue_name: str) -> int:
    """Drop the jobs a killed worker was running, before its successor starts.

    arq retries them once their in-progress keys expire (job timeout + 10 s: five minutes
    here); until then they stay at the head of the queue, and a hundred kills in a few minutes
    leave enough of them to fill a worker's read window (100 jobs) and starve it. Only for a
    harness that knows no worker is alive at that moment; the ticker enqueues fresh jobs.
    """
    keys = [key async for key in redis.scan_iter(match=f"{in_progress_key_prefix}*")]
    job_ids = [key.decode().removeprefix(in_progress_key_prefix) for key in keys]
    if job_ids:
        await redis.zrem(queue_name, *job_ids)
        await redis.delete(*keys, *(job_key_prefix + job_id for job_id in job_ids))
    return len(job_ids)
