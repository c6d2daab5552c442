"""What a connection's inventory pass asks Milvus, against milvusd: ListCollections per database, then
ListSnapshots per collection, one RPC each, and how failures end up in the listing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pymilvus import MilvusClient

from milvus_snapshot_operator.api.connection import Inventory
from milvus_snapshot_operator.handlers.inventory import list_milvus
from milvus_snapshot_operator.milvus.gateway import ErrorKind, MilvusError
from milvus_snapshot_operator.milvus.pymilvus_gateway import Endpoint, PymilvusGateway
from testbed import seed

from .conftest import USER_TOKEN, Server, create_empty, unique

pytestmark = pytest.mark.integration


@pytest.fixture
async def gateway(server: Server, mc: MilvusClient) -> AsyncIterator[PymilvusGateway]:
    gw = PymilvusGateway(Endpoint(uri=server.uri, db_name="default", timeout=5.0, token=USER_TOKEN))
    await gw.server_version()
    server.reset_counters()
    yield gw
    await gw.close()


async def test_list_collections_names_those_of_the_database_asked_for(
    server: Server, gateway: PymilvusGateway, mc: MilvusClient
) -> None:
    db, here = unique("invdb"), unique("inv_only_here")
    mc.create_database(db)
    other = seed.client(server.uri, USER_TOKEN, db=db)
    try:
        create_empty(other, here)
    finally:
        other.close()
    server.reset_counters()
    default = await gateway.list_collections("default")
    assert "books" in default and here not in default
    assert await gateway.list_collections(db) == [here]
    counters = server.counters()
    assert counters.pop("Connect", 0) <= 1  # the client for the other database
    assert counters == {"ShowCollections": 2}
    with pytest.raises(MilvusError) as info:
        await gateway.list_collections("no_such_db")
    assert (info.value.kind, info.value.code) == (ErrorKind.COLLECTION_NOT_FOUND, 800)


async def test_a_pass_lists_every_collection_once_and_names_what_it_could_not_list(
    server: Server, gateway: PymilvusGateway, mc: MilvusClient
) -> None:
    db = unique("invpass")
    mc.create_database(db)
    other = seed.client(server.uri, USER_TOKEN, db=db)
    try:
        for name in ("alpha", "beta", "gamma"):
            create_empty(other, name)
        other.create_snapshot("alpha_one", "alpha")
        other.create_snapshot("alpha_two", "alpha")
        other.create_snapshot("gamma_one", "gamma")
    finally:
        other.close()
    server.reset_counters()

    listing = await list_milvus(gateway, db, Inventory())
    assert listing.error is None and listing.errors == {}
    assert {c: sorted(n) for c, n in listing.snapshots.items()} == {
        "alpha": ["alpha_one", "alpha_two"],
        "beta": [],
        "gamma": ["gamma_one"],
    }
    counters = server.counters()
    counters.pop("Connect", None)
    assert counters == {"ShowCollections": 1, "ListSnapshots": 3}

    named = await list_milvus(gateway, db, Inventory(collections=["gamma", "no_such_collection"]))
    assert named.snapshots == {"gamma": ["gamma_one"]}
    assert "collection not found" in named.errors["no_such_collection"]

    # An outage ends the pass at its first failure, instead of waiting for a timeout per collection.
    impatient = PymilvusGateway(Endpoint(uri=server.uri, db_name=db, timeout=1.0, token=USER_TOKEN))
    server.faults(unavailable_for=30)
    try:
        down = await list_milvus(impatient, db, Inventory(collections=["alpha", "beta", "gamma"]))
    finally:
        server.faults(unavailable_for=0)
        await impatient.close()
    assert down.snapshots == {} and down.error is not None
    assert down.error.startswith("stopped after 0 of 3 collections")
