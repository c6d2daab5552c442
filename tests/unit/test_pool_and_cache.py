"""The client pool closes what deleted connections leave behind, and the restore-job cache forgets what no
running restore asks for (both used to grow for the operator's lifetime)."""

from __future__ import annotations

import pytest

from milvus_snapshot_operator.milvus import jobcache
from milvus_snapshot_operator.milvus.jobcache import RestoreJobCache
from milvus_snapshot_operator.milvus.pool import GatewayPool
from milvus_snapshot_operator.milvus.pymilvus_gateway import Endpoint

from .fakes import FakeMilvus


async def test_a_deleted_connection_leaves_no_client_behind() -> None:
    pool = GatewayPool()
    endpoint = Endpoint(uri="http://127.0.0.1:1", db_name="default", timeout=1.0, token="t")
    first = await pool.get("MilvusConnection/ns/a", endpoint)
    assert await pool.get("MilvusConnection/ns/a", endpoint) is first and pool.last("MilvusConnection/ns/a") is first
    await pool.get("MilvusConnection/ns/b", endpoint)
    await pool.evict("MilvusConnection/ns/a")
    assert len(pool) == 1 and pool.last("MilvusConnection/ns/a") is None
    await pool.close_all()
    assert len(pool) == 0


async def test_the_job_cache_forgets_entries_nobody_asks_for(monkeypatch: pytest.MonkeyPatch) -> None:
    milvus = FakeMilvus(collections={("default", "books"): 1})
    clock = [1000.0]
    monkeypatch.setattr(jobcache.time, "monotonic", lambda: clock[0])
    cache = RestoreJobCache(interval_seconds=2)
    for connection in ("ns/a", "ns/b", "ns/c"):
        await cache.lookup(connection, milvus, "default", 1)
    assert len(cache) == 3
    clock[0] += 2 * jobcache.IDLE_INTERVALS + 1  # only ns/a keeps asking
    await cache.lookup("ns/a", milvus, "default", 1)
    assert len(cache) == 1
