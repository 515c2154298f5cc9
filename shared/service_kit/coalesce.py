"""Calls made by concurrent requests, gathered into one batch call while earlier ones run.

A request that writes one row waits for its own round trip and commit. When many arrive at once,
each statement costs the server and the database about as much as its row: giving the rows that
queue up meanwhile to one statement makes the cost per row fall as the load rises, while a lone
request still goes at once (a batch of one). `Coalesced(run, slots)` is called with one item and
answers that item's outcome; `run` takes a batch of items and answers one outcome per item, in
order (an exception instance is raised to that item's caller alone). If `run` raises, every
caller of the batch gets the exception. At most `slots` batches run at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

BatchRun = Callable[[Sequence[T]], Awaitable[Sequence[R | Exception]]]


class Coalesced(Generic[T, R]):
    """See the module's docstring."""

    def __init__(self, run: BatchRun[T, R], *, slots: int = 1) -> None:
        if slots < 1:
            raise ValueError("at least one batch must be able to run")
        self._run = run
        self._slots = slots
        self._running = 0
        self._queued: list[tuple[T, asyncio.Future[R]]] = []
        self._batches: set[asyncio.Task[None]] = set()  # referenced until done

    async def __call__(self, item: T) -> R:
        if self._running < self._slots:
            # Nothing waits (batches start as slots free): a batch of this item alone, run by its
            # caller, so a lone request costs no task and no future.
            return await self._run_alone(item)
        outcome: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queued.append((item, outcome))
        return await outcome

    async def _run_alone(self, item: T) -> R:
        self._running += 1
        try:
            (outcome,) = await self._run([item])
        finally:
            self._running -= 1
            self._start_batch()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _start_batch(self) -> None:
        # A task of its own: a caller cancelled while waiting leaves the others' batch running.
        if self._queued and self._running < self._slots:
            batch, self._queued = self._queued, []
            self._running += 1
            task = asyncio.get_running_loop().create_task(self._run_batch(batch))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    async def _run_batch(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            outcomes = await self._run([item for item, _ in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"{len(outcomes)} outcomes for a batch of {len(batch)}")
        except Exception as exc:
            for _, waiting in batch:
                if not waiting.done():
                    waiting.set_exception(exc)
        except BaseException:  # cancelled (the loop is closing): so are its callers
            for _, waiting in batch:
                waiting.cancel()
            raise
        else:
            for (_, waiting), outcome in zip(batch, outcomes, strict=True):
                if waiting.done():  # its caller was cancelled
                    continue
                if isinstance(outcome, Exception):
                    waiting.set_exception(outcome)
                else:
                    waiting.set_result(outcome)
        finally:
            self._running -= 1
            self._start_batch()
