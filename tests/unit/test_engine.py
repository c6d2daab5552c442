"""Status merge patches and restore-job coalescing."""

from __future__ import annotations

import asyncio

from milvus_snapshot_operator.handlers.engine import merge_patch
from milvus_snapshot_operator.milvus.jobcache import RestoreJobCache

from .fakes import FakeMilvus


def test_merge_patch_minimal_and_removes_fields() -> None:
    old = {"phase": "Creating", "intent": {"operation": "CreateSnapshot", "time": "t"}, "error": {"code": 2, "m": "x"}}
    new = {"phase": "Ready", "error": {"m": "x"}}
    assert merge_patch(old, new) == {"phase": "Ready", "intent": None, "error": {"code": None}}
    assert merge_patch(new, new) is None
    assert merge_patch({"conditions": [1, 2]}, {"conditions": [2]}) == {"conditions": [2]}


async def test_one_list_per_connection_and_database_per_interval() -> None:
    milvus = FakeMilvus(collections={("default", "books"): 1})
    await milvus.create_snapshot("s", "books", "default", "", 0)
    job_ids = [await milvus.restore_snapshot("s", "books", "default", f"t{i}", "default") for i in range(100)]
    cache = RestoreJobCache(interval_seconds=60)
    found = await asyncio.gather(*(cache.lookup("conn", milvus, "default", j) for j in job_ids))
    assert all(job is not None for job in found)
    assert milvus.calls["list_restore_jobs"] == 1 and milvus.calls["restore_state"] == 0
    await cache.lookup("conn", milvus, "other_db", job_ids[0])  # another database: its own list
    assert milvus.calls["list_restore_jobs"] == 2
