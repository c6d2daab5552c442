"""milvusd over TLS (Milvus `tlsMode: 1`) and the exact failures pymilvus 3.0.2 raises when TLS is wrong.

The failure shapes are what the operator classifies into reasons (TLSHandshakeFailed and the like), so
each is pinned here: exception type, code, message and the gRPC error under it (status code and the
distinguishing part of its details). A pymilvus or grpcio upgrade that changes any of them fails here.
None of the failures reaches the server (the handshake fails first), and none is retried until the call's
timeout: the channel never becomes ready, so pymilvus raises its connect failure at once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import grpc
import pytest
from pymilvus import AsyncMilvusClient, MilvusClient
from pymilvus.exceptions import MilvusException

from testbed.certs import ServingTls, ensure_serving_tls
from testbed.processes import MilvusServer

from .conftest import SERVER_ARGS, USER_TOKEN, Server, create_empty, rpc_error, unique

pytestmark = pytest.mark.integration

TIMEOUT = 5
CONNECT_FAILED = 2  # pymilvus Status.CONNECT_FAILED
UNEXPECTED_ERROR = 1  # compatible_code of pymilvus's own connect failure


@pytest.fixture
def tls(tls_server: MilvusServer) -> MilvusServer:
    tls_server._admin("POST", "/counters/reset", {})
    return tls_server


def connect(uri: str, **kwargs: Any) -> MilvusClient:
    """A dedicated client: a shared one would reuse another client's channel (see the last test)."""
    return MilvusClient(uri=uri, token=USER_TOKEN, timeout=TIMEOUT, dedicated=True, **kwargs)


async def aconnect(uri: str, **kwargs: Any) -> list[str]:
    """An async client's first call (it connects lazily); returns the collections it lists."""
    client = AsyncMilvusClient(uri=uri, token=USER_TOKEN, timeout=TIMEOUT, dedicated=True, **kwargs)
    try:
        return list(await client.list_collections(timeout=TIMEOUT))
    finally:
        await client.close()


def assert_connect_failure(err: MilvusException, port: int, detail: str) -> None:
    assert type(err) is MilvusException
    assert (err.code, err.compatible_code) == (CONNECT_FAILED, UNEXPECTED_ERROR)
    assert err.message == (
        f"Fail connecting to server on 127.0.0.1:{port}, illegal connection params or server unavailable"
    )
    cause = rpc_error(err)
    assert cause.code() == grpc.StatusCode.UNAVAILABLE
    assert re.search(detail, cause.details() or ""), cause.details()


# (client options, distinguishing regex in the gRPC details) per failure; the port is filled in per test.
WRONG_CA = r"Tls handshake failed \(TSI_PROTOCOL_FAILURE\): .*CERTIFICATE_VERIFY_FAILED: unable to get local issuer"
TLS_TO_PLAINTEXT = r"Tls handshake failed \(TSI_PROTOCOL_FAILURE\): .*WRONG_VERSION_NUMBER"
PLAINTEXT_TO_TLS = (
    r"^failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127\.0\.0\.1:\d+: Socket closed$"
)
WRONG_SERVER_NAME = r"Custom verification check failed with error: UNAUTHENTICATED: Hostname Verification Check failed"


def cases(tls: MilvusServer, plain: Server, pki: ServingTls) -> dict[str, tuple[str, int, dict[str, Any], str]]:
    """name -> (uri, port, client options, detail regex)."""
    trusted = {"secure": True, "server_pem_path": str(pki.ca_crt)}
    return {
        "wrong-ca": (tls.uri, tls.port, {"secure": True, "server_pem_path": str(pki.other_ca_crt)}, WRONG_CA),
        "system-roots": (tls.uri, tls.port, {"secure": True}, WRONG_CA),
        "tls-to-plaintext": (f"https://127.0.0.1:{plain.proc.port}", plain.proc.port, trusted, TLS_TO_PLAINTEXT),
        "plaintext-to-tls": (f"http://127.0.0.1:{tls.port}", tls.port, {}, PLAINTEXT_TO_TLS),
        "wrong-server-name": (tls.uri, tls.port, {**trusted, "server_name": "milvus.example.com"}, WRONG_SERVER_NAME),
    }


CASES = ["wrong-ca", "system-roots", "tls-to-plaintext", "plaintext-to-tls", "wrong-server-name"]


# ── verified TLS works ──────────────────────────────────────────


@pytest.mark.parametrize("server_name", [None, "localhost"], ids=["by-ip", "server-name-localhost"])
def test_verified_tls_serves_collections_and_snapshots(
    tls: MilvusServer, pki: ServingTls, server_name: str | None
) -> None:
    assert tls.uri == f"https://127.0.0.1:{tls.port}"
    assert tls.ca == pki.ca_crt
    extra = {"server_name": server_name} if server_name else {}
    client = connect(tls.uri, secure=True, server_pem_path=str(tls.ca), **extra)
    try:
        name, snap = unique("secure_books"), unique("secure_snap")
        create_empty(client, name)
        assert name in client.list_collections(timeout=TIMEOUT)
        client.create_snapshot(snap, name, timeout=TIMEOUT)
        assert client.list_snapshots(name, timeout=TIMEOUT) == [snap]
        assert client.describe_snapshot(snap, name, timeout=TIMEOUT).collection_name == name
    finally:
        client.close()
    assert tls._admin("GET", "/counters")["CreateSnapshot"] == 1


async def test_verified_tls_async_client(tls: MilvusServer, pki: ServingTls) -> None:
    name = unique("secure_async")
    create = connect(tls.uri, secure=True, server_pem_path=str(pki.ca_crt))
    try:
        create_empty(create, name)
    finally:
        create.close()
    assert name in await aconnect(tls.uri, secure=True, server_pem_path=str(pki.ca_crt))


def test_an_https_uri_alone_turns_tls_on(tls: MilvusServer, pki: ServingTls) -> None:
    """pymilvus sets secure=True for https:// by itself; only the CA must be given."""
    client = connect(tls.uri, server_pem_path=str(pki.ca_crt))
    try:
        client.list_collections(timeout=TIMEOUT)
    finally:
        client.close()


# ── each failure, sync and async ────────────────────────────────


@pytest.mark.parametrize("case", CASES)
def test_tls_failures_sync(tls: MilvusServer, server: Server, pki: ServingTls, case: str) -> None:
    uri, port, options, detail = cases(tls, server, pki)[case]
    with pytest.raises(MilvusException) as info:
        connect(uri, **options)  # MilvusClient connects in its constructor
    assert_connect_failure(info.value, port, detail)
    assert isinstance(info.value.__cause__, grpc.RpcError)  # sync: raised `from` the gRPC error
    assert tls._admin("GET", "/counters") == {}  # nothing reached the TLS server
    assert server.counters() == {}  # nor the plaintext one


@pytest.mark.parametrize("case", CASES)
async def test_tls_failures_async(tls: MilvusServer, server: Server, pki: ServingTls, case: str) -> None:
    uri, port, options, detail = cases(tls, server, pki)[case]
    with pytest.raises(MilvusException) as info:
        await aconnect(uri, **options)
    assert_connect_failure(info.value, port, detail)
    assert isinstance(info.value.__cause__, grpc.aio.AioRpcError)
    assert tls._admin("GET", "/counters") == {}
    assert server.counters() == {}


def test_a_connected_client_fails_fast_when_the_certificate_changes(tmp_path: Path, pki: ServingTls) -> None:
    """A client that connected fine, then the server comes back with a cert from another CA (a rotation
    the client does not trust): the next call fails at once with the same connect failure; pymilvus's
    retry loop tries one reconnect, which fails the handshake, and raises instead of retrying."""
    other = ensure_serving_tls(tmp_path / "other-pki")
    proc = MilvusServer(tmp_path / "data", *SERVER_ARGS, tls=pki).start()
    client = connect(proc.uri, secure=True, server_pem_path=str(pki.ca_crt))
    try:
        client.list_collections(timeout=TIMEOUT)
        proc.stop()
        proc.tls = other
        proc.start()  # same port
        with pytest.raises(MilvusException) as info:
            client.list_collections(timeout=TIMEOUT)
        assert_connect_failure(info.value, proc.port, WRONG_CA)
        assert proc.counters() == {}
    finally:
        client.close()
        proc.stop()


def test_shared_clients_reuse_a_channel_whatever_their_tls_options(tls: MilvusServer, pki: ServingTls) -> None:
    """pymilvus keys shared channels by address|token only: a second, non-dedicated client with a wrong CA
    silently reuses the first client's verified channel. Clients that must apply their own TLS settings
    (one per MilvusConnection) need dedicated=True."""
    first = MilvusClient(uri=tls.uri, token=USER_TOKEN, timeout=TIMEOUT, server_pem_path=str(pki.ca_crt))
    second = MilvusClient(uri=tls.uri, token=USER_TOKEN, timeout=TIMEOUT, server_pem_path=str(pki.other_ca_crt))
    try:
        second.list_collections(timeout=TIMEOUT)  # no failure: the wrong CA was never used
    finally:
        second.close()
        first.close()
