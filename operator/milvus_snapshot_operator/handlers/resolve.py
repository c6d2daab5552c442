"""Turn a MilvusConnection into a usable client, or say exactly what is missing or wrong.

The order is the order of trust: the URI must be one pymilvus accepts, the endpoint one the cluster admin
allows, and only then are the Secrets read and a client built. Nothing here opens a connection yet: the
first call does (and reports TLS or authentication problems as its own named errors).
"""

from __future__ import annotations

from ..api.connection import MilvusConnectionSpec
from ..milvus.gateway import MilvusError
from ..milvus.pymilvus_gateway import Endpoint
from ..reconcile.endpoints import EndpointError, from_milvus_status, parse_uri
from ..reconcile.entries import ConnectionEntry
from ..reconcile.refs import Blocked, Connected, Invalid, Missing
from .bus import key
from .runtime import Runtime

ConnectionIndex = dict[tuple[str, str], list[ConnectionEntry]]


def connection_key(namespace: str, name: str) -> str:
    return key("MilvusConnection", namespace, name)


def secret_refs(spec: MilvusConnectionSpec) -> list[str]:
    """Names of the Secrets a connection reads (credentials, CA)."""
    refs = [spec.credentials_secret_ref.name] if spec.credentials_secret_ref else []
    if spec.tls is not None and spec.tls.ca_secret_ref is not None:
        refs.append(spec.tls.ca_secret_ref.name)
    return refs


def wake_keys(namespace: str, name: str, spec: MilvusConnectionSpec) -> list[str]:
    """Objects whose change may fix a failing call: the connection and its Secrets."""
    return [connection_key(namespace, name), *(key("Secret", namespace, ref) for ref in secret_refs(spec))]


async def resolve_connection(
    rt: Runtime, namespace: str, name: str, entries: list[ConnectionEntry] | None
) -> Connected | Blocked:
    """For resources that use a connection: its own problems become theirs to wait on."""
    if not entries:
        return Blocked(
            Missing.CONNECTION,
            "ConnectionNotFound",
            f"MilvusConnection {name!r} not found in namespace {namespace!r}",
            connection_key(namespace, name),
        )
    resolved = await resolve_spec(rt, namespace, name, entries[0].spec)
    if isinstance(resolved, Invalid):
        message = f"MilvusConnection {name!r} cannot be used: {resolved.message}"
        return Blocked(Missing.CONNECTION, resolved.reason, message, connection_key(namespace, name))
    return resolved


async def resolve_spec(
    rt: Runtime, namespace: str, name: str, spec: MilvusConnectionSpec
) -> Connected | Blocked | Invalid:
    tls = spec.tls is not None
    try:
        if spec.uri is not None:
            endpoint = parse_uri(spec.uri, "spec.uri", tls=tls)
        else:
            assert spec.milvus_ref is not None, "CEL: exactly one of uri and milvusRef"
            ref = spec.milvus_ref.name
            exists, address = await rt.kube.milvus_endpoint(namespace, ref)
            if not exists or not address:
                reason = "MilvusEndpointNotReady" if exists else "MilvusNotFound"
                what = "has no status.endpoint yet" if exists else f"not found in namespace {namespace!r}"
                return Blocked(Missing.MILVUS, reason, f"Milvus {ref!r} {what}", key("Milvus", namespace, ref))
            endpoint = from_milvus_status(address, tls=tls)
        rt.allowed.check(endpoint)
    except EndpointError as exc:
        return Invalid(exc.reason, exc.message)
    token = ""
    if spec.credentials_secret_ref is not None:
        secret = spec.credentials_secret_ref.name
        data = await rt.kube.secret_data(namespace, secret)
        if data is None:
            return Blocked(
                Missing.SECRET,
                "SecretNotFound",
                f"Secret {secret!r} (credentialsSecretRef) not found in namespace {namespace!r}",
                key("Secret", namespace, secret),
            )
        if "token" in data:
            token = data["token"].decode().strip()
        elif "username" in data and "password" in data:
            token = f"{data['username'].decode().strip()}:{data['password'].decode().strip()}"
        else:
            return Blocked(
                Missing.SECRET,
                "SecretInvalid",
                f"Secret {secret!r} needs key 'token', or keys 'username' and 'password'",
                key("Secret", namespace, secret),
            )
    ca_pem = None
    if spec.tls is not None and spec.tls.ca_secret_ref is not None:
        ref_ = spec.tls.ca_secret_ref
        data = await rt.kube.secret_data(namespace, ref_.name)
        if data is None or ref_.key not in data:
            return Blocked(
                Missing.SECRET,
                "SecretNotFound",
                f"Secret {ref_.name!r} with key {ref_.key!r} (tls.caSecretRef) not found in namespace {namespace!r}",
                key("Secret", namespace, ref_.name),
            )
        ca_pem = data[ref_.key]
    client_endpoint = Endpoint(
        uri=endpoint.uri,
        db_name=spec.db_name,
        timeout=float(spec.timeout_seconds),
        token=token,
        secure=endpoint.secure,
        ca_pem=ca_pem,
        server_name=spec.tls.server_name if spec.tls else None,
    )
    try:
        gateway = await rt.pool.get(connection_key(namespace, name), client_endpoint)
    except MilvusError as exc:
        return Invalid("InvalidTLSConfig" if endpoint.secure else "InvalidURI", exc.message)
    return Connected(gateway=gateway, db_name=spec.db_name, endpoint=endpoint.address, uri=endpoint.uri)
