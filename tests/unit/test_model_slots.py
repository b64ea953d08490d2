"""The cap on model calls lets interactive calls go ahead of batch work (CastStory's steps)."""

from __future__ import annotations

import asyncio

from casting.adapters.generators.bounded import LocalSlots


class Holder:
    """A caller that takes a slot and keeps it until let go."""

    def __init__(self, slots: LocalSlots, batch: bool, granted: list[str], name: str) -> None:
        self.go = asyncio.Event()
        self.got = asyncio.Event()

        async def run() -> None:
            async with slots.hold(batch):
                granted.append(name)
                self.got.set()
                await self.go.wait()

        self.task = asyncio.create_task(run())

    async def release(self) -> None:
        self.go.set()
        await self.task


async def test_batch_work_leaves_the_reserved_slot_to_interactive_calls() -> None:
    slots, granted = LocalSlots(size=2, reserved=1), []
    first = Holder(slots, True, granted, "batch 1")
    await first.got.wait()
    second = Holder(slots, True, granted, "batch 2")
    person = Holder(slots, False, granted, "interactive")

    await person.got.wait()  # the free slot was not given to the waiting batch

    assert granted == ["batch 1", "interactive"]
    await first.release()
    await second.got.wait()
    assert granted == ["batch 1", "interactive", "batch 2"]
    await person.release()
    await second.release()
    assert slots.in_use == 0


async def test_a_freed_slot_goes_to_a_waiting_interactive_call_before_earlier_batch_work() -> None:
    slots, granted = LocalSlots(size=1, reserved=0), []
    running = Holder(slots, False, granted, "running")
    await running.got.wait()
    batch = Holder(slots, True, granted, "batch")
    await asyncio.sleep(0)  # the batch caller is queued first
    person = Holder(slots, False, granted, "interactive")
    await asyncio.sleep(0)

    await running.release()
    await person.got.wait()
    assert granted == ["running", "interactive"]
    await person.release()
    await batch.got.wait()
    await batch.release()
    assert granted == ["running", "interactive", "batch"]


async def test_a_caller_who_gives_up_waiting_takes_no_slot() -> None:
    slots, granted = LocalSlots(size=1, reserved=0), []
    running = Holder(slots, False, granted, "running")
    await running.got.wait()
    quitter = Holder(slots, False, granted, "quitter")
    await asyncio.sleep(0)
    quitter.task.cancel()
    await asyncio.gather(quitter.task, return_exceptions=True)
    await running.release()

    latecomer = Holder(slots, True, granted, "latecomer")
    await latecomer.got.wait()
    await latecomer.release()
    assert granted == ["running", "latecomer"] and slots.in_use == 0
