"""The operator's gateway over TLS against milvusd serving TLS: verified TLS works whatever the URI's scheme
when TLS is asked for, and every way TLS can be wrong is a named kind (never a silent plaintext fallback,
never a generic "unavailable")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from milvus_snapshot_operator.milvus.gateway import ErrorKind, MilvusError
from milvus_snapshot_operator.milvus.pymilvus_gateway import Endpoint, PymilvusGateway
from testbed.certs import ServingTls
from testbed.processes import MilvusServer

from .conftest import SERVER_ARGS, USER_TOKEN

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusServer]:
    proc = MilvusServer(tmp_path_factory.mktemp("milvusd-plain") / "data", *SERVER_ARGS).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def gateways() -> AsyncIterator[list[PymilvusGateway]]:
    made: list[PymilvusGateway] = []
    yield made
    for gateway in made:
        await gateway.close()


def gateway(
    made: list[PymilvusGateway], uri: str, *, secure: bool, ca: Path | None, server_name: str | None = None
) -> PymilvusGateway:
    endpoint = Endpoint(
        uri=uri,
        db_name="default",
        timeout=5.0,
        token=USER_TOKEN,
        secure=secure,
        ca_pem=ca.read_bytes() if ca else None,
        server_name=server_name,
    )
    made.append(PymilvusGateway(endpoint))
    return made[-1]


@pytest.mark.parametrize("scheme", ["https", "tcp"])
async def test_verified_tls_works_whatever_the_scheme(
    tls_server: MilvusServer, pki: ServingTls, gateways: list[PymilvusGateway], scheme: str
) -> None:
    gw = gateway(gateways, f"{scheme}://127.0.0.1:{tls_server.port}", secure=True, ca=pki.ca_crt)
    assert await gw.server_version()
    await gw.check_snapshot_support()


async def test_a_wrong_ca_is_a_tls_failure(
    tls_server: MilvusServer, pki: ServingTls, gateways: list[PymilvusGateway]
) -> None:
    gw = gateway(gateways, f"https://127.0.0.1:{tls_server.port}", secure=True, ca=pki.other_ca_crt)
    with pytest.raises(MilvusError) as caught:
        await gw.server_version()
    assert caught.value.kind == ErrorKind.TLS and "CERTIFICATE_VERIFY_FAILED" in caught.value.message
    assert "tls.caSecretRef" in caught.value.message


async def test_a_wrong_server_name_is_a_tls_failure(
    tls_server: MilvusServer, pki: ServingTls, gateways: list[PymilvusGateway]
) -> None:
    gw = gateway(
        gateways, f"https://127.0.0.1:{tls_server.port}", secure=True, ca=pki.ca_crt, server_name="milvus.example.com"
    )
    with pytest.raises(MilvusError) as caught:
        await gw.server_version()
    assert caught.value.kind == ErrorKind.TLS and "Hostname Verification" in caught.value.message


async def test_tls_asked_for_against_a_plaintext_server_is_a_mismatch(
    plain_server: MilvusServer, pki: ServingTls, gateways: list[PymilvusGateway]
) -> None:
    gw = gateway(gateways, f"tcp://127.0.0.1:{plain_server.port}", secure=True, ca=pki.ca_crt)
    with pytest.raises(MilvusError) as caught:
        await gw.server_version()
    assert caught.value.kind == ErrorKind.TLS_MISMATCH and "answered in plaintext" in caught.value.message
    assert plain_server.counters() == {}, "nothing was sent in clear"


async def test_plaintext_against_a_tls_server_is_a_mismatch_not_unreachable(
    tls_server: MilvusServer, gateways: list[PymilvusGateway]
) -> None:
    gw = gateway(gateways, f"http://127.0.0.1:{tls_server.port}", secure=False, ca=None)
    with pytest.raises(MilvusError) as caught:
        await gw.server_version()
    assert caught.value.kind == ErrorKind.TLS_MISMATCH and "speaks only TLS" in caught.value.message


async def test_a_server_that_is_down_is_still_unavailable(
    plain_server: MilvusServer, gateways: list[PymilvusGateway]
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    gw = gateway(gateways, f"http://127.0.0.1:{free}", secure=False, ca=None)
    with pytest.raises(MilvusError) as caught:
        await gw.server_version()
    assert caught.value.kind == ErrorKind.UNAVAILABLE
