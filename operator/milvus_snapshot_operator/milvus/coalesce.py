"""Calls that many resources make at once for the same thing, made once: a flush of one collection.

200 MilvusSnapshots of one collection applied together each need "a flush that began after I asked". One flush
that starts after all of them asked serves them all, so callers that arrive while a flush of that collection
is running wait for the next one (which starts when it ends) rather than each sending their own: at most two
flushes per collection are in flight or queued, whatever the number of snapshots. Without this the Milvus
server queued hundreds of flushes and the later ones timed out (1,000 snapshots: 700 flush timeouts, each a
retry and two status writes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class NextRound(Generic[T]):
    """Single-flight where a caller only ever joins a call that has not started yet."""

    def __init__(self) -> None:
        self._waiting: dict[Hashable, asyncio.Task[T]] = {}  # the next round per key: not started, joinable
        self._running: dict[Hashable, asyncio.Task[T]] = {}  # the round in flight per key

    async def __call__(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        joined = self._waiting.get(key)
        if joined is None:
            joined = asyncio.create_task(self._round(key, self._running.get(key), call))
            self._waiting[key] = joined
        # Shielded: a caller that gives up (its step cancelled) does not cancel the others' call.
        return await asyncio.shield(joined)

    async def _round(self, key: Hashable, previous: asyncio.Task[T] | None, call: Callable[[], Awaitable[T]]) -> T:
        if previous is not None:
            await asyncio.wait([previous])  # its outcome is its callers'; this round only starts after it
        this = self._waiting.pop(key)  # from now on, newcomers form the next round
        self._running[key] = this
        try:
            return await call()
        finally:
            if self._running.get(key) is this:
                del self._running[key]

    def __len__(self) -> int:
        return len(self._waiting) + len(self._running)
