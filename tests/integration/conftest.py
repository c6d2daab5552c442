"""Integration fixtures: a real milvusd process per test module, talked to over loopback gRPC.

One server per module keeps the run quick (start ~1 s, seeding ~1 s on two shared cores); every test
gets it with fault knobs reset to the module's baseline and counters zeroed, so fault-injection tests
cannot leak into the next test. Collections and snapshots persist within a module: tests use unique
names (see `unique`) instead of relying on a clean server.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from pymilvus import DataType, MilvusClient
from pymilvus.exceptions import MilvusException
from pymilvus.grpc_gen import milvus_pb2_grpc

from testbed import seed
from testbed.certs import ServingTls, ensure_serving_tls
from testbed.processes import MilvusServer

USER_TOKEN = "root:Milvus"  # a user:password credential
API_KEY = "it-api-key-0123456789"  # an API-key credential
# Short restore timings: Milvus ticks every 2 s and copies for seconds; these keep each restore < 1 s.
RESTORE_TICK = 0.1
RESTORE_DURATION = 0.8
SERVER_ARGS = (
    "--user",
    USER_TOKEN,
    "--token",
    API_KEY,
    "--restore-tick",
    str(RESTORE_TICK),
    "--restore-duration",
    str(RESTORE_DURATION),
)

_names = itertools.count(1)


def unique(prefix: str) -> str:
    """A Milvus-valid name not used before in this test session."""
    return f"{prefix}_{next(_names)}"


class Server:
    """The module's milvusd plus helpers: admin calls, counter deltas, raw gRPC stub."""

    def __init__(self, proc: MilvusServer) -> None:
        self.proc = proc
        self.baseline: dict[str, Any] = {}

    @property
    def uri(self) -> str:
        return self.proc.uri

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.proc.port}"

    def faults(self, **faults: Any) -> dict[str, Any]:
        return dict(self.proc.faults(**faults))

    def get_faults(self) -> dict[str, Any]:
        return dict(self.proc._admin("GET", "/faults"))

    def counters(self) -> dict[str, int]:
        return self.proc.counters()

    def reset_counters(self) -> None:
        self.proc._admin("POST", "/counters/reset", {})

    def admin_post(self, path: str, body: Any) -> tuple[int, Any]:
        """POST raw JSON to the admin endpoint; returns (HTTP status, decoded body) even on 4xx."""
        data = json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.proc.admin_port}{path}", data=data, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def wait_available(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.get_faults()["unavailable_for"] > 0:
            assert time.monotonic() < deadline, "injected outage did not end"
            time.sleep(0.05)

    def stub(self) -> tuple[grpc.Channel, Any]:
        channel = grpc.insecure_channel(self.address)
        return channel, milvus_pb2_grpc.MilvusServiceStub(channel)


def auth_metadata(token: str, db: str = "default") -> list[tuple[str, str]]:
    """The headers pymilvus sends: base64 token and the client's database."""
    return [("authorization", base64.b64encode(token.encode()).decode()), ("dbname", db)]


@pytest.fixture(scope="module")
def milvus_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    proc = MilvusServer(tmp_path_factory.mktemp("milvusd") / "data", *SERVER_ARGS).start()
    server = Server(proc)
    server.baseline = server.get_faults()
    try:
        yield server
    finally:
        proc.stop()


@pytest.fixture
def server(milvus_process: Server) -> Iterator[Server]:
    """The module's server with baseline faults and zeroed counters; faults are restored afterwards."""
    milvus_process.faults(**milvus_process.baseline)
    milvus_process.reset_counters()
    yield milvus_process
    milvus_process.faults(**milvus_process.baseline)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[MilvusServer]:
    """A milvusd of the test's own, for tests that restart or kill it."""
    proc = MilvusServer(tmp_path / "data", *SERVER_ARGS).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> ServingTls:
    return ensure_serving_tls(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, pki: ServingTls) -> Iterator[MilvusServer]:
    """The module's milvusd serving TLS (Milvus `tlsMode: 1`) with a certificate from `pki`."""
    proc = MilvusServer(tmp_path_factory.mktemp("milvusd-tls") / "data", *SERVER_ARGS, tls=pki).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def mc(milvus_process: Server) -> Iterator[MilvusClient]:
    """A plain pymilvus 3.0.2 MilvusClient with the `books` collection (300 vectors) seeded."""
    client = seed.client(milvus_process.uri, USER_TOKEN)
    seed.create_books(client)
    yield client
    client.close()


def milvus_error(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> MilvusException:
    """The MilvusException `fn(*args, **kwargs)` raises (the test fails if it raises none)."""
    with pytest.raises(MilvusException) as info:
        fn(*args, **kwargs)
    return info.value


def rpc_error(err: BaseException) -> grpc.RpcError:
    """The gRPC error under a MilvusException: `raise e from e` makes __cause__ a loop, so follow __context__."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, grpc.RpcError):
            return current
        seen.add(id(current))
        nxt = current.__cause__
        current = nxt if nxt is not None and id(nxt) not in seen else current.__context__
    raise AssertionError(f"no gRPC error under {err!r}")


def create_shelves(client: MilvusClient, name: str, partitions: int, rows_each: int) -> int:
    """A books-shaped collection with `partitions` user partitions, each flushed as its own segment.

    milvus-lite merges repeated flushes of one partition into a single segment, so per-partition data
    is the way to get a multi-segment snapshot (and a restore whose progress moves in steps).
    Returns the number of flushed rows.
    """
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=seed.DIM)
    schema.add_field("title", DataType.VARCHAR, max_length=64)
    index = client.prepare_index_params()
    index.add_index(field_name="vector", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index)
    for p in range(partitions):
        part = f"shelf{p}"
        client.create_partition(name, part)
        rows = [
            {"id": p * 1000 + i, "vector": [((p * 31 + i * 7) % 97) / 97.0] * seed.DIM, "title": f"{part} {i}"}
            for i in range(rows_each)
        ]
        client.insert(name, rows, partition_name=part)
    client.flush(name)
    return partitions * rows_each


def create_empty(client: MilvusClient, name: str) -> None:
    """An empty collection: its snapshot has no segments, so a restore completes on the first tick."""
    client.create_collection(name, dimension=seed.DIM)


def wait_job(
    get: Callable[[], Any], *, terminal: tuple[str, ...] = ("Completed", "Failed"), timeout: float = 20
) -> Any:
    """Poll `get()` (a restore-job info) until its state ends with one of `terminal`."""
    deadline = time.monotonic() + timeout
    while True:
        info = get()
        if str(info.state).endswith(terminal):
            return info
        assert time.monotonic() < deadline, f"restore job still {info.state} after {timeout}s"
        time.sleep(0.05)
