"""milvusd, the Milvus 3.0 test server, driven by plain pymilvus 3.0.2 over loopback gRPC.

Checks the snapshot RPCs against Milvus 3.0's semantics: codes in Status (never gRPC errors, so no
client retries), per-collection names, hybrid timestamps, the async restore job and its pin, retention,
token auth and the fault-injection knobs the operator tests rely on.
"""

from __future__ import annotations

import re
import time

import grpc
import pytest
from pymilvus import MilvusClient
from pymilvus.exceptions import ParamError
from pymilvus.grpc_gen import common_pb2, milvus_pb2

from testbed import seed

from .conftest import (
    API_KEY,
    RESTORE_DURATION,
    USER_TOKEN,
    Server,
    auth_metadata,
    create_empty,
    create_shelves,
    milvus_error,
    rpc_error,
    unique,
    wait_job,
)

pytestmark = pytest.mark.integration

# Legacy `error_code` values pymilvus reports as `compatible_code` (merr oldCode()).
ILLEGAL_ARGUMENT = common_pb2.IllegalArgument  # 5
COLLECTION_NOT_EXISTS = common_pb2.CollectionNotExists  # 4
UNEXPECTED_ERROR = common_pb2.UnexpectedError  # 1


def now_ms() -> int:
    return int(time.time() * 1000)


# ── create / describe / list / drop ─────────────────────────────


def test_create_describe_list_drop_round_trip(server: Server, mc: MilvusClient) -> None:
    name = unique("nightly")
    before = now_ms()
    mc.create_snapshot(name, "books", description="before the migration", compaction_protection_seconds=3600)
    after = now_ms()

    assert name in mc.list_snapshots("books")
    info = mc.describe_snapshot(name, "books")
    assert (info.name, info.description, info.collection_name) == (name, "before the migration", "books")
    assert info.partition_names == ["_default"]
    # create_ts is a hybrid TSO: physical milliseconds << 18, logical part 0 here.
    assert info.create_ts > 1 << 40
    assert before - 5 <= info.create_ts >> 18 <= after + 5
    assert info.create_ts & ((1 << 18) - 1) == 0
    # s3_location names the collection ID that DescribeCollection reports.
    match = re.fullmatch(r"snapshots/(\d+)/metadata/(\d+)\.json", info.s3_location)
    assert match is not None, info.s3_location
    assert int(match.group(1)) == mc.describe_collection("books")["collection_id"]

    mc.drop_snapshot(name, "books")
    assert name not in mc.list_snapshots("books")
    err = milvus_error(mc.describe_snapshot, name, "books")
    assert err.code == 65535
    assert f"snapshot not found[snapshot={name}]" in err.message
    mc.drop_snapshot(name, "books")  # dropping a missing snapshot succeeds (idempotent)
    assert server.counters() == {
        "CreateSnapshot": 1,
        "ListSnapshots": 2,
        "DescribeSnapshot": 2,
        "DescribeCollection": 1,
        "DropSnapshot": 2,
    }


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (
            "daily-backup",
            "snapshot name can only contain numbers, letters, underscores, and allowed characters ($), "
            "found - at 5: invalid parameter",
        ),
        (
            "daily.v2",
            "snapshot name can only contain numbers, letters, underscores, and allowed characters ($), "
            "found . at 5: invalid parameter",
        ),
        (
            "x" * 256,
            "the length of snapshot name must be not greater than limit: invalid parameter"
            "[256 out of range 0 <= value <= 255]",
        ),
        (
            "2024_nightly",
            "the first character of snapshot name must be an underscore or letter: invalid parameter"
            "[expected=95][actual=50]",
        ),
        ("   ", "snapshot name should be not empty: invalid parameter[expected=not empty][actual=]"),
    ],
    ids=["dash", "dot", "too-long", "digit-first", "blank"],
)
def test_invalid_snapshot_names_are_1100_in_status_without_retries(
    server: Server, mc: MilvusClient, name: str, reason: str
) -> None:
    before = mc.list_snapshots("books")
    server.reset_counters()

    err = milvus_error(mc.create_snapshot, name, "books")

    assert (err.code, err.compatible_code, err.message) == (1100, ILLEGAL_ARGUMENT, reason)
    assert server.counters() == {"CreateSnapshot": 1}  # a Status error: pymilvus does not retry it
    assert mc.list_snapshots("books") == before


def test_name_limits_accept_dollar_and_255_chars(server: Server, mc: MilvusClient) -> None:
    dollar, longest = unique("cost$"), "_" + "n" * 254
    mc.create_snapshot(dollar, "books")
    mc.create_snapshot(longest, "books")
    assert {dollar, longest} <= set(mc.list_snapshots("books"))
    mc.drop_snapshot(dollar, "books")
    mc.drop_snapshot(longest, "books")


@pytest.mark.parametrize("rpc", ["describe", "drop", "restore", "pin"])
def test_every_named_rpc_validates_the_snapshot_name(server: Server, mc: MilvusClient, rpc: str) -> None:
    calls = {
        "describe": ("DescribeSnapshot", lambda: mc.describe_snapshot("a-b", "books")),
        "drop": ("DropSnapshot", lambda: mc.drop_snapshot("a-b", "books")),
        "restore": ("RestoreSnapshot", lambda: mc.restore_snapshot("a-b", "books", unique("never"))),
        "pin": ("PinSnapshotData", lambda: mc.pin_snapshot_data("a-b", "books")),
    }
    method, call = calls[rpc]
    err = milvus_error(call)
    assert err.code == 1100
    assert "found - at 1: invalid parameter" in err.message
    assert server.counters() == {method: 1}


def test_duplicate_name_is_1100_already_exists(server: Server, mc: MilvusClient) -> None:
    name = unique("dup")
    mc.create_snapshot(name, "books", description="first")

    err = milvus_error(mc.create_snapshot, name, "books", description="second")

    assert (err.code, err.compatible_code) == (1100, ILLEGAL_ARGUMENT)
    assert err.message == f"snapshot name {name} already exists: invalid parameter"
    assert mc.describe_snapshot(name, "books").description == "first"
    assert server.counters() == {"CreateSnapshot": 2, "DescribeSnapshot": 1}


def test_compaction_protection_range(server: Server, mc: MilvusClient) -> None:
    err = milvus_error(mc.create_snapshot, unique("prot"), "books", compaction_protection_seconds=604801)
    assert err.code == 1100
    assert err.message == "compaction_protection_seconds must not exceed 604800: invalid parameter"
    mc.create_snapshot(unique("prot"), "books", compaction_protection_seconds=604800)


def test_names_are_scoped_per_collection(server: Server, mc: MilvusClient) -> None:
    other = unique("papers")
    create_empty(mc, other)
    name = unique("shared")
    mc.create_snapshot(name, "books", description="books copy")
    mc.create_snapshot(name, other, description="papers copy")  # same name, other collection: allowed

    books_info, other_info = mc.describe_snapshot(name, "books"), mc.describe_snapshot(name, other)
    assert (books_info.collection_name, books_info.description) == ("books", "books copy")
    assert (other_info.collection_name, other_info.description) == (other, "papers copy")
    assert books_info.s3_location.split("/")[1] != other_info.s3_location.split("/")[1]

    mc.drop_snapshot(name, other)
    assert name not in mc.list_snapshots(other)
    assert mc.describe_snapshot(name, "books").description == "books copy"
    mc.drop_snapshot(name, "books")


def test_collection_is_required_and_resolved(server: Server, mc: MilvusClient) -> None:
    # pymilvus refuses an empty collection client-side (no RPC at all) ...
    with pytest.raises(ParamError):
        mc.describe_snapshot("s", "")
    with pytest.raises(ParamError):
        mc.drop_snapshot("s", "")
    assert server.counters() == {}
    # ... and the server answers 1101 for a raw request without one.
    channel, stub = server.stub()
    md = auth_metadata(USER_TOKEN)
    with channel:
        drop = stub.DropSnapshot(milvus_pb2.DropSnapshotRequest(name="s"), metadata=md, timeout=5)
        describe = stub.DescribeSnapshot(milvus_pb2.DescribeSnapshotRequest(name="s"), metadata=md, timeout=5)
        listed = stub.ListSnapshots(milvus_pb2.ListSnapshotsRequest(), metadata=md, timeout=5)
    assert (drop.code, drop.error_code, drop.reason) == (
        1101,
        UNEXPECTED_ERROR,
        "collection_name is required for drop snapshot: missing parameter",
    )
    assert (describe.status.code, describe.status.reason) == (
        1101,
        "collection_name is required for describe snapshot: missing parameter",
    )
    assert (listed.status.code, listed.status.reason) == (
        1101,
        "collection_name is required for ListSnapshots: missing parameter",
    )

    # A missing collection is 100 for every snapshot RPC; the drop is not "idempotent success".
    for call in (
        lambda: mc.create_snapshot("s", "no_such_books"),
        lambda: mc.describe_snapshot("s", "no_such_books"),
        lambda: mc.drop_snapshot("s", "no_such_books"),
        lambda: mc.list_snapshots("no_such_books"),
        lambda: mc.flush("no_such_books"),  # milvus-lite alone would flush nothing and succeed
    ):
        err = milvus_error(call)
        assert (err.code, err.compatible_code) == (100, COLLECTION_NOT_EXISTS)
        assert err.message == "collection not found[database=default][collection=no_such_books]"

    err = milvus_error(mc.list_snapshots, "books", db_name="no_such_db")
    assert (err.code, err.message) == (800, "database not found[database=no_such_db]")


def test_unknown_database_is_800_for_collection_rpcs_too(server: Server, mc: MilvusClient) -> None:
    """milvus-lite says code 6 here; Milvus's proxy answers 800 like the snapshot RPCs do."""
    channel, stub = server.stub()
    md = auth_metadata(USER_TOKEN, db="no_such_db")
    with channel:
        replies = [
            stub.DescribeCollection(milvus_pb2.DescribeCollectionRequest(collection_name="books"), metadata=md).status,
            stub.GetCollectionStatistics(
                milvus_pb2.GetCollectionStatisticsRequest(collection_name="books"), metadata=md
            ).status,
            stub.Flush(milvus_pb2.FlushRequest(collection_names=["books"]), metadata=md).status,
            stub.ListSnapshots(milvus_pb2.ListSnapshotsRequest(collection_name="books"), metadata=md).status,
        ]
    for st in replies:
        assert (st.code, st.error_code, st.reason) == (800, UNEXPECTED_ERROR, "database not found[database=no_such_db]")
    assert mc.has_collection("books")  # the default database is unaffected


# ── restore jobs ────────────────────────────────────────────────


def test_restore_is_an_async_job_and_yields_the_same_data(server: Server, mc: MilvusClient) -> None:
    name, target = unique("full"), unique("books_restored")
    mc.create_snapshot(name, "books")
    before = now_ms()

    job_id = mc.restore_snapshot(name, "books", target)

    assert isinstance(job_id, int)
    assert job_id > 0
    # The target exists (empty, not loaded) as soon as the RPC returns; data comes at Completed.
    assert mc.has_collection(target)
    assert mc.get_collection_stats(target)["row_count"] == 0
    first = mc.get_restore_snapshot_state(job_id)
    assert first.state in ("RestoreSnapshotPending", "RestoreSnapshotExecuting")
    assert before <= first.start_time <= now_ms()
    assert first.time_cost == 0

    done = wait_job(lambda: mc.get_restore_snapshot_state(job_id))

    assert (done.job_id, done.snapshot_name, done.db_name, done.collection_name) == (
        job_id,
        name,
        "default",
        target,
    )
    assert (done.state, done.progress, done.reason) == ("RestoreSnapshotCompleted", 100, "")
    assert done.start_time == first.start_time
    assert RESTORE_DURATION * 1000 * 0.9 <= done.time_cost <= 15000
    assert mc.get_collection_stats(target)["row_count"] == 300
    seed.load(mc, target)
    assert seed.row_count(mc, target) == seed.row_count(mc, "books") == 300
    assert seed.hits(mc, target) == seed.hits(mc, "books")
    assert len(seed.hits(mc, target)[0]) == 5


def test_restore_progress_moves_by_segment_and_excludes_unflushed_rows(server: Server, mc: MilvusClient) -> None:
    server.faults(restore_duration=1.6)
    source, name, target = unique("shelves"), unique("shelf_snap"), unique("shelves_restored")
    flushed = create_shelves(mc, source, partitions=4, rows_each=10)
    mc.insert(source, [{"id": 999_999, "vector": [0.5] * seed.DIM, "title": "unflushed"}], partition_name="shelf0")
    mc.create_snapshot(name, source)
    assert mc.describe_snapshot(name, source).partition_names == ["_default", "shelf0", "shelf1", "shelf2", "shelf3"]

    server.faults(restore_tick=60)  # hold the job in Pending until the checker is let go
    job_id = mc.restore_snapshot(name, source, target)
    pending = [mc.get_restore_snapshot_state(job_id) for _ in range(3)]
    assert {(p.state, p.progress, p.time_cost) for p in pending} == {("RestoreSnapshotPending", 0, 0)}
    server.faults(restore_tick=0.1)
    seen: list[tuple[str, int]] = [("RestoreSnapshotPending", 0)]
    deadline = time.monotonic() + 20
    while not seen or seen[-1][0] != "RestoreSnapshotCompleted":
        assert time.monotonic() < deadline, seen
        info = mc.get_restore_snapshot_state(job_id)
        if not seen or seen[-1] != (info.state, info.progress):
            seen.append((info.state, info.progress))
        time.sleep(0.03)

    states = [s for s, _ in seen]
    order = ["RestoreSnapshotPending", "RestoreSnapshotExecuting", "RestoreSnapshotCompleted"]
    assert sorted(states, key=order.index) == states, seen  # never goes backwards
    assert set(states) == set(order), seen
    progress = [p for _, p in seen]
    assert progress == sorted(progress), seen
    assert {p for s, p in seen if s == "RestoreSnapshotExecuting"} & {25, 50, 75}, seen  # 4 segments
    assert seen[-1] == ("RestoreSnapshotCompleted", 100)

    seed.load(mc, target)
    assert seed.row_count(mc, target) == flushed == 40  # the unflushed row is not in the snapshot
    assert mc.list_partitions(target) == ["_default", "shelf0", "shelf1", "shelf2", "shelf3"]


def test_restore_of_an_empty_snapshot_completes_with_no_segments(server: Server, mc: MilvusClient) -> None:
    source, name = unique("empty"), unique("nothing")
    create_empty(mc, source)
    mc.create_snapshot(name, source)
    job_id = mc.restore_snapshot(name, source, unique("empty_restored"))
    done = wait_job(lambda: mc.get_restore_snapshot_state(job_id))
    assert (done.state, done.progress, done.reason) == ("RestoreSnapshotCompleted", 100, "no segments to copy")


def test_restore_into_an_existing_collection_fails_synchronously(server: Server, mc: MilvusClient) -> None:
    name = unique("clash")
    mc.create_snapshot(name, "books")
    jobs_before = len(mc.list_restore_snapshot_jobs())

    err = milvus_error(mc.restore_snapshot, name, "books", "books")

    assert (err.code, err.compatible_code) == (65535, UNEXPECTED_ERROR)
    assert "create duplicate collection" in err.message
    assert len(mc.list_restore_snapshot_jobs()) == jobs_before  # no job was started
    assert mc.get_collection_stats("books")["row_count"] == 300  # the existing collection is untouched
    # A free pin: the failed restore left none behind, so the snapshot drops at once.
    mc.drop_snapshot(name, "books")
    assert name not in mc.list_snapshots("books")


def test_restore_of_a_missing_snapshot_is_not_found(server: Server, mc: MilvusClient) -> None:
    target = unique("ghost")
    err = milvus_error(mc.restore_snapshot, "no_such_snapshot", "books", target)
    assert err.code == 65535
    assert "snapshot not found[snapshot=no_such_snapshot]" in err.message
    assert not mc.has_collection(target)


def test_drop_is_refused_while_a_restore_holds_its_pin(server: Server, mc: MilvusClient) -> None:
    server.faults(restore_duration=1.5)
    name = unique("busy")
    mc.create_snapshot(name, "books")
    job_id = mc.restore_snapshot(name, "books", unique("busy_restored"))

    err = milvus_error(mc.drop_snapshot, name, "books")

    assert err.code == 65535
    assert "1 active pins, unpin before dropping" in err.message
    assert name in mc.list_snapshots("books")
    assert wait_job(lambda: mc.get_restore_snapshot_state(job_id)).state == "RestoreSnapshotCompleted"
    mc.drop_snapshot(name, "books")  # the job's pin went with the terminal state
    assert name not in mc.list_snapshots("books")


def test_user_pins_block_drop_until_unpinned_or_expired(server: Server, mc: MilvusClient) -> None:
    name = unique("pinned")
    mc.create_snapshot(name, "books")
    forever = mc.pin_snapshot_data(name, "books", ttl_seconds=0)
    short = mc.pin_snapshot_data(name, "books", ttl_seconds=1)
    assert forever > 0
    assert short > 0
    assert forever != short

    assert "2 active pins" in milvus_error(mc.drop_snapshot, name, "books").message
    mc.unpin_snapshot_data(forever)
    mc.unpin_snapshot_data(forever)  # unpin is idempotent
    time.sleep(1.1)  # the 1 s pin expires; expired pins never block a drop
    mc.drop_snapshot(name, "books")
    assert name not in mc.list_snapshots("books")

    err = milvus_error(mc.pin_snapshot_data, "no_such_snapshot", "books")
    assert "snapshot not found[snapshot=no_such_snapshot]" in err.message
    err = milvus_error(mc.pin_snapshot_data, name, "books", ttl_seconds=2592001)
    assert (err.code, err.message) == (1100, "ttl_seconds exceeds maximum of 2592000 (30 days): invalid parameter")


def test_failed_restore_reports_reason_and_releases_its_pin(server: Server, mc: MilvusClient) -> None:
    server.faults(fail_restores=1, fail_reason="timeout")
    name, failed_target, ok_target = unique("flaky"), unique("failed_restore"), unique("retried_restore")
    mc.create_snapshot(name, "books")

    job_id = mc.restore_snapshot(name, "books", failed_target)
    failed = wait_job(lambda: mc.get_restore_snapshot_state(job_id))

    assert (failed.state, failed.reason) == ("RestoreSnapshotFailed", "timeout")
    assert failed.time_cost > 0
    assert mc.has_collection(failed_target)  # Milvus keeps the (empty) target of a failed job
    assert mc.get_collection_stats(failed_target)["row_count"] == 0
    assert server.get_faults()["fail_restores"] == 0  # consumed

    retry_id = mc.restore_snapshot(name, "books", ok_target)
    assert wait_job(lambda: mc.get_restore_snapshot_state(retry_id)).state == "RestoreSnapshotCompleted"
    mc.drop_snapshot(name, "books")  # neither job still pins the snapshot


def test_terminal_jobs_vanish_after_retention(server: Server, mc: MilvusClient) -> None:
    server.faults(job_retention=1.0)
    source, name, target = unique("brief"), unique("brief_snap"), unique("brief_restored")
    create_empty(mc, source)
    mc.create_snapshot(name, source)
    job_id = mc.restore_snapshot(name, source, target)
    assert wait_job(lambda: mc.get_restore_snapshot_state(job_id)).state == "RestoreSnapshotCompleted"
    assert [j.job_id for j in mc.list_restore_snapshot_jobs(target)] == [job_id]

    time.sleep(1.2)

    err = milvus_error(mc.get_restore_snapshot_state, job_id)
    assert (err.code, err.message) == (2100, f"restore job not found: jobID={job_id}: importing data failed")
    assert mc.list_restore_snapshot_jobs(target) == []
    assert mc.has_collection(target)  # only the job record goes, not the restored collection


def test_restore_across_databases_and_job_listing_by_target(server: Server, mc: MilvusClient) -> None:
    db = unique("archive")
    mc.create_database(db)
    name, target = unique("xdb"), unique("books_archived")
    mc.create_snapshot(name, "books")

    job_id = mc.restore_snapshot(name, "books", target, target_db_name=db)
    done = wait_job(lambda: mc.get_restore_snapshot_state(job_id))

    assert (done.db_name, done.collection_name, done.state) == (db, target, "RestoreSnapshotCompleted")
    assert job_id in [j.job_id for j in mc.list_restore_snapshot_jobs(db_name=db)]
    assert job_id not in [j.job_id for j in mc.list_restore_snapshot_jobs()]  # filtered by the target's db
    assert [j.job_id for j in mc.list_restore_snapshot_jobs(target, db_name=db)] == [job_id]
    err = milvus_error(mc.list_restore_snapshot_jobs, "no_such_target")
    assert (err.code, err.message) == (100, "collection not found[database=default][collection=no_such_target]")
    assert not mc.has_collection(target)  # not in the default db
    archive = seed.client(server.uri, USER_TOKEN, db=db)
    try:
        assert archive.get_collection_stats(target)["row_count"] == 300
    finally:
        archive.close()


def test_unknown_job_is_2100(server: Server, mc: MilvusClient) -> None:
    err = milvus_error(mc.get_restore_snapshot_state, 42)
    assert (err.code, err.compatible_code) == (2100, UNEXPECTED_ERROR)
    assert err.message == "restore job not found: jobID=42: importing data failed"
    assert server.counters() == {"GetRestoreSnapshotState": 1}


# ── authentication ──────────────────────────────────────────────


@pytest.mark.parametrize(
    ("token", "detail"),
    [
        ("not-the-key", "auth check failure, please check api key is correct"),
        ("root:wrong", "auth check failure, please check username and password are correct"),
        ("", "missing authorization in header"),
    ],
    ids=["wrong-api-key", "wrong-password", "no-token"],
)
def test_wrong_credentials_are_unauthenticated_and_not_retried(server: Server, token: str, detail: str) -> None:
    # pymilvus authenticates on its Connect RPC and wraps the refusal as a connect failure (code 2).
    err = milvus_error(MilvusClient, uri=server.uri, token=token, timeout=5)
    assert err.code == 2
    cause = rpc_error(err)
    assert (cause.code(), cause.details()) == (grpc.StatusCode.UNAUTHENTICATED, detail)
    assert server.counters() == {"Connect": 1}  # UNAUTHENTICATED is never retried

    # Any other RPC gets the same gRPC status, before its handler runs.
    channel, stub = server.stub()
    with channel, pytest.raises(grpc.RpcError) as raw:
        stub.ListSnapshots(
            milvus_pb2.ListSnapshotsRequest(collection_name="books"),
            metadata=auth_metadata(token) if token else [],
            timeout=5,
        )
    assert (raw.value.code(), raw.value.details()) == (grpc.StatusCode.UNAUTHENTICATED, detail)


@pytest.mark.parametrize("token", [USER_TOKEN, API_KEY], ids=["user-password", "api-key"])
def test_accepted_credentials_work(server: Server, mc: MilvusClient, token: str) -> None:
    client = MilvusClient(uri=server.uri, token=token, timeout=5)
    try:
        assert "books" in client.list_collections()
    finally:
        client.close()


# ── fault injection and counters ────────────────────────────────


def test_injected_latency_applies_per_rpc(server: Server, mc: MilvusClient) -> None:
    server.faults(latency={"ListSnapshots": 1.0})

    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        mc.list_snapshots("books", timeout=0.3)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 0.9
    assert server.counters() == {"ListSnapshots": 1}  # DEADLINE_EXCEEDED is not retried

    started = time.monotonic()
    mc.describe_collection("books")  # other RPCs are not delayed
    assert time.monotonic() - started < 0.5
    started = time.monotonic()
    mc.list_snapshots("books", timeout=5)
    assert time.monotonic() - started >= 1.0

    server.faults(latency={"*": 0.4})
    started = time.monotonic()
    mc.has_collection("books")
    assert time.monotonic() - started >= 0.4


def test_unavailable_window_then_recovery(server: Server, mc: MilvusClient) -> None:
    server.faults(unavailable_for=1.0)
    assert server.get_faults()["unavailable_for"] > 0.5

    # pymilvus reconnects once on UNAVAILABLE; the Connect is refused too, so it gives up at once.
    err = milvus_error(mc.list_snapshots, "books", timeout=5)
    assert err.code == 2
    assert rpc_error(err).code() == grpc.StatusCode.UNAVAILABLE
    assert server.counters() == {"ListSnapshots": 1, "Connect": 1}
    channel, stub = server.stub()
    with channel, pytest.raises(grpc.RpcError) as raw:
        stub.ListSnapshots(milvus_pb2.ListSnapshotsRequest(collection_name="books"), timeout=5)
    assert raw.value.code() == grpc.StatusCode.UNAVAILABLE  # even before auth, like a down server
    assert raw.value.details() == "milvusd: injected unavailability"

    server.wait_available()
    assert "books" in mc.list_collections()  # the same client works again


def test_counters_count_each_rpc_and_reset(server: Server, mc: MilvusClient) -> None:
    mc.list_snapshots("books")
    mc.list_snapshots("books")
    mc.list_collections()
    assert server.counters() == {"ListSnapshots": 2, "ShowCollections": 1}
    server.reset_counters()
    assert server.counters() == {}


def test_admin_rejects_bad_fault_settings_atomically(server: Server) -> None:
    status, body = server.admin_post("/faults", {"restore_duration": 3, "no_such_knob": 1})
    assert status == 400
    assert "no_such_knob" in body["error"]
    assert server.get_faults()["restore_duration"] == RESTORE_DURATION  # nothing applied
    status, body = server.admin_post("/faults", {"fail_restores": -1})
    assert status == 400
    status, body = server.admin_post("/faults", {"latency": {"ListSnapshots": 0.25}})
    assert (status, body["latency"]) == (200, {"ListSnapshots": 0.25})
