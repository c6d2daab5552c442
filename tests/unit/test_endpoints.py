"""Where a MilvusConnection may point: URIs pymilvus accepts (InvalidURI naming the field otherwise), TLS never
downgraded, and the cluster admin's allowed endpoints enforced before any connection."""

from __future__ import annotations

import pytest
from pymilvus.client.connection_manager import ConnectionConfig

from milvus_snapshot_operator.reconcile.endpoints import AllowedEndpoints, EndpointError, from_milvus_status, parse_uri


@pytest.mark.parametrize(
    ("uri", "tls", "address", "secure"),
    [
        ("http://milvus.milvus.svc:19530", False, "milvus.milvus.svc:19530", False),
        ("https://milvus.example.com", False, "milvus.example.com:443", True),
        ("tcp://10.0.0.5:19530", True, "10.0.0.5:19530", True),  # tls asked for: TLS whatever the scheme
        ("http://[::1]:19530/", False, "[::1]:19530", False),
    ],
)
def test_accepted(uri: str, tls: bool, address: str, secure: bool) -> None:
    endpoint = parse_uri(uri, "spec.uri", tls=tls)
    assert (endpoint.address, endpoint.secure) == (address, secure)
    ConnectionConfig.from_uri(uri)  # and pymilvus agrees


@pytest.mark.parametrize(
    ("uri", "reason", "words"),
    [
        ("grpc://milvus:19530", "InvalidURI", "must start with http://, https:// or tcp://"),
        ("http://milvus:99999", "InvalidURI", "not a valid URI"),
        ("http://milvus:1:x", "InvalidURI", "not a valid URI"),
        ("http://milvus:0", "InvalidURI", "between 1 and 65535"),
        ("http://root:Milvus@milvus:19530", "InvalidURI", "credentials never go in the URI"),
        ("http://milvus:19530/db", "InvalidURI", "nothing after it"),
        ("http://milvus:19530", "InvalidTLSConfig", "TLS is never downgraded"),
    ],
)
def test_rejected_naming_the_field(uri: str, reason: str, words: str) -> None:
    with pytest.raises(EndpointError) as caught:
        parse_uri(uri, "spec.uri", tls=reason == "InvalidTLSConfig")
    assert caught.value.reason == reason and caught.value.message.startswith("spec.uri: ")
    assert words in caught.value.message


def test_pymilvus_refuses_what_we_refuse() -> None:
    """The cases above that are pymilvus's own rules, checked against the pinned pymilvus."""
    for uri in ("grpc://milvus:19530", "http://milvus:99999", "http://milvus:1:x"):
        with pytest.raises(Exception):  # noqa: B017,PT011 - ConnectionConfigException or ValueError
            ConnectionConfig.from_uri(uri).address  # noqa: B018


def test_milvus_operator_endpoints_get_tls_exactly_when_asked() -> None:
    assert from_milvus_status("milvus.ns.svc:19530", tls=False).uri == "http://milvus.ns.svc:19530"
    secure = from_milvus_status("milvus.ns.svc:19530", tls=True)
    assert secure.uri == "https://milvus.ns.svc:19530" and secure.secure
    assert from_milvus_status("http://milvus.ns.svc:19530", tls=True).secure  # never plaintext when asked


def test_allowed_endpoints() -> None:
    allowed = AllowedEndpoints.parse(["*.milvus.svc.cluster.local", "milvus.prod:19530", "10.20.0.0/16", ""])
    for uri in ("http://a.milvus.svc.cluster.local:19530", "http://milvus.prod:19530", "http://10.20.3.4:19530"):
        allowed.check(parse_uri(uri, "spec.uri", tls=False))
    for uri in ("http://milvus.prod:19531", "http://evil.example.com:19530", "http://10.21.0.1:19530"):
        with pytest.raises(EndpointError) as caught:
            allowed.check(parse_uri(uri, "spec.uri", tls=False))
        assert caught.value.reason == "EndpointNotAllowed" and "MSO_ALLOWED_ENDPOINTS" in caught.value.message
    # a host name is allowed by a name pattern, never by where DNS resolves it today
    with pytest.raises(EndpointError):
        AllowedEndpoints.parse(["127.0.0.0/8"]).check(parse_uri("http://localhost:19530", "spec.uri", tls=False))
    AllowedEndpoints.parse([]).check(parse_uri("http://anything:1", "spec.uri", tls=False))  # empty = all


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "milvus:99999", "milvus:x"])
def test_a_bad_allowed_endpoint_is_refused_at_startup(entry: str) -> None:
    with pytest.raises(ValueError, match=entry.split(":")[0].split("/")[0]):
        AllowedEndpoints.parse([entry])
