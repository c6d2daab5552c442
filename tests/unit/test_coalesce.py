"""Flushes asked for at once are made once, and never by a call that began before the caller asked."""

from __future__ import annotations

import asyncio

import pytest

from milvus_snapshot_operator.milvus.coalesce import NextRound
from milvus_snapshot_operator.milvus.gateway import ErrorKind, MilvusError


class Server:
    def __init__(self) -> None:
        self.calls = 0
        self.running = 0
        self.release = asyncio.Event()
        self.fail_next = False

    async def flush(self) -> int:
        self.calls += 1
        number = self.calls
        self.running += 1
        assert self.running == 1, "one flush of a collection at a time"
        try:
            await self.release.wait()
            if self.fail_next:
                self.fail_next = False
                raise MilvusError(ErrorKind.UNAVAILABLE, "flush timed out")
            return number
        finally:
            self.running -= 1


async def test_callers_at_once_share_one_call() -> None:
    server, rounds = Server(), NextRound[int]()
    callers = [asyncio.create_task(rounds("books", server.flush)) for _ in range(200)]
    await asyncio.sleep(0)
    server.release.set()
    assert await asyncio.gather(*callers) == [1] * 200
    assert server.calls == 1 and len(rounds) == 0


async def test_a_caller_arriving_mid_call_waits_for_the_next_one() -> None:
    server, rounds = Server(), NextRound[int]()
    early = [asyncio.create_task(rounds("books", server.flush)) for _ in range(3)]
    await asyncio.sleep(0.01)  # the first call is under way
    late = [asyncio.create_task(rounds("books", server.flush)) for _ in range(50)]
    papers = Server()
    other = asyncio.create_task(rounds("papers", papers.flush))  # another collection: its own call, at once
    await asyncio.sleep(0.01)
    assert papers.running == 1 and server.calls == 1
    server.release.set()
    papers.release.set()
    assert await asyncio.gather(*early) == [1, 1, 1]
    assert set(await asyncio.gather(*late)) == {2} and await other == 1
    assert server.calls == 2


async def test_a_failure_is_its_callers_and_the_next_round_still_runs() -> None:
    server, rounds = Server(), NextRound[int]()
    server.fail_next = True
    first = [asyncio.create_task(rounds("books", server.flush)) for _ in range(2)]
    await asyncio.sleep(0.01)
    second = asyncio.create_task(rounds("books", server.flush))
    server.release.set()
    for task in first:
        with pytest.raises(MilvusError):
            await task
    assert await second == 2


async def test_a_caller_that_gives_up_does_not_cancel_the_others_call() -> None:
    server, rounds = Server(), NextRound[int]()
    leaving = asyncio.create_task(rounds("books", server.flush))
    staying = asyncio.create_task(rounds("books", server.flush))
    await asyncio.sleep(0.01)
    leaving.cancel()
    server.release.set()
    assert await staying == 1
