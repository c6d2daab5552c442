"""What a restore cut-over needs from the server (load, row counts, index state, a search probe, aliases), proven on milvusd with pymilvus 3.0.2.

After a restore job completes the operator loads the target (bounded, polling get_load_state), compares
row counts, checks every index exists and is Finished, probes a search, switches an alias, then releases
and drops the previous collection. The first test walks that whole path; the others prove each fault
knob that makes one of those checks fail (rows lost, indexes missing, a load that fails or takes time,
a reply lost on the way), and what a restore job says on the wire about where it came from.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from pymilvus import AsyncMilvusClient, MilvusClient
from pymilvus.exceptions import MilvusException
from pymilvus.grpc_gen import milvus_pb2

from testbed import seed
from testbed.processes import MilvusServer

from .conftest import SERVER_ARGS, USER_TOKEN, Server, auth_metadata, create_shelves, milvus_error, unique, wait_job

pytestmark = pytest.mark.integration

SOURCE = "books"  # seeded by the `mc` fixture: 300 rows, FLAT index on `vector`, loaded


def restore(mc: MilvusClient, target: str, source: str = SOURCE) -> Any:
    """Snapshot `source`, restore it into `target` and wait for the job's terminal state."""
    snap = unique("cut")
    mc.create_snapshot(snap, source)
    job_id = mc.restore_snapshot(snap, source, target)
    return wait_job(lambda: mc.get_restore_snapshot_state(job_id))


def load_state(mc: MilvusClient, name: str) -> str:
    return str(mc.get_load_state(name)["state"])


def indexes(mc: MilvusClient, name: str) -> dict[str, dict[str, Any]]:
    return {index: mc.describe_index(name, index) for index in mc.list_indexes(name)}


# ── the whole cut-over path ─────────────────────────────────────


def test_a_restored_collection_supports_every_cutover_step(server: Server, mc: MilvusClient) -> None:
    previous, current, alias = unique("docs_v1"), unique("docs_v2"), unique("docs")
    assert restore(mc, previous).state == "RestoreSnapshotCompleted"
    done = restore(mc, current)
    assert (done.state, done.progress, done.reason) == ("RestoreSnapshotCompleted", 100, "")

    # Not loaded after the restore: nothing is searchable yet.
    assert load_state(mc, current) == "NotLoad"
    assert milvus_error(seed.hits, mc, current).code == 101
    assert milvus_error(seed.row_count, mc, current).code == 101
    # Row count and indexes are there without a load.
    assert mc.get_collection_stats(current)["row_count"] == mc.get_collection_stats(SOURCE)["row_count"] == 300
    source_indexes, restored = indexes(mc, SOURCE), indexes(mc, current)
    assert list(restored) == list(source_indexes) == ["vector"]
    for name, index in restored.items():
        assert (index["state"], index["pending_index_rows"]) == ("Finished", 0)
        assert (index["index_type"], index["metric_type"]) == (source_indexes[name]["index_type"], "L2")

    mc.load_collection(current, replica_number=1, timeout=30)

    assert mc.get_load_state(current) == {"state": mc.get_load_state(SOURCE)["state"]}
    assert load_state(mc, current) == "Loaded"
    assert seed.row_count(mc, current) == 300
    assert seed.hits(mc, current) == seed.hits(mc, SOURCE)  # the search probe finds the same neighbours

    # Cut-over: the alias moves in one call, then the previous collection is released and dropped.
    mc.load_collection(previous, timeout=30)
    mc.create_alias(previous, alias)
    mc.create_alias(previous, alias)  # a re-run of the same step is harmless
    mc.alter_alias(current, alias)
    assert mc.describe_alias(alias)["collection_name"] == current
    assert seed.hits(mc, alias) == seed.hits(mc, SOURCE)
    mc.release_collection(previous)
    assert load_state(mc, previous) == "NotLoad"
    mc.drop_collection(previous)
    assert not mc.has_collection(previous)
    assert seed.row_count(mc, alias) == 300


async def test_async_client_load_is_bounded_by_its_timeout_then_polled(server: Server, mc: MilvusClient) -> None:
    """The operator's path: AsyncMilvusClient.load_collection waits for 100 % or its timeout; a slow load
    is then followed with get_load_state, which says Loading with a growing progress until Loaded."""
    target = unique("slow_load")
    restore(mc, target)
    server.faults(load_latency=5.0)
    client = AsyncMilvusClient(uri=server.uri, token=USER_TOKEN, timeout=10)
    try:
        with pytest.raises(MilvusException) as info:
            await client.load_collection(target, timeout=0.5)
        assert (info.value.code, info.value.message) == (1, "[load_collection] Retry timeout: 0.5s")
        # The sync client's shape of the same timeout (its own wait loop, then the retry wrapper's message).
        err = milvus_error(mc.load_collection, target, timeout=0.5)
        assert (err.code, err.message) == (
            1,
            "[load_collection] Retry timeout: 0.5s, message=[wait_for_loading_collection] Retry timeout: 0.5s, "
            f"message=wait for loading collection timeout, collection: {target}",
        )

        async def load_state() -> tuple[str, int]:
            state = await client.get_load_state(target)
            return str(state["state"]), int(state.get("progress", 100))

        seen = [await load_state()]
        assert seen[0][0] == "Loading", seen  # the two 0.5 s timeouts above leave about 4 s of the load
        err = milvus_error(seed.hits, mc, target)  # searchable only once fully loaded
        assert (err.code, err.message.split("[")[0]) == (103, "failed to search: collection not fully loaded")
        deadline = time.monotonic() + 60
        while seen[-1][0] != "Loaded":
            assert time.monotonic() < deadline, seen
            await asyncio.sleep(0.1)
            seen.append(await load_state())
        loading = [p for s, p in seen if s == "Loading"]
        assert loading, seen
        assert loading == sorted(loading), seen
        assert all(0 <= p < 100 for p in loading), seen
        assert seen[-1] == ("Loaded", 100)
        assert seed.row_count(mc, target) == 300
        await client.load_collection(target, timeout=5)  # loading a loaded collection returns at once
    finally:
        await client.close()


# ── fault knobs ─────────────────────────────────────────────────


def test_restore_drop_rows_completes_with_fewer_rows(server: Server, mc: MilvusClient) -> None:
    server.faults(restore_drop_rows={"restores": 1, "rows": 7})
    short, full = unique("short"), unique("full")

    done = restore(mc, short)

    assert (done.state, done.progress, done.reason) == ("RestoreSnapshotCompleted", 100, "")  # Milvus says all is well
    assert mc.get_collection_stats(short)["row_count"] == 293
    mc.load_collection(short, timeout=30)
    assert seed.row_count(mc, short) == 293
    assert server.get_faults()["restore_drop_rows"] == {"restores": 0, "rows": 7}  # consumed
    restore(mc, full)
    assert mc.get_collection_stats(full)["row_count"] == 300


def test_restore_skip_indexes_completes_without_indexes(server: Server, mc: MilvusClient) -> None:
    server.faults(restore_skip_indexes=1)
    bare, indexed = unique("bare"), unique("indexed")

    done = restore(mc, bare)

    assert (done.state, done.progress) == ("RestoreSnapshotCompleted", 100)
    assert mc.get_collection_stats(bare)["row_count"] == 300  # the data came, the indexes did not
    assert mc.list_indexes(bare) == []
    assert mc.describe_index(bare, "vector") is None  # pymilvus's answer to IndexNotFound
    err = milvus_error(mc.load_collection, bare, timeout=10)
    assert (err.code, err.message) == (
        65535,
        "there is no vector index on field: [vector], please create index firstly",
    )
    assert load_state(mc, bare) == "NotLoad"
    assert server.get_faults()["restore_skip_indexes"] == 0
    restore(mc, indexed)
    assert mc.list_indexes(indexed) == ["vector"]


def test_load_fail_next_fails_the_next_loads_only(server: Server, mc: MilvusClient) -> None:
    """Models a restore that reports Completed but cannot load (milvus#52989)."""
    target = unique("unloadable")
    assert restore(mc, target).state == "RestoreSnapshotCompleted"
    collection_id = mc.describe_collection(target)["collection_id"]
    server.faults(load_fail_next=1)

    err = milvus_error(mc.load_collection, target, timeout=10)

    assert (err.code, err.message) == (101, f"segment load failed: collection not loaded[collection={collection_id}]")
    assert load_state(mc, target) == "NotLoad"
    assert server.counters()["LoadCollection"] == 1  # accepted; the failure shows in the progress poll
    assert server.get_faults()["load_fail_next"] == 0
    mc.load_collection(target, timeout=10)  # the next load succeeds
    assert seed.row_count(mc, target) == 300


def test_load_fail_collections_fails_every_load_of_those(server: Server, mc: MilvusClient) -> None:
    doomed, fine = unique("doomed"), unique("fine")
    restore(mc, doomed)
    restore(mc, fine)
    server.faults(load_fail_collections=[doomed], load_fail_reason="failed to load segment: segment lacks")

    for _ in range(2):
        err = milvus_error(mc.load_collection, doomed, timeout=10)
        assert err.code == 101
        assert err.message.startswith("failed to load segment: segment lacks: collection not loaded[collection=")
    mc.load_collection(fine, timeout=10)
    assert load_state(mc, fine) == "Loaded"

    server.faults(load_fail_collections=[])
    mc.load_collection(doomed, timeout=10)
    assert load_state(mc, doomed) == "Loaded"


def test_a_lost_restore_reply_is_resent_by_pymilvus_and_refused_as_duplicate(server: Server, mc: MilvusClient) -> None:
    """pymilvus retries RestoreSnapshot on UNAVAILABLE; the server already ran the first call, so the retry
    meets the target it created: "duplicate collection". One job exists, and it runs to completion."""
    snap, target = unique("lost"), unique("lost_reply")
    mc.create_snapshot(snap, SOURCE)
    server.faults(lose_reply={"RestoreSnapshot": 1})
    server.reset_counters()

    err = milvus_error(mc.restore_snapshot, snap, SOURCE, target, timeout=10)

    assert err.code == 65535
    assert "failed to restore collection: create duplicate collection" in err.message
    assert server.counters()["RestoreSnapshot"] == 2  # the original and pymilvus's re-send
    jobs = mc.list_restore_snapshot_jobs(target)
    assert len(jobs) == 1
    assert (jobs[0].snapshot_name, jobs[0].collection_name) == (snap, target)
    done = wait_job(lambda: mc.get_restore_snapshot_state(jobs[0].job_id))
    assert done.state == "RestoreSnapshotCompleted"
    assert mc.get_collection_stats(target)["row_count"] == 300
    assert server.get_faults()["lose_reply"] == {"RestoreSnapshot": 0}


def test_lose_reply_runs_the_call_then_answers_unavailable(server: Server, mc: MilvusClient) -> None:
    snap = unique("ran_anyway")
    server.faults(lose_reply={"CreateSnapshot": 1})
    channel, stub = server.stub()
    request = milvus_pb2.CreateSnapshotRequest(name=snap, collection_name=SOURCE)
    with channel:
        with pytest.raises(grpc.RpcError) as info:
            stub.CreateSnapshot(request, metadata=auth_metadata(USER_TOKEN), timeout=5)
        assert (info.value.code(), info.value.details()) == (
            grpc.StatusCode.UNAVAILABLE,
            "milvusd: injected lost reply",
        )
        assert snap in mc.list_snapshots(SOURCE)  # it ran
        again = stub.CreateSnapshot(request, metadata=auth_metadata(USER_TOKEN), timeout=5)
    assert (again.code, again.reason) == (1100, f"snapshot name {snap} already exists: invalid parameter")


def test_restore_into_an_alias_name_is_refused(server: Server, mc: MilvusClient) -> None:
    alias, snap = unique("taken"), unique("aliased")
    mc.create_alias(SOURCE, alias)
    mc.create_snapshot(snap, SOURCE)
    try:
        err = milvus_error(mc.restore_snapshot, snap, SOURCE, alias)
        assert (err.code, err.message) == (
            65535,
            f"failed to restore collection: collection name [{alias}] conflicts with an existing alias, "
            "please choose a unique name",
        )
        assert all(job.snapshot_name != snap for job in mc.list_restore_snapshot_jobs())  # no job started
    finally:
        mc.drop_alias(alias)


# ── what a job says about its origin ────────────────────────────


def test_restore_jobs_name_the_snapshot_and_target_but_not_the_source(server: Server, mc: MilvusClient) -> None:
    """RestoreSnapshotInfo has job_id, snapshot_name, db_name, collection_name (the TARGET), state, progress,
    reason, start_time, time_cost; nothing names the source collection, so two sources' same-named snapshots
    restored side by side are told apart only by their targets."""
    assert [f.name for f in milvus_pb2.RestoreSnapshotInfo.DESCRIPTOR.fields] == [
        "job_id", "snapshot_name", "db_name", "collection_name", "state", "progress", "reason", "start_time", "time_cost",
    ]  # fmt: skip
    other = unique("other_source")
    create_shelves(mc, other, partitions=1, rows_each=5)
    snap, from_books, from_other = unique("same_name"), unique("from_books"), unique("from_other")
    mc.create_snapshot(snap, SOURCE)
    mc.create_snapshot(snap, other)
    ids = {
        mc.restore_snapshot(snap, SOURCE, from_books): from_books,
        mc.restore_snapshot(snap, other, from_other): from_other,
    }
    listed = {job.job_id: job for job in mc.list_restore_snapshot_jobs() if job.job_id in ids}
    assert {(j.snapshot_name, j.db_name, j.collection_name) for j in listed.values()} == {
        (snap, "default", from_books),
        (snap, "default", from_other),
    }
    assert {job_id: job.collection_name for job_id, job in listed.items()} == ids
    for job_id in ids:
        wait_job(lambda job_id=job_id: mc.get_restore_snapshot_state(job_id))  # type: ignore[misc]

    # Once its target is dropped, a job names no collection and leaves the database's listing.
    dropped = next(job_id for job_id, name in ids.items() if name == from_other)
    mc.drop_collection(from_other)
    gone = mc.get_restore_snapshot_state(dropped)
    assert (gone.snapshot_name, gone.db_name, gone.collection_name) == (snap, "", "")
    assert dropped not in [job.job_id for job in mc.list_restore_snapshot_jobs()]


# ── the knobs from the command line and the admin endpoint ──────


@pytest.fixture
def flagged(tmp_path: Path) -> Iterator[MilvusServer]:
    proc = MilvusServer(
        tmp_path / "data",
        *SERVER_ARGS,
        "--restore-drop-rows", "2:5",
        "--restore-skip-indexes", "3",
        "--load-latency", "0.25",
        "--load-fail-next", "1",
        "--load-fail-collection", "doomed",
        "--load-fail-reason", "segment lacks",
        "--lose-reply", "RestoreSnapshot=1",
    ).start()  # fmt: skip
    try:
        yield proc
    finally:
        proc.stop()


def test_every_new_knob_has_a_flag(flagged: MilvusServer) -> None:
    faults = flagged._admin("GET", "/faults")
    assert {k: faults[k] for k in faults if k.startswith(("restore_drop", "restore_skip", "load_", "lose_"))} == {
        "restore_drop_rows": {"restores": 2, "rows": 5},
        "restore_skip_indexes": 3,
        "load_latency": 0.25,
        "load_fail_next": 1,
        "load_fail_collections": ["doomed"],
        "load_fail_reason": "segment lacks",
        "lose_reply": {"RestoreSnapshot": 1},
    }


@pytest.mark.parametrize(
    "body",
    [
        {"restore_drop_rows": {"restores": 1}},
        {"restore_drop_rows": {"restores": 1, "rows": -1}},
        {"restore_skip_indexes": True},
        {"load_latency": -1},
        {"load_fail_collections": "doomed"},
        {"lose_reply": {"RestoreSnapshot": 1.5}},
    ],
)
def test_admin_rejects_bad_new_knobs(server: Server, body: dict[str, Any]) -> None:
    before = server.get_faults()
    code, reply = server.admin_post("/faults", body)
    assert code == 400, reply
    assert server.get_faults() == before  # nothing applied
