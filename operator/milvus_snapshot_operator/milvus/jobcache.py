"""Restore-job lookups coalesced to one ListRestoreSnapshotJobs per (connection, database) per interval.

Every running MilvusRestore asks for its own job; the first ask in an interval lists all jobs of that
database, the others read the same answer. A job missing from the list (its target moved database,
or it was created after the list) is asked for directly. Entries nobody asked for in a while are dropped,
so the cache holds only what running restores follow.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import time

from .gateway import MilvusGateway, RestoreJob

# An entry unused for this many intervals is dropped (no restore of that connection and database runs).
IDLE_INTERVALS = 10


@dataclasses.dataclass
class _Entry:
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    fetched_at: float | None = None
    used_at: float = dataclasses.field(default_factory=time.monotonic)
    jobs: dict[int, RestoreJob] = dataclasses.field(default_factory=dict)


class RestoreJobCache:
    def __init__(self, interval_seconds: float) -> None:
        self.interval = interval_seconds
        self._entries: dict[tuple[str, str], _Entry] = {}
        self.calls: collections.Counter[str] = collections.Counter()  # RPCs made, for tests and benchmarks

    def __len__(self) -> int:
        return len(self._entries)

    async def lookup(self, key: str, gateway: MilvusGateway, db: str, job_id: int) -> RestoreJob | None:
        self._sweep()
        entry = self._entries.setdefault((key, db), _Entry())
        entry.used_at = time.monotonic()
        # `fetched_at` is taken after the reply, and the restore that fetched sleeps a full interval after
        # that, so "stale at exactly one interval" never skips a cycle and never lists twice in one.
        async with entry.lock:
            stale = entry.fetched_at is None or time.monotonic() - entry.fetched_at >= self.interval
            if stale:
                jobs = await gateway.list_restore_jobs(db)
                self.calls["ListRestoreSnapshotJobs"] += 1
                entry.jobs = {job.job_id: job for job in jobs}
                entry.fetched_at = time.monotonic()
        job = entry.jobs.get(job_id)
        if job is None:
            self.calls["GetRestoreSnapshotState"] += 1
            job = await gateway.restore_state(job_id)
        return job

    def forget(self, key: str) -> None:
        for entry_key in [k for k in self._entries if k[0] == key]:
            del self._entries[entry_key]

    def _sweep(self) -> None:
        idle = time.monotonic() - IDLE_INTERVALS * self.interval
        for entry_key in [k for k, e in self._entries.items() if e.used_at < idle and not e.lock.locked()]:
            del self._entries[entry_key]
