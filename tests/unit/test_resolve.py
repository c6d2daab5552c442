"""Resolving a MilvusConnection (handlers/resolve.py): what is missing or wrong is named, in the order of trust
(URI, allowed endpoint, then Secrets), and nothing is connected before all of it holds."""

from __future__ import annotations

import types

from milvus_snapshot_operator.api.connection import MilvusConnectionSpec
from milvus_snapshot_operator.handlers.resolve import resolve_connection, resolve_spec
from milvus_snapshot_operator.milvus.pool import GatewayPool
from milvus_snapshot_operator.reconcile.endpoints import AllowedEndpoints
from milvus_snapshot_operator.reconcile.entries import ConnectionEntry
from milvus_snapshot_operator.reconcile.refs import Blocked, Connected, Invalid, Missing


class Secrets:
    def __init__(self, data: dict[str, dict[str, bytes]], milvus: dict[str, str] | None = None) -> None:
        self.data, self.reads = data, 0
        self.milvus = milvus or {}  # milvus-operator Milvus resources: name -> status.endpoint ("" = not yet)

    async def milvus_endpoint(self, namespace: str, name: str) -> tuple[bool, str | None]:
        return name in self.milvus, self.milvus.get(name) or None

    async def secret_data(self, namespace: str, name: str) -> dict[str, bytes] | None:
        self.reads += 1
        return self.data.get(name)


def runtime(secrets: dict[str, dict[str, bytes]], allowed: list[str] | None = None) -> types.SimpleNamespace:
    return types.SimpleNamespace(
        kube=Secrets(secrets), allowed=AllowedEndpoints.parse(allowed or []), pool=GatewayPool()
    )


def spec(**fields: object) -> MilvusConnectionSpec:
    return MilvusConnectionSpec.model_validate({"uri": "http://milvus.ns:19530", **fields})


async def test_a_usable_connection() -> None:
    rt = runtime({"creds": {"token": b"root:Milvus\\n"}})
    found = await resolve_spec(rt, "ns", "m", spec(credentialsSecretRef={"name": "creds"}))  # type: ignore[arg-type]
    assert (
        isinstance(found, Connected) and found.endpoint == "milvus.ns:19530" and found.uri == "http://milvus.ns:19530"
    )
    await rt.pool.close_all()


async def test_secrets_missing_or_incomplete_are_named() -> None:
    rt = runtime({"creds": {"user": b"root"}})
    missing = await resolve_spec(rt, "ns", "m", spec(credentialsSecretRef={"name": "other"}))  # type: ignore[arg-type]
    assert isinstance(missing, Blocked) and (missing.missing, missing.reason) == (Missing.SECRET, "SecretNotFound")
    incomplete = await resolve_spec(rt, "ns", "m", spec(credentialsSecretRef={"name": "creds"}))  # type: ignore[arg-type]
    assert isinstance(incomplete, Blocked) and incomplete.reason == "SecretInvalid"
    assert "'token', or keys 'username' and 'password'" in incomplete.message


async def test_a_disallowed_endpoint_is_refused_before_any_secret_is_read() -> None:
    rt = runtime({"creds": {"token": b"t"}}, allowed=["*.prod.svc"])
    refused = await resolve_spec(rt, "ns", "m", spec(credentialsSecretRef={"name": "creds"}))  # type: ignore[arg-type]
    assert isinstance(refused, Invalid) and refused.reason == "EndpointNotAllowed"
    assert rt.kube.reads == 0 and len(rt.pool) == 0


async def test_users_of_an_unusable_connection_wait_on_it() -> None:
    rt = runtime({}, allowed=["*.prod.svc"])
    entries = [ConnectionEntry(spec=spec())]
    blocked = await resolve_connection(rt, "ns", "m", entries)  # type: ignore[arg-type]
    assert isinstance(blocked, Blocked) and blocked.missing == Missing.CONNECTION
    assert blocked.reason == "EndpointNotAllowed" and blocked.message.startswith("MilvusConnection 'm' cannot be used")
    absent = await resolve_connection(rt, "ns", "m", [])  # type: ignore[arg-type]
    assert isinstance(absent, Blocked) and absent.reason == "ConnectionNotFound"


async def test_a_milvus_ref_waits_for_its_milvus_resource_and_its_endpoint() -> None:
    rt = runtime({})
    rt.kube.milvus = {"starting": ""}
    missing = await resolve_spec(rt, "ns", "m", MilvusConnectionSpec.model_validate({"milvusRef": {"name": "gone"}}))  # type: ignore[arg-type]
    assert isinstance(missing, Blocked) and (missing.missing, missing.reason) == (Missing.MILVUS, "MilvusNotFound")
    assert missing.message == "Milvus 'gone' not found in namespace 'ns'" and missing.wake.endswith("gone")
    starting = MilvusConnectionSpec.model_validate({"milvusRef": {"name": "starting"}})
    not_ready = await resolve_spec(rt, "ns", "m", starting)  # type: ignore[arg-type]
    assert isinstance(not_ready, Blocked) and not_ready.reason == "MilvusEndpointNotReady"
    rt.kube.milvus["starting"] = "milvus-starting.ns:19530"
    ready = await resolve_spec(rt, "ns", "m", starting)  # type: ignore[arg-type]
    assert isinstance(ready, Connected) and ready.endpoint == "milvus-starting.ns:19530"
    await rt.pool.close_all()
