"""Calls gathered into batches (`service_kit.coalesce`): each caller gets its own item's outcome,
as if it had been run alone, however the concurrent calls were grouped."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service_kit.coalesce import Coalesced


class Refused(Exception):
    pass


class Recorder:
    """A batch run answering each item's square (a refusal for negative items), recording its
    batches and how many ran at once."""

    def __init__(self, delays: Sequence[float] = (0.001,)) -> None:
        self.batches: list[list[int]] = []
        self.running = 0
        self.most_at_once = 0
        self._delays = delays

    async def __call__(self, items: Sequence[int]) -> list[int | Exception]:
        self.batches.append(list(items))
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(self._delays[len(self.batches) % len(self._delays)])
        finally:
            self.running -= 1
        return [Refused(item) if item < 0 else item * item for item in items]


async def outcome(call: Coalesced[int, int], item: int) -> int | str:
    try:
        return await call(item)
    except Refused as exc:
        return f"refused {exc.args[0]}"


def alone(item: int) -> int | str:
    return f"refused {item}" if item < 0 else item * item


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(st.integers(-5, 50), max_size=30),
    slots=st.integers(1, 3),
    gaps=st.lists(st.sampled_from([0.0, 0.0005, 0.002]), min_size=1, max_size=5),
    delays=st.lists(st.sampled_from([0.0, 0.001, 0.003]), min_size=1, max_size=4),
)
async def test_each_caller_gets_its_items_outcome_however_calls_were_batched(
    items: list[int], slots: int, gaps: list[float], delays: list[float]
) -> None:
    run = Recorder(delays)
    call: Coalesced[int, int] = Coalesced(run, slots=slots)

    async def arriving(index: int, item: int) -> int | str:
        await asyncio.sleep(gaps[index % len(gaps)] * index)
        return await outcome(call, item)

    answers = await asyncio.gather(*(arriving(i, item) for i, item in enumerate(items)))
    assert answers == [alone(item) for item in items]
    assert sorted(item for batch in run.batches for item in batch) == sorted(items)
    assert run.most_at_once <= slots


async def test_a_lone_call_runs_at_once_and_calls_meanwhile_wait_for_one_batch() -> None:
    run = Recorder()
    call: Coalesced[int, int] = Coalesced(run)
    first = asyncio.ensure_future(call(1))
    await asyncio.sleep(0)  # the first batch is running
    assert run.batches == [[1]]
    assert await asyncio.gather(first, *(call(i) for i in (2, 3, 4))) == [1, 4, 9, 16]
    assert run.batches == [[1], [2, 3, 4]]


async def test_a_failed_batch_fails_each_of_its_callers_and_not_the_next_batch() -> None:
    broken = True

    async def run(items: Sequence[int]) -> Sequence[int | Exception]:
        await asyncio.sleep(0.001)
        if broken and 2 in items:
            raise Refused("the whole batch")
        return list(items)

    call: Coalesced[int, int] = Coalesced(run)
    first = asyncio.ensure_future(call(1))
    await asyncio.sleep(0)
    together = [asyncio.ensure_future(call(i)) for i in (2, 3)]
    assert await first == 1
    for failed in together:
        with pytest.raises(Refused, match="the whole batch"):
            await failed
    broken = False
    assert await call(2) == 2


async def test_a_cancelled_caller_leaves_the_others_their_outcomes() -> None:
    run = Recorder((0.005,))
    call: Coalesced[int, int] = Coalesced(run)
    first = asyncio.ensure_future(call(1))
    await asyncio.sleep(0)
    waiting = [asyncio.ensure_future(call(i)) for i in (2, 3)]
    await asyncio.sleep(0)
    waiting[0].cancel()
    assert await first == 1
    assert await waiting[1] == 9
    assert waiting[0].cancelled()
    assert run.batches == [[1], [2, 3]]


async def test_a_batch_run_answering_the_wrong_number_of_outcomes_fails_its_callers() -> None:
    async def short(items: Sequence[int]) -> Sequence[int | Exception]:
        await asyncio.sleep(0.001)
        return list(items)[:1]

    call: Coalesced[int, int] = Coalesced(short)
    first = asyncio.ensure_future(call(1))
    await asyncio.sleep(0)
    together = [asyncio.ensure_future(call(i)) for i in (2, 3)]
    assert await first == 1
    for failed in together:
        with pytest.raises(RuntimeError, match="1 outcomes for a batch of 2"):
            await failed
