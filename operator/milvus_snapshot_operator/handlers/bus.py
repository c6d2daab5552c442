"""In-process wake-ups: a waiting resource resumes as soon as the object it waits for changes.

Watch events of MilvusConnections, Secrets and MilvusSnapshots notify their key; daemons waiting for
a missing or changed reference wait on those keys (with a timeout, so nothing depends on it alone).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Iterable
from typing import Any


class WakeupBus:
    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = collections.defaultdict(set)

    def notify(self, key: str) -> None:
        for event in self._waiters.get(key, ()):
            event.set()

    async def wait(self, keys: Iterable[str], seconds: float, stop: Awaitable[Any] | None = None) -> None:
        event = asyncio.Event()
        keys = [k for k in keys if k]
        for key in keys:
            self._waiters[key].add(event)
        try:
            waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(event.wait())]
            if stop is not None:
                waiters.append(asyncio.ensure_future(stop))
            _, pending = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        finally:
            for key in keys:
                self._waiters[key].discard(event)
                if not self._waiters[key]:
                    del self._waiters[key]


def key(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{namespace}/{name}"
