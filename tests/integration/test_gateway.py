"""The operator's Milvus gateway (PymilvusGateway, GatewayPool, RestoreJobCache) against milvusd.

Real pymilvus 3.0.2 AsyncMilvusClient over loopback gRPC: every gateway method round-trips, every
failure comes back as a MilvusError of the right kind (which decides terminal vs. retried in
reconcile/milvus_errors.py), expected failures do not flood the log, and restore-job polling is
coalesced into one RPC per interval.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from pymilvus import MilvusClient

from milvus_snapshot_operator.milvus.gateway import ErrorKind, MilvusError, RestoreJob, SnapshotInfo
from milvus_snapshot_operator.milvus.jobcache import RestoreJobCache
from milvus_snapshot_operator.milvus.logs import quiet_pymilvus
from milvus_snapshot_operator.milvus.pool import GatewayPool
from milvus_snapshot_operator.milvus.pymilvus_gateway import Endpoint, PymilvusGateway
from testbed import seed
from testbed.processes import REPO

from .conftest import USER_TOKEN, Server, create_empty, unique

pytestmark = pytest.mark.integration

TIMEOUT = 5.0
# How the reconcilers treat each kind (reconcile/milvus_errors.py): retried vs. terminal.
RETRIED = {ErrorKind.UNAVAILABLE, ErrorKind.PINNED, ErrorKind.AUTH, ErrorKind.PERMISSION, ErrorKind.UNSUPPORTED}
EXISTING = "existing_snapshot"  # created once per module on `books`


@pytest.fixture(scope="module", autouse=True)
def quiet_logs() -> None:
    """What the operator does at startup (handlers/startup.py) with --verbose: the tests below read the
    demoted DEBUG records."""
    quiet_pymilvus(debug=True)


@pytest.fixture(scope="module")
def books(mc: MilvusClient) -> MilvusClient:
    mc.create_snapshot(EXISTING, "books")
    return mc


def endpoint(server: Server, token: str = USER_TOKEN, timeout: float = TIMEOUT, db: str = "default") -> Endpoint:
    return Endpoint(uri=server.uri, db_name=db, timeout=timeout, token=token)


@pytest.fixture
async def gateway(server: Server, books: MilvusClient) -> AsyncIterator[PymilvusGateway]:
    """A connected gateway; counters are zeroed after its Connect so tests see only their own RPCs."""
    gw = PymilvusGateway(endpoint(server))
    await gw.server_version()
    server.reset_counters()
    yield gw
    await gw.close()


async def failure(call: Awaitable[object]) -> MilvusError:
    with pytest.raises(MilvusError) as info:
        await call
    return info.value


async def wait_terminal(gw: PymilvusGateway, job_id: int, within: float = 20) -> RestoreJob:
    deadline = time.monotonic() + within
    while True:
        job = await gw.restore_state(job_id)
        assert job is not None
        if job.terminal:
            return job
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.05)


# ── round trips ─────────────────────────────────────────────────


async def test_every_gateway_method_round_trips(server: Server, gateway: PymilvusGateway, books: MilvusClient) -> None:
    assert await gateway.server_version() == books.get_server_version()
    await gateway.check_snapshot_support()
    assert await gateway.collection_exists("books", "default") is True
    assert await gateway.collection_exists("no_such_books", "default") is False
    await gateway.flush("books", "default")
    assert await gateway.row_count("books", "default") == 300

    server.faults(restore_duration=1.5)  # time to see the job running and its pin refuse a drop
    name, target = unique("gw_snap"), unique("gw_restored")
    before_ms = int(time.time() * 1000)
    await gateway.create_snapshot(name, "books", "default", "made by the gateway", 3600)
    info = await gateway.describe_snapshot(name, "books", "default")
    assert isinstance(info, SnapshotInfo)
    assert (info.name, info.description, info.collection_name, info.partition_names) == (
        name,
        "made by the gateway",
        "books",
        ("_default",),
    )
    assert before_ms - 5 <= info.create_ts >> 18 <= int(time.time() * 1000) + 5
    assert re.fullmatch(r"snapshots/\d+/metadata/\d+\.json", info.s3_location)
    assert name in await gateway.list_snapshots("books", "default")
    assert await gateway.describe_snapshot("no_such_snapshot", "books", "default") is None

    job_id = await gateway.restore_snapshot(name, "books", "default", target, "default")
    assert job_id > 0
    first = await gateway.restore_state(job_id)
    assert first is not None
    assert (first.job_id, first.snapshot_name, first.db_name, first.collection_name) == (
        job_id,
        name,
        "default",
        target,
    )
    assert first.state in ("RestoreSnapshotPending", "RestoreSnapshotExecuting")
    assert not first.terminal
    assert before_ms <= first.start_time_ms <= int(time.time() * 1000)
    err = await failure(gateway.drop_snapshot(name, "books", "default"))
    assert err.kind == ErrorKind.PINNED  # the running restore pins its source

    done = await wait_terminal(gateway, job_id)
    assert (done.state, done.progress, done.reason, done.start_time_ms) == (
        "RestoreSnapshotCompleted",
        100,
        "",
        first.start_time_ms,
    )
    assert done.time_cost_ms > 0
    assert done in await gateway.list_restore_jobs("default")
    assert await gateway.row_count(target, "default") == 300
    assert await gateway.restore_state(424242) is None  # unknown (or expired) job

    await gateway.drop_snapshot(name, "books", "default")
    assert await gateway.describe_snapshot(name, "books", "default") is None
    await gateway.drop_snapshot(name, "books", "default")  # idempotent
    counters = server.counters()
    assert counters["CreateSnapshot"] == 1
    assert counters["RestoreSnapshot"] == 1
    assert counters["DropSnapshot"] == 3
    assert counters["ListRestoreSnapshotJobs"] == 1


async def test_calls_reach_the_database_they_name(
    server: Server, gateway: PymilvusGateway, books: MilvusClient
) -> None:
    """The endpoint's database is only a default: a snapshot or restore may name another one."""
    db = unique("shelfdb")
    books.create_database(db)
    other = seed.client(server.uri, USER_TOKEN, db=db)
    try:
        seed.create_books(other, rows=10)  # `books` again, with 10 rows, in the other database
        create_empty(other, "only_here")
    finally:
        other.close()

    assert await gateway.row_count("books", db) == 10
    assert await gateway.row_count("books", "default") == 300
    assert await gateway.collection_exists("only_here", db) is True
    assert await gateway.collection_exists("only_here", "default") is False
    await gateway.flush("only_here", db)
    err = await failure(gateway.flush("only_here", "default"))
    assert err.kind == ErrorKind.COLLECTION_NOT_FOUND

    name, target = unique("db_snap"), unique("from_other_db")
    await gateway.create_snapshot(name, "books", db, "", 0)
    assert await gateway.list_snapshots("books", db) == [name]
    assert name not in await gateway.list_snapshots("books", "default")
    job_id = await gateway.restore_snapshot(name, "books", db, target, "default")
    done = await wait_terminal(gateway, job_id)
    assert (done.state, done.db_name, done.collection_name) == ("RestoreSnapshotCompleted", "default", target)
    assert await gateway.row_count(target, "default") == 10
    assert job_id in [j.job_id for j in await gateway.list_restore_jobs("default")]
    assert job_id not in [j.job_id for j in await gateway.list_restore_jobs(db)]


# ── error classification ────────────────────────────────────────

Call = Callable[[PymilvusGateway], Awaitable[object]]

CASES: list[tuple[str, Call, ErrorKind, int | None, str, str]] = [
    (
        "invalid-name-create",
        lambda gw: gw.create_snapshot("nightly-2024", "books", "default", "", 0),
        ErrorKind.INVALID,
        1100,
        "found - at 7: invalid parameter",
        "CreateSnapshot",
    ),
    (
        "invalid-name-describe",
        lambda gw: gw.describe_snapshot("v1.2", "books", "default"),
        ErrorKind.INVALID,
        1100,
        "found . at 2: invalid parameter",
        "DescribeSnapshot",
    ),
    (
        "invalid-name-drop",
        lambda gw: gw.drop_snapshot("x" * 256, "books", "default"),
        ErrorKind.INVALID,
        1100,
        "the length of snapshot name must be not greater than limit",
        "DropSnapshot",
    ),
    (
        "invalid-name-restore",
        lambda gw: gw.restore_snapshot("9lives", "books", "default", "never_made", "default"),
        ErrorKind.INVALID,
        1100,
        "the first character of snapshot name must be an underscore or letter",
        "RestoreSnapshot",
    ),
    (
        "invalid-target-name",
        lambda gw: gw.restore_snapshot(EXISTING, "books", "default", "bad-target", "default"),
        ErrorKind.INVALID,
        1100,
        "collection name can only contain numbers, letters, underscores",
        "RestoreSnapshot",
    ),
    (
        "protection-too-long",
        lambda gw: gw.create_snapshot("too_protected", "books", "default", "", 604801),
        ErrorKind.INVALID,
        1100,
        "compaction_protection_seconds must not exceed 604800",
        "CreateSnapshot",
    ),
    (
        "duplicate-name",
        lambda gw: gw.create_snapshot(EXISTING, "books", "default", "", 0),
        ErrorKind.ALREADY_EXISTS,
        1100,
        f"snapshot name {EXISTING} already exists",
        "CreateSnapshot",
    ),
    (
        "collection-missing-create",
        lambda gw: gw.create_snapshot("s", "no_such_books", "default", "", 0),
        ErrorKind.COLLECTION_NOT_FOUND,
        100,
        "collection not found[database=default][collection=no_such_books]",
        "CreateSnapshot",
    ),
    (
        "collection-missing-describe",
        lambda gw: gw.describe_snapshot("s", "no_such_books", "default"),
        ErrorKind.COLLECTION_NOT_FOUND,
        100,
        "collection not found[database=default][collection=no_such_books]",
        "DescribeSnapshot",
    ),
    (
        "collection-missing-list",
        lambda gw: gw.list_snapshots("no_such_books", "default"),
        ErrorKind.COLLECTION_NOT_FOUND,
        100,
        "collection not found",
        "ListSnapshots",
    ),
    (
        "collection-missing-drop",
        lambda gw: gw.drop_snapshot("s", "no_such_books", "default"),
        ErrorKind.COLLECTION_NOT_FOUND,
        100,
        "collection not found",
        "DropSnapshot",
    ),
    (
        "collection-missing-row-count",
        lambda gw: gw.row_count("no_such_books", "default"),
        ErrorKind.COLLECTION_NOT_FOUND,
        100,
        "no_such_books",
        "GetCollectionStatistics",
    ),
    (
        "database-missing",
        lambda gw: gw.list_snapshots("books", "no_such_db"),
        ErrorKind.COLLECTION_NOT_FOUND,
        800,
        "database not found[database=no_such_db]",
        "ListSnapshots",
    ),
    (
        "snapshot-missing-restore",
        lambda gw: gw.restore_snapshot("no_such_snapshot", "books", "default", "never_made", "default"),
        ErrorKind.NOT_FOUND,
        65535,
        "snapshot not found[snapshot=no_such_snapshot]",
        "RestoreSnapshot",
    ),
    (
        "restore-target-exists",
        lambda gw: gw.restore_snapshot(EXISTING, "books", "default", "books", "default"),
        ErrorKind.TARGET_EXISTS,
        65535,
        "create duplicate collection",
        "RestoreSnapshot",
    ),
]


@pytest.mark.parametrize(("call", "kind", "code", "text", "rpc"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_business_errors_are_classified_terminal_with_one_rpc(
    server: Server, gateway: PymilvusGateway, call: Call, kind: ErrorKind, code: int | None, text: str, rpc: str
) -> None:
    started = time.monotonic()
    err = await failure(call(gateway))
    assert (err.kind, err.code) == (kind, code)
    assert text in err.message
    assert kind not in RETRIED  # reconcile stalls on these instead of retrying forever
    assert server.counters() == {rpc: 1}  # a Status error: no client-side retries
    assert time.monotonic() - started < 1.0


async def test_an_unknown_database_is_terminal_for_every_call(server: Server, gateway: PymilvusGateway) -> None:
    calls: list[Awaitable[object]] = [
        gateway.collection_exists("books", "no_such_db"),
        gateway.row_count("books", "no_such_db"),
        gateway.flush("books", "no_such_db"),
        gateway.describe_snapshot(EXISTING, "books", "no_such_db"),
        gateway.create_snapshot("s", "books", "no_such_db", "", 0),
        gateway.restore_snapshot(EXISTING, "books", "default", "never_made", "no_such_db"),
    ]
    for call in calls:
        err = await failure(call)
        assert (err.kind, err.code, err.message) == (
            ErrorKind.COLLECTION_NOT_FOUND,
            800,
            "database not found[database=no_such_db]",
        )
    counters = server.counters()
    assert counters.pop("Connect") == 1  # the client for that database
    assert counters == {
        "DescribeCollection": 1,
        "GetCollectionStatistics": 1,
        "Flush": 1,
        "DescribeSnapshot": 1,
        "CreateSnapshot": 1,
        "RestoreSnapshot": 1,
    }


@pytest.mark.parametrize(
    ("token", "detail"),
    [
        ("not-the-key", "auth check failure, please check api key is correct"),
        ("root:wrong", "auth check failure, please check username and password are correct"),
        ("", "missing authorization in header"),
    ],
    ids=["wrong-api-key", "wrong-password", "no-token"],
)
async def test_refused_credentials_are_auth_errors(
    server: Server, books: MilvusClient, token: str, detail: str
) -> None:
    gw = PymilvusGateway(endpoint(server, token=token))
    try:
        err = await failure(gw.list_snapshots("books", "default"))
        assert err.kind == ErrorKind.AUTH
        assert err.message == f"UNAUTHENTICATED: {detail}"
        probe = await failure(gw.check_snapshot_support())  # MilvusConnection's probe reports it as such
        assert probe.kind == ErrorKind.AUTH
    finally:
        await gw.close()
    assert server.counters() == {"Connect": 2}  # refused at Connect, each call once, never retried


async def test_unavailable_window_is_retryable_and_the_gateway_recovers(
    server: Server, gateway: PymilvusGateway
) -> None:
    server.faults(unavailable_for=1.0)
    started = time.monotonic()
    err = await failure(gateway.list_snapshots("books", "default"))
    assert err.kind == ErrorKind.UNAVAILABLE
    assert err.kind in RETRIED
    assert "Fail connecting to server" in err.message  # pymilvus's reconnect was refused too
    assert time.monotonic() - started < 0.9  # fails fast, inside the outage
    assert server.counters() == {"ListSnapshots": 1, "Connect": 1}

    server.wait_available()
    assert EXISTING in await gateway.list_snapshots("books", "default")


async def test_unreachable_server_is_retryable(server: Server) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    gw = PymilvusGateway(Endpoint(uri=f"http://127.0.0.1:{port}", db_name="default", timeout=1.0))
    try:
        started = time.monotonic()
        err = await failure(gw.list_snapshots("books", "default"))
        assert err.kind == ErrorKind.UNAVAILABLE
        assert time.monotonic() - started < 5
    finally:
        await gw.close()


async def test_latency_beyond_the_timeout_is_a_retryable_timeout(server: Server, books: MilvusClient) -> None:
    gw = PymilvusGateway(endpoint(server, timeout=0.5))
    try:
        await gw.server_version()
        server.reset_counters()
        server.faults(latency={"ListSnapshots": 1.5})
        started = time.monotonic()
        err = await failure(gw.list_snapshots("books", "default"))
        assert time.monotonic() - started < 1.4
        assert err.kind == ErrorKind.UNAVAILABLE
        assert "Retry timeout: 0.5s" in err.message
        assert server.counters() == {"ListSnapshots": 1}

        # A create whose reply is lost still happens server-side; the retry then sees "already exists".
        name = unique("lost_reply")
        server.faults(latency={"CreateSnapshot": 1.0})
        err = await failure(gw.create_snapshot(name, "books", "default", "", 0))
        assert err.kind == ErrorKind.UNAVAILABLE
        server.faults(latency={})
        deadline = time.monotonic() + 5
        while await gw.describe_snapshot(name, "books", "default") is None:
            assert time.monotonic() < deadline, "the delayed create never landed"
            await asyncio.sleep(0.05)
        again = await failure(gw.create_snapshot(name, "books", "default", "", 0))
        assert again.kind == ErrorKind.ALREADY_EXISTS
    finally:
        await gw.close()


@pytest.fixture
def plain_milvus_lite(tmp_path: Path) -> Iterator[str]:
    """milvus-lite 3.2.2's own server (a Milvus without the snapshot RPCs) as a separate process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path / "lite.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(tmp_path / "lite"), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "lite.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "milvus-lite did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


async def test_server_without_snapshot_rpcs_is_unsupported(plain_milvus_lite: str) -> None:
    gw = PymilvusGateway(Endpoint(uri=plain_milvus_lite, db_name="default", timeout=TIMEOUT))
    try:
        assert "3.2.2" in await gw.server_version()
        err = await failure(gw.check_snapshot_support())
        assert err.kind == ErrorKind.UNSUPPORTED
        assert err.message.startswith("UNIMPLEMENTED")
    finally:
        await gw.close()


# ── logging ─────────────────────────────────────────────────────


async def test_expected_errors_leave_no_pymilvus_tracebacks(
    server: Server,
    gateway: PymilvusGateway,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG, logger="pymilvus")
    capfd.readouterr()
    kinds = []
    for call in (
        gateway.create_snapshot("bad-name", "books", "default", "", 0),
        gateway.create_snapshot(EXISTING, "books", "default", "", 0),
        gateway.list_snapshots("no_such_books", "default"),
        gateway.restore_snapshot(EXISTING, "books", "default", "books", "default"),
    ):
        kinds.append((await failure(call)).kind)
    assert await gateway.describe_snapshot("no_such_snapshot", "books", "default") is None
    assert await gateway.restore_state(777) is None
    bad = PymilvusGateway(endpoint(server, token="not-the-key"))
    try:
        kinds.append((await failure(bad.list_snapshots("books", "default"))).kind)
    finally:
        await bad.close()
    server.faults(unavailable_for=0.5)  # pymilvus's failed channel recovery logs with exc_info
    kinds.append((await failure(gateway.list_snapshots("books", "default"))).kind)
    server.wait_available()
    server.faults(latency={"ListSnapshots": 1.0})
    slow = PymilvusGateway(endpoint(server, timeout=0.3))
    try:
        kinds.append((await failure(slow.list_snapshots("books", "default"))).kind)
    finally:
        await slow.close()
    assert kinds == [
        ErrorKind.INVALID,
        ErrorKind.ALREADY_EXISTS,
        ErrorKind.COLLECTION_NOT_FOUND,
        ErrorKind.TARGET_EXISTS,
        ErrorKind.AUTH,
        ErrorKind.UNAVAILABLE,
        ErrorKind.UNAVAILABLE,
    ]

    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert "RPC error" not in out + err
    pymilvus_records = [r for r in caplog.records if r.name.startswith("pymilvus")]
    assert [r for r in pymilvus_records if r.levelno >= logging.ERROR] == []
    assert all("Traceback" not in r.getMessage() and r.exc_info is None for r in pymilvus_records)
    # pymilvus did log each failed RPC; the operator's filter kept one line of it, at DEBUG.
    rpc_errors = [r for r in pymilvus_records if "RPC error" in r.getMessage()]
    assert len(rpc_errors) >= 7
    assert {r.levelno for r in rpc_errors} == {logging.DEBUG}


async def test_without_debug_logging_pymilvus_formats_no_tracebacks(
    gateway: PymilvusGateway, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pymilvus.decorators

    formatted: list[int] = []
    real_format_exc = pymilvus.decorators.traceback.format_exc
    monkeypatch.setattr(
        pymilvus.decorators.traceback, "format_exc", lambda *a, **k: formatted.append(1) or real_format_exc(*a, **k)
    )
    caplog.set_level(logging.INFO)
    quiet_pymilvus(debug=False)
    try:
        assert await gateway.describe_snapshot("no_such_snapshot", "books", "default") is None
        assert (await failure(gateway.create_snapshot(EXISTING, "books", "default", "", 0))).kind == (
            ErrorKind.ALREADY_EXISTS
        )
        assert formatted == []
        assert [r for r in caplog.records if r.name.startswith("pymilvus")] == []
    finally:
        quiet_pymilvus(debug=True)
    assert await gateway.describe_snapshot("no_such_snapshot", "books", "default") is None
    assert formatted  # with debug logging the failed RPC is formatted again: the probe above can fail


# ── restore-job polling and the gateway pool ────────────────────


async def test_restore_job_lookups_are_coalesced_per_interval(
    server: Server, gateway: PymilvusGateway, books: MilvusClient
) -> None:
    jobs = []
    for _ in range(2):
        source, name = unique("poll_src"), unique("poll_snap")
        create_empty(books, source)  # empty snapshots: their restores complete on the first tick
        await gateway.create_snapshot(name, source, "default", "", 0)
        jobs.append(await gateway.restore_snapshot(name, source, "default", unique("poll_target"), "default"))
    for job_id in jobs:
        await wait_terminal(gateway, job_id)
    cache = RestoreJobCache(interval_seconds=1.0)
    server.faults(latency={"ListRestoreSnapshotJobs": 0.3})  # callers really overlap the one RPC
    server.reset_counters()

    async def poll_round(n: int = 20) -> list[RestoreJob | None]:
        return await asyncio.gather(*(cache.lookup("conn", gateway, "default", jobs[i % 2]) for i in range(n)))

    first = await poll_round()
    assert [job.job_id if job else None for job in first] == [jobs[i % 2] for i in range(20)]
    assert all(job is not None and job.state == "RestoreSnapshotCompleted" for job in first)
    assert server.counters() == {"ListRestoreSnapshotJobs": 1}
    await poll_round()  # same interval: served from the one answer
    assert server.counters() == {"ListRestoreSnapshotJobs": 1}

    assert await cache.lookup("conn", gateway, "default", 31337) is None  # not listed: asked directly
    assert server.counters() == {"ListRestoreSnapshotJobs": 1, "GetRestoreSnapshotState": 1}

    await asyncio.sleep(1.0)
    await poll_round()
    assert server.counters() == {"ListRestoreSnapshotJobs": 2, "GetRestoreSnapshotState": 1}
    await cache.lookup("other-conn", gateway, "default", jobs[0])  # another connection: its own list
    cache.forget("conn")
    await cache.lookup("conn", gateway, "default", jobs[0])  # forgotten: listed again
    assert server.counters() == {"ListRestoreSnapshotJobs": 4, "GetRestoreSnapshotState": 1}
    assert cache.calls == collections.Counter({"ListRestoreSnapshotJobs": 4, "GetRestoreSnapshotState": 1})


async def test_pool_reuses_a_gateway_until_its_endpoint_changes(server: Server, books: MilvusClient) -> None:
    pool = GatewayPool()
    try:
        first = await pool.get("ns/conn", endpoint(server))
        assert await pool.get("ns/conn", endpoint(server)) is first
        assert EXISTING in await first.list_snapshots("books", "default")

        rotated = await pool.get("ns/conn", endpoint(server, token="root:rotated-away"))
        assert rotated is not first
        err = await failure(first.list_snapshots("books", "default"))  # the old channel was closed
        assert err.kind == ErrorKind.UNAVAILABLE
        assert (await failure(rotated.list_snapshots("books", "default"))).kind == ErrorKind.AUTH

        other = await pool.get("ns/other", endpoint(server))
        assert other is not rotated
        assert EXISTING in await other.list_snapshots("books", "default")
    finally:
        await pool.close_all()
    assert (await failure(other.list_snapshots("books", "default"))).kind == ErrorKind.UNAVAILABLE


async def test_probe_of_a_connection_to_an_unknown_database_says_so(server: Server) -> None:
    gw = PymilvusGateway(endpoint(server, db="no_such_db"))
    try:
        err = await failure(gw.check_snapshot_support())
    finally:
        await gw.close()
    assert (err.kind, err.code) == (ErrorKind.DATABASE_NOT_FOUND, 800)
    assert err.message == "database not found[database=no_such_db]"
