"""A service stops on SIGTERM even when a background task loses a cancellation (Python 3.11, gh-86296):
`cancel_all` cancels again until every task has ended, so `counsel up`'s Ctrl-C never has to kill."""

from __future__ import annotations

import asyncio

from services.runtime.service import cancel_all


async def test_a_task_that_loses_its_first_cancellation_is_cancelled_again() -> None:
    cancellations = 0

    async def loop_that_swallows_one_cancel() -> None:
        nonlocal cancellations
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancellations += 1
                if cancellations == 1:
                    continue  # what a lost cancellation looks like to the caller: the loop goes on
                raise

    async def ordinary() -> None:
        await asyncio.sleep(3600)

    async def failed() -> None:
        raise RuntimeError("died earlier")

    tasks = [asyncio.create_task(c()) for c in (loop_that_swallows_one_cancel, ordinary, failed)]
    await asyncio.sleep(0)
    await cancel_all(tasks, "test")
    assert all(task.done() for task in tasks)
    assert cancellations == 2
    assert isinstance(tasks[2].exception(), RuntimeError)


async def test_a_task_that_never_stops_is_reported_not_waited_for_forever() -> None:
    stubborn_until_told = True

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if stubborn_until_told:
                    continue
                raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await cancel_all([task], "test", patience=0.6)
    assert not task.done()  # cancel_all returned instead of hanging
    stubborn_until_told = False
    await cancel_all([task], "test")
    assert task.cancelled()
