"""A steady request rate held while the harnesses kill processes, with its latencies.

Requests start on a fixed schedule (open loop: a slow answer does not slow the next start), so a
stall shows as latency, not as fewer requests. A request that fails (refused, reset, 5xx while a
replica dies) is counted and retried by the caller's own logic, if it has any.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class SteadyLoad:
    name: str
    rate: float  # requests per second
    request: Callable[[int], Awaitable[bool]]  # the n-th request; True if it succeeded
    # Beyond this the harness itself (its simulators share the event loop) would fall behind:
    # requests are shed and counted instead.
    max_in_flight: int = 100
    latencies: list[float] = field(default_factory=list)  # seconds, of successful requests
    failures: int = 0
    shed: int = 0  # requests not started: too many still waiting (counted as failures too)
    started: int = 0
    started_before_reset: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        tasks: set[asyncio.Task[None]] = set()
        began = time.monotonic()
        while not stop.is_set():
            due = began + self.started / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.started += 1
            if len(tasks) >= self.max_in_flight:
                self.shed += 1
                self.failures += 1
                continue
            task = asyncio.create_task(self._one(self.started - 1))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _one(self, number: int) -> None:
        started = time.monotonic()
        try:
            ok = await self.request(number)
        except Exception:
            ok = False
        if ok:
            self.latencies.append(time.monotonic() - started)
        else:
            self.failures += 1

    def reset(self) -> None:
        """Count from now on (the kills start): what came before was the services starting."""
        self.latencies.clear()
        self.failures = self.shed = 0
        self.started_before_reset = self.started

    def p99_ms(self) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100)[98] * 1000

    def summary(self) -> str:
        return (
            f"{self.name}: {self.started - self.started_before_reset} requests at"
            f" {self.rate:g}/s, {self.failures} failed ({self.shed} shed),"
            f" p99 {self.p99_ms():.0f} ms"
        )
