"""Turn a connectionRef into a ready-to-use gateway, or say exactly which reference is missing."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from collections.abc import Mapping
from typing import Any

from ..api.connection import MilvusConnectionSpec
from ..milvus.pymilvus_gateway import Endpoint, PymilvusGateway
from ..reconcile.snapshot import Blocked
from .bus import key
from .runtime import Runtime


@dataclasses.dataclass(frozen=True)
class Resolved:
    gateway: PymilvusGateway
    pool_key: str
    db_name: str
    uri: str
    spec: MilvusConnectionSpec

    def wake_keys(self, namespace: str) -> list[str]:
        """Objects whose change may fix a failing call: the connection and its Secrets."""
        keys = [self.pool_key]
        for ref in (self.spec.credentials_secret_ref, self.spec.tls.ca_secret_ref if self.spec.tls else None):
            if ref is not None:
                keys.append(key("Secret", namespace, ref.name))
        return keys


def connection_key(namespace: str, name: str) -> str:
    return key("MilvusConnection", namespace, name)


async def resolve_connection(
    rt: Runtime, namespace: str, name: str, connections: Mapping[Any, Any]
) -> Resolved | Blocked:
    """Look the MilvusConnection up in the in-memory index, then read its Secret(s) and build a client."""
    found = list(connections.get((namespace, name), ()))
    if not found:
        return Blocked(
            "ConnectionNotFound",
            f"MilvusConnection {name!r} not found in namespace {namespace!r}",
            connection_key(namespace, name),
        )
    spec = MilvusConnectionSpec.model_validate(found[0])
    return await resolve_spec(rt, namespace, name, spec)


async def resolve_spec(rt: Runtime, namespace: str, name: str, spec: MilvusConnectionSpec) -> Resolved | Blocked:
    uri = spec.uri
    if uri is None:
        assert spec.milvus_ref is not None
        ref = spec.milvus_ref.name
        exists, address = await rt.kube.milvus_endpoint(namespace, ref)
        if not exists:
            return Blocked(
                "MilvusNotFound", f"Milvus {ref!r} not found in namespace {namespace!r}", key("Milvus", namespace, ref)
            )
        if not address:
            return Blocked(
                "MilvusEndpointNotReady", f"Milvus {ref!r} has no status.endpoint yet", key("Milvus", namespace, ref)
            )
        uri = address if "://" in address else f"http://{address}"
    token = ""
    if spec.credentials_secret_ref is not None:
        secret_name = spec.credentials_secret_ref.name
        data = await rt.kube.secret_data(namespace, secret_name)
        if data is None:
            return Blocked(
                "SecretNotFound",
                f"Secret {secret_name!r} (credentialsSecretRef) not found in namespace {namespace!r}",
                key("Secret", namespace, secret_name),
            )
        if "token" in data:
            token = data["token"].decode().strip()
        elif "username" in data and "password" in data:
            token = f"{data['username'].decode().strip()}:{data['password'].decode().strip()}"
        else:
            return Blocked(
                "SecretInvalid",
                f"Secret {secret_name!r} needs key 'token', or keys 'username' and 'password'",
                key("Secret", namespace, secret_name),
            )
    ca_path = None
    if spec.tls is not None and spec.tls.ca_secret_ref is not None:
        ref_ = spec.tls.ca_secret_ref
        data = await rt.kube.secret_data(namespace, ref_.name)
        if data is None or ref_.key not in data:
            return Blocked(
                "SecretNotFound",
                f"Secret {ref_.name!r} with key {ref_.key!r} (tls.caSecretRef) not found in namespace {namespace!r}",
                key("Secret", namespace, ref_.name),
            )
        ca_path = _pem_file(data[ref_.key])
    endpoint = Endpoint(
        uri=uri,
        db_name=spec.db_name,
        timeout=float(spec.timeout_seconds),
        token=token,
        ca_pem_path=ca_path,
        server_name=spec.tls.server_name if spec.tls else None,
    )
    pool_key = connection_key(namespace, name)
    gateway = await rt.pool.get(pool_key, endpoint)
    return Resolved(gateway=gateway, pool_key=pool_key, db_name=spec.db_name, uri=uri, spec=spec)


def _pem_file(pem: bytes) -> str:
    """pymilvus reads CA bundles from files; keep one file per distinct bundle."""
    digest = hashlib.sha256(pem).hexdigest()[:16]
    path = os.path.join(tempfile.gettempdir(), f"milvus-snapshot-operator-ca-{digest}.pem")
    if not os.path.exists(path):
        with open(path, "wb") as handle:
            handle.write(pem)
    return path
