"""The decoding pool: its own threads, decodes admitted within the memory budget, first come
first served, a decode that can never fit refused at once, and room given back only when the
thread is done."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from casting.adapters.decoding import MIB, DecodingPool
from casting.domain.errors import InvalidImage


@pytest.fixture
def pool() -> Iterator[DecodingPool]:
    pool = DecodingPool(budget_bytes=3 * MIB, threads=4)
    yield pool
    pool.close()


class Decode:
    """A decode that says when it starts and ends when the test lets it."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.thread = ""

    def __call__(self) -> str:
        self.thread = threading.current_thread().name
        self.started.set()
        self.release.wait()
        return self.thread


async def test_decodes_run_on_the_pools_own_threads(pool: DecodingPool) -> None:
    decode = Decode()
    decode.release.set()
    assert (await pool.run(MIB, decode)).startswith("casting-decode")


async def test_a_decode_that_could_never_fit_is_refused_at_once(pool: DecodingPool) -> None:
    decode = Decode()
    with pytest.raises(InvalidImage, match="within this server's 3 MiB budget"):
        await pool.run(3 * MIB + 1, decode)
    assert not decode.started.is_set()


async def test_decodes_wait_for_room_in_the_budget_first_come_first_served(pool: DecodingPool) -> None:
    big, small, later = Decode(), Decode(), Decode()
    running_big = asyncio.create_task(pool.run(2 * MIB, big))
    await asyncio.to_thread(big.started.wait)
    waiting_small = asyncio.create_task(pool.run(2 * MIB, small))  # 1 MiB free: waits
    waiting_later = asyncio.create_task(pool.run(MIB, later))  # would fit, but comes after
    await asyncio.sleep(0)  # both are queued (threads are free: only the budget holds them)
    assert not small.started.is_set() and not later.started.is_set()

    big.release.set()
    await running_big
    await asyncio.to_thread(small.started.wait)
    await asyncio.to_thread(later.started.wait)  # 2 + 1 MiB: both fit now
    small.release.set()
    later.release.set()
    await asyncio.gather(waiting_small, waiting_later)


async def test_a_caller_that_stops_waiting_leaves_its_room_taken_until_the_thread_is_done(
    pool: DecodingPool,
) -> None:
    abandoned, next_one = Decode(), Decode()
    caller = asyncio.create_task(pool.run(3 * MIB, abandoned))
    await asyncio.to_thread(abandoned.started.wait)
    caller.cancel()
    waiting = asyncio.create_task(pool.run(MIB, next_one))
    await asyncio.sleep(0)
    assert not next_one.started.is_set()  # the abandoned decode still holds its memory

    abandoned.release.set()
    await asyncio.to_thread(next_one.started.wait)
    next_one.release.set()
    await waiting
