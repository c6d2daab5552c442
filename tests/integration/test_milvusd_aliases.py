"""Aliases in milvusd behave as in Milvus 3.0, not as in Milvus Lite (rootcoord meta_table.go CheckIfAlias*, ddl callbacks).

One test per difference from Lite, asserted through plain pymilvus 3.0.2: the codes and texts are
rootcoord's (meta_table.go CheckIfAlias*, root_coord.go, dropCollectionTask, createCollectionTask).
Then the bookkeeping around them: aliases are per database, follow renames, block drops, and survive a
restart of the server.
"""

from __future__ import annotations

import pytest
from pymilvus import MilvusClient
from pymilvus.grpc_gen import common_pb2

from testbed import seed
from testbed.processes import MilvusServer

from .conftest import USER_TOKEN, Server, create_empty, milvus_error, unique

pytestmark = pytest.mark.integration

UNEXPECTED_ERROR = common_pb2.UnexpectedError  # legacy error_code of every alias error (merr oldCode)
COLLECTION_NOT_EXISTS = common_pb2.CollectionNotExists


@pytest.fixture
def pair(mc: MilvusClient) -> tuple[str, str]:
    """Two fresh (loaded) collections."""
    first, second = unique("blue"), unique("green")
    create_empty(mc, first)
    create_empty(mc, second)
    return first, second


# ── the five differences from Milvus Lite ───────────────────────


def test_a_create_alias_again_to_the_same_target_is_a_no_op(
    server: Server, mc: MilvusClient, pair: tuple[str, str]
) -> None:
    """Lite: error "already exists". Milvus: errIgnoredAlterAlias, reported as success."""
    first, second = pair
    alias = unique("live")
    mc.create_alias(first, alias)
    mc.create_alias(first, alias)  # idempotent
    assert mc.describe_alias(alias)["collection_name"] == first
    # ... but to another collection it is AliasAlreadyExist, naming where the alias points.
    err = milvus_error(mc.create_alias, second, alias)
    assert (err.code, err.compatible_code) == (1602, UNEXPECTED_ERROR)
    assert (
        err.message
        == f"{alias} is alias to another collection: {first}: alias already exist[database=default][alias={alias}]"
    )
    assert mc.describe_alias(alias)["collection_name"] == first


def test_b_drop_alias_of_a_missing_alias_succeeds(server: Server, mc: MilvusClient) -> None:
    """The team's research notes said AliasNotFound, but Milvus's own code says otherwise: root_coord.go DropAlias
    returns Success when broadcastDropAlias fails with ErrAliasNotFound ("drop alias not found, ignore it"),
    and rootcoord's ddl_callbacks_alias_test.go asserts "drop a not exist alias should be ok" (so does the
    e2e test_milvus_client_drop_alias_not_existed). Lite agrees; milvusd keeps it a success."""
    alias = unique("never_created")
    mc.drop_alias(alias)
    mc.drop_alias(alias)
    assert server.counters() == {"DropAlias": 2}
    # What Milvus does check: the alias name, and the database.
    err = milvus_error(mc.drop_alias, "1bad")
    assert (err.code, err.message) == (
        1100,
        "Invalid collection alias: 1bad. the first character of a collection alias must be an underscore or letter: "
        "invalid parameter",
    )


def test_c_drop_collection_with_aliases_is_refused(server: Server, mc: MilvusClient, pair: tuple[str, str]) -> None:
    """Lite drops the collection and silently deletes its aliases; Milvus refuses both ways."""
    first, _ = pair
    one, two = sorted([unique("front"), unique("back")])
    mc.create_alias(first, one)
    mc.create_alias(first, two)

    err = milvus_error(mc.drop_collection, first)
    assert (err.code, err.compatible_code) == (65535, UNEXPECTED_ERROR)
    assert err.message == (
        f"unable to drop the collection [{first}] because it has associated aliases [{one} {two}], "
        "please remove all aliases before dropping the collection"
    )
    err = milvus_error(mc.drop_collection, one)  # through an alias: refused too, nothing dropped
    assert (err.code, err.message) == (65535, f"cannot drop the collection via alias = {one}")
    assert mc.has_collection(first)
    assert sorted(mc.list_aliases(first)["aliases"]) == [one, two]

    mc.drop_alias(one)
    mc.drop_alias(two)
    mc.drop_collection(first)  # no aliases left: allowed
    assert not mc.has_collection(first)


def test_d_search_and_query_of_a_released_collection_are_not_loaded(
    server: Server, mc: MilvusClient, pair: tuple[str, str]
) -> None:
    """Lite answers count(*) on a released collection (and through an alias to it); Milvus answers 101."""
    first, _ = pair
    alias = unique("serving")
    mc.insert(first, [{"id": i, "vector": [i / 10] * seed.DIM} for i in range(5)])
    mc.flush(first)
    mc.create_alias(first, alias)
    assert seed.row_count(mc, alias) == 5  # loaded: works through the alias
    mc.release_collection(first)
    collection_id = mc.describe_collection(first)["collection_id"]

    for name in (alias, first):
        err = milvus_error(seed.row_count, mc, name)
        assert (err.code, err.compatible_code) == (101, UNEXPECTED_ERROR)
        assert err.message == f"failed to query: collection not loaded[collection={collection_id}]"
        err = milvus_error(seed.hits, mc, name)
        assert (err.code, err.message) == (101, f"failed to search: collection not loaded[collection={collection_id}]")
        err = milvus_error(mc.get, name, ids=[1])
        assert err.code == 101
    assert str(mc.get_load_state(alias)["state"]) == "NotLoad"

    mc.load_collection(alias)  # loading through the alias loads the collection
    assert seed.row_count(mc, first) == seed.row_count(mc, alias) == 5


def test_e_alias_errors_carry_milvus_codes(server: Server, mc: MilvusClient, pair: tuple[str, str]) -> None:
    """Lite says 100 for a missing alias and "already exists"/"conflicts" (code 1) for name clashes."""
    first, second = pair
    alias, missing = unique("pointer"), unique("no_such")
    mc.create_alias(first, alias)

    err = milvus_error(mc.alter_alias, first, missing)  # alter of a missing alias
    assert (err.code, err.compatible_code) == (1600, UNEXPECTED_ERROR)
    assert err.message == f"alias not found[database=default][alias={missing}]"
    err = milvus_error(mc.alter_alias, missing, alias)  # alter to a missing collection
    assert (err.code, err.compatible_code) == (100, COLLECTION_NOT_EXISTS)
    assert err.message == f"collection not found[collection={missing}]"
    err = milvus_error(mc.create_alias, missing, unique("orphan"))  # create to a missing collection
    assert (err.code, err.message) == (100, f"collection not found[database=default][collection={missing}]")
    err = milvus_error(mc.create_alias, alias, unique("chained"))  # an alias is no collection to point at
    assert (err.code, err.message[:21]) == (100, "collection not found[")

    for call in (mc.create_alias, mc.alter_alias):  # an alias named like an existing collection
        err = milvus_error(call, first, second)
        assert (err.code, err.compatible_code) == (1601, UNEXPECTED_ERROR)
        assert err.message == f"alias and collection name conflict[database=default][alias={second}]"
    err = milvus_error(mc.describe_alias, missing)
    assert (err.code, err.message) == (1600, f"alias not found[database=default][alias={missing}]")
    err = milvus_error(mc.list_aliases, missing)
    assert (err.code, err.message) == (100, f"collection not found[collection={missing}]")
    # ... and a collection cannot be created under an alias's name.
    err = milvus_error(create_empty, mc, alias)
    assert (err.code, err.message) == (
        65535,
        f"collection name [{alias}] conflicts with an existing alias, please choose a unique name",
    )
    # alter to the current target is a no-op; the switch itself is one call.
    mc.alter_alias(first, alias)
    mc.alter_alias(second, alias)
    assert mc.describe_alias(alias) == {"alias": alias, "collection_name": second, "db_name": "default"}
    assert mc.list_aliases(first)["aliases"] == []
    assert mc.describe_collection(second)["aliases"] == [alias]


# ── bookkeeping ─────────────────────────────────────────────────


def test_aliases_are_per_database(server: Server, mc: MilvusClient) -> None:
    db = unique("tenant")
    mc.create_database(db)
    other = seed.client(server.uri, USER_TOKEN, db=db)
    try:
        here, there, alias = unique("local"), unique("remote"), unique("shared_name")
        create_empty(mc, here)
        create_empty(other, there)
        mc.create_alias(here, alias)
        other.create_alias(there, alias)  # the same alias name in another database: independent
        assert mc.describe_alias(alias) == {"alias": alias, "collection_name": here, "db_name": "default"}
        assert other.describe_alias(alias) == {"alias": alias, "collection_name": there, "db_name": db}
        assert mc.list_aliases(db_name=db)["aliases"] == [alias]
        assert other.list_aliases(there) == {"aliases": [alias], "collection_name": there, "db_name": db}
        # An alias cannot point into another database: the collection is looked up in the alias's database.
        err = milvus_error(mc.alter_alias, there, alias)
        assert (err.code, err.message) == (100, f"collection not found[collection={there}]")
        other.drop_alias(alias)
        assert mc.describe_alias(alias)["collection_name"] == here
        err = milvus_error(mc.list_aliases, db_name="no_such_db")
        assert (err.code, err.message) == (800, "database not found[database=no_such_db]")
    finally:
        other.close()


def test_renames_keep_aliases_and_refuse_alias_names(server: Server, mc: MilvusClient, pair: tuple[str, str]) -> None:
    first, second = pair
    alias, renamed = unique("current"), unique("renamed")
    mc.create_alias(first, alias)

    mc.rename_collection(first, renamed)

    assert mc.describe_alias(alias)["collection_name"] == renamed  # the alias follows the collection (same ID)
    assert mc.list_aliases(renamed)["aliases"] == [alias]
    assert seed.row_count(mc, alias) == 0  # still loaded through the rename
    err = milvus_error(mc.rename_collection, alias, unique("via_alias"))
    assert (err.code, err.message) == (
        1100,
        f"unsupported use an alias to rename collection, alias:{alias}: invalid parameter",
    )
    err = milvus_error(mc.rename_collection, second, alias)
    assert (err.code, err.message) == (1601, f"alias and collection name conflict[database=default][alias={alias}]")
    err = milvus_error(mc.rename_collection, second, renamed)
    assert (err.code, err.message) == (
        1100,
        f"duplicated new collection name default:{renamed} with other collection name or alias: invalid parameter",
    )
    assert mc.has_collection(second)


def test_snapshot_rpcs_resolve_aliases_to_the_collection(
    server: Server, mc: MilvusClient, pair: tuple[str, str]
) -> None:
    first, _ = pair
    alias, snap = unique("named"), unique("via_alias")
    mc.create_alias(first, alias)
    mc.create_snapshot(snap, alias)
    assert mc.list_snapshots(first) == [snap]
    assert mc.describe_snapshot(snap, alias).collection_name == first


def test_aliases_and_load_state_survive_a_restart(own_server: MilvusServer) -> None:
    client = seed.client(own_server.uri, USER_TOKEN)
    try:
        seed.create_books(client, "kept", rows=20)
        create_empty(client, "released")
        client.release_collection("released")
        client.create_alias("kept", "front")
        client.create_alias("released", "back")
        ids = {name: client.describe_collection(name)["collection_id"] for name in ("kept", "released")}
    finally:
        client.close()

    own_server.restart()

    client = seed.client(own_server.uri, USER_TOKEN)
    try:
        assert client.describe_alias("front")["collection_name"] == "kept"
        assert sorted(client.list_aliases()["aliases"]) == ["back", "front"]
        assert {n: client.describe_collection(n)["collection_id"] for n in ("kept", "released")} == ids
        # Milvus restores what was loaded: searchable at once, through the alias too.
        assert str(client.get_load_state("front")["state"]) == "Loaded"
        assert seed.row_count(client, "front") == 20
        assert str(client.get_load_state("released")["state"]) == "NotLoad"
        assert milvus_error(seed.row_count, client, "back").code == 101
        err = milvus_error(client.drop_collection, "kept")
        assert err.message.startswith("unable to drop the collection [kept] because it has associated aliases")
    finally:
        client.close()
