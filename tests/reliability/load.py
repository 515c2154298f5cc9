"""A steady request rate held while the harnesses kill processes, with its latencies.

Requests start on a fixed schedule (open loop: a slow answer does not slow the next start), so a
stall shows as latency, not as fewer requests. Each goes through `Failover`, which plays the load
balancer in front of the API replicas: a replica that is down or dies mid-request is left for the
other one, and while every replica is down the request waits for one to come back. That wait is
part of its latency: a p99 over the kills includes the replicas' restarts.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx


class Failover:
    """A load balancer in front of API replicas, as the harnesses' clients see it.

    A request goes to a replica believed up, starting with replica `number` (round robin). A
    refused or dropped connection or a 5xx marks that replica down and the request moves on to
    the next one. While every replica is down, requests wait for one to come back. A replica
    marked down is probed with a bare TCP connect every `probe_every` seconds (a restarting
    server listens only once its app has started) and believed up once one succeeds. So a dead
    replica costs one failed attempt per request that meets it, not a retry loop per waiting
    request: with hundreds of requests waiting through a restart, retrying each on a timer took
    the harness's whole core and starved the restarts it was waiting for.

    At most `connections` requests are on the wire at once (the client's pool must be larger);
    the rest wait here, in a queue whose cost does not grow with its length. Left to queue in
    httpx's pool, which scans every waiting request against every connection on each change,
    a few hundred waiting requests took the harness's core and the load collapsed.
    """

    def __init__(
        self, urls: list[str], patience: float, connections: int = 100, probe_every: float = 0.1
    ) -> None:
        self.urls = urls
        self.patience = patience  # seconds a request keeps trying before it counts as failed
        self.probe_every = probe_every
        self._connections = asyncio.Semaphore(connections)
        self._up = [True] * len(urls)
        self._any_up = asyncio.Event()
        self._any_up.set()
        self._probes: set[asyncio.Task[None]] = set()
        self.marked_down = 0  # times a replica was found down

    async def call(self, number: int, attempt: Callable[[str], Awaitable[int]]) -> bool:
        """The `number`-th request: `attempt(url)` (an HTTP status) on a replica believed up;
        True once one answers 2xx, False on any other 4xx or when patience runs out."""
        deadline = time.monotonic() + self.patience
        while True:
            async with self._connections:
                if time.monotonic() > deadline:  # queued for a connection all that time
                    return False
                index = self._next_up(number)  # chosen now: one may have died while we queued
                if index is not None:
                    try:
                        status = await attempt(self.urls[index])
                    except httpx.TransportError:
                        status = None
                    if status is not None and status < 500:
                        return 200 <= status < 300
                    self._mark_down(index)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if index is None:
                try:
                    await asyncio.wait_for(self._any_up.wait(), remaining)
                except TimeoutError:
                    return False

    def _next_up(self, number: int) -> int | None:
        count = len(self.urls)
        return next((i % count for i in range(number, number + count) if self._up[i % count]), None)

    def _mark_down(self, index: int) -> None:
        if not self._up[index]:
            return  # another request found it down first; its probe runs
        self._up[index] = False
        self.marked_down += 1
        if not any(self._up):
            self._any_up.clear()
        probe = asyncio.create_task(self._probe(index))
        self._probes.add(probe)
        probe.add_done_callback(self._probes.discard)

    def close(self) -> None:
        """Stop probing (the replicas are being stopped)."""
        for probe in self._probes:
            probe.cancel()

    async def _probe(self, index: int) -> None:
        url = httpx.URL(self.urls[index])
        while True:
            await asyncio.sleep(self.probe_every)
            try:
                _, writer = await asyncio.open_connection(url.host, url.port)
            except OSError:
                continue
            writer.close()
            self._up[index] = True
            self._any_up.set()
            return


@dataclass
class SteadyLoad:
    name: str
    rate: float  # requests per second
    request: Callable[[int], Awaitable[bool]]  # the n-th request; True if it succeeded
    # Requests still waiting beyond this are shed (counted as failures): a guard against a
    # collapse taking the harness down with it, not a limit a held load comes near.
    max_in_flight: int = 20000
    latencies: list[float] = field(default_factory=list)  # seconds, of successful requests
    failures: int = 0
    shed: int = 0  # requests not started: too many still waiting (counted as failures too)
    started: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        """From now until `stop`, then wait for the requests in flight."""
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

    def p99_ms(self) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100)[98] * 1000

    def fields(self) -> str:
        """`requests=N failed=F` for a result line: a p99 beside failures is not a held load."""
        return f"requests={self.started} failed={self.failures}"

    def summary(self) -> str:
        median = statistics.median(self.latencies) * 1000 if self.latencies else float("nan")
        return (
            f"{self.name}: {self.started} requests at {self.rate:g}/s, {self.failures} failed"
            f" ({self.shed} shed), median {median:.0f} ms, p99 {self.p99_ms():.0f} ms"
        )
