"""In-process wake-ups: a waiting resource resumes as soon as the object it waits for changes.

Watch events of MilvusConnections, Secrets, MilvusSnapshots, MilvusRestores and schedules notify their key;
daemons waiting for a missing or changed reference wait on those keys (with a timeout, so nothing depends on
it alone).
"""

from __future__ import annotations

import asyncio
import collections
import weakref
from collections.abc import Awaitable, Iterable


class WakeupBus:
    """Subscriptions are taken when a daemon decides to wait, not when it starts waiting: a change that
    lands in between (while the next attempt catches up with its own status patch) still wakes it.
    Subscriptions are held weakly, so one whose daemon is gone (resource deleted) disappears with it."""

    def __init__(self) -> None:
        self._waiters: dict[str, weakref.WeakSet[asyncio.Event]] = collections.defaultdict(weakref.WeakSet)

    def notify(self, key: str) -> None:
        waiters = self._waiters.get(key)
        if waiters is None:
            return
        for event in list(waiters):
            event.set()
        if not waiters:
            del self._waiters[key]

    def subscribe(self, keys: Iterable[str]) -> asyncio.Event:
        """An event set by the next notify of any of `keys`; keep a reference to it while it matters."""
        event = asyncio.Event()
        for key in keys:
            if key:
                self._waiters[key].add(event)
        return event

    def unsubscribe(self, event: asyncio.Event) -> None:
        for key in [k for k, waiters in self._waiters.items() if event in waiters]:
            self._waiters[key].discard(event)
            if not self._waiters[key]:
                del self._waiters[key]

    async def wait(self, event: asyncio.Event, seconds: float, stop: Awaitable[object] | None = None) -> None:
        """Until `event` is set (or was already), `stop` completes, or `seconds` pass; then unsubscribe."""
        try:
            waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(event.wait())]
            if stop is not None:
                waiters.append(asyncio.ensure_future(stop))
            _, pending = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        finally:
            self.unsubscribe(event)


def key(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{namespace}/{name}"
