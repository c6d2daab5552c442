"""The gateway's serving calls (load, verify, aliases) against milvusd, which follows Milvus 3.0 there: a
restored collection is not loaded, loads in the background, can fail to load, and aliases refuse to drop
what they point at. What the cut-over (reconcile/cutover.py) relies on, each classified as it expects."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from pymilvus import MilvusClient

from milvus_snapshot_operator.milvus.gateway import ErrorKind, MilvusError
from milvus_snapshot_operator.milvus.pymilvus_gateway import Endpoint, PymilvusGateway
from testbed import seed

from .conftest import USER_TOKEN, Server, unique, wait_job

pytestmark = pytest.mark.integration


@pytest.fixture
async def gateway(server: Server) -> AsyncIterator[PymilvusGateway]:
    gw = PymilvusGateway(Endpoint(uri=server.uri, db_name="default", timeout=10.0, token=USER_TOKEN))
    yield gw
    await gw.close()


def restored(mc: MilvusClient) -> str:
    """A fresh restore of `books`, completed (not loaded, as Milvus leaves it)."""
    snap, target = unique("serve"), unique("served")
    mc.create_snapshot(snap, "books")
    job = mc.restore_snapshot(snap, "books", target)
    assert wait_job(lambda: mc.get_restore_snapshot_state(job)).state == "RestoreSnapshotCompleted"
    return target


async def loaded(gw: PymilvusGateway, collection: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while (await gw.load_state(collection, "default")).state != "Loaded":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)


async def test_load_verify_and_alias_round_trip(server: Server, mc: MilvusClient, gateway: PymilvusGateway) -> None:
    target, alias = restored(mc), unique("front")
    assert (await gateway.load_state(target, "default")).state == "NotLoad"
    assert [(i.name, i.state, i.pending_rows) for i in await gateway.indexes(target, "default")] == [
        ("vector", "Finished", 0)
    ]
    assert [(f.name, f.dim, f.dtype) for f in await gateway.vector_fields(target, "default")] == [
        ("vector", seed.DIM, "FLOAT_VECTOR")
    ]
    vectors = seed.queries(3)
    with pytest.raises(MilvusError) as not_loaded:
        await gateway.search_hits(target, "default", "vector", vectors, 1)
    assert not_loaded.value.kind == ErrorKind.NOT_LOADED
    await gateway.start_load(target, "default", 1, [])
    await loaded(gateway, target)
    assert await gateway.search_hits(target, "default", "vector", vectors, 2) == [2, 2, 2]
    assert await gateway.alias_target(alias, "default") is None
    await gateway.create_alias(target, alias, "default")
    assert await gateway.alias_target(alias, "default") == target
    assert await gateway.aliases_of(target, "default") == [alias]
    other = restored(mc)
    await gateway.alter_alias(other, alias, "default")
    assert await gateway.aliases_of(target, "default") == []
    await gateway.release(target, "default")
    assert (await gateway.load_state(target, "default")).state == "NotLoad"
    await gateway.drop_collection(target, "default")
    assert not await gateway.collection_exists(target, "default")


async def test_a_slow_load_returns_at_once_and_is_polled(
    server: Server, mc: MilvusClient, gateway: PymilvusGateway
) -> None:
    target = restored(mc)
    server.faults(load_latency=5.0)  # start_load waits up to 2 s itself
    await gateway.start_load(target, "default", 1, [])  # returns while Milvus still loads: not a daemon blocked
    state = await gateway.load_state(target, "default")
    assert state.state == "Loading" and 0 <= state.progress < 100
    await loaded(gateway, target)


async def test_a_failed_load_is_not_loaded(server: Server, mc: MilvusClient, gateway: PymilvusGateway) -> None:
    target = restored(mc)
    server.faults(load_fail_next=1)
    with pytest.raises(MilvusError) as failed:
        await gateway.start_load(target, "default", 1, [])
    assert failed.value.kind == ErrorKind.NOT_LOADED and "not loaded" in failed.value.message


async def test_alias_errors_are_classified(server: Server, mc: MilvusClient, gateway: PymilvusGateway) -> None:
    target = restored(mc)
    with pytest.raises(MilvusError) as conflict:
        await gateway.create_alias(target, "books", "default")  # the name of a collection
    assert conflict.value.kind == ErrorKind.ALIAS_CONFLICT
    with pytest.raises(MilvusError) as missing:
        await gateway.alter_alias(target, unique("nowhere"), "default")
    assert missing.value.kind == ErrorKind.NOT_FOUND
    alias = unique("pinned")
    await gateway.create_alias(target, alias, "default")
    with pytest.raises(MilvusError):  # Milvus refuses to drop an aliased collection
        await gateway.drop_collection(target, "default")
    assert await gateway.collection_exists(target, "default")
