"""Classify pymilvus and gRPC failures into ErrorKind (retryable vs. permanent), like CNPG's errors.go.

Milvus reports business errors in a Status (code + reason); pymilvus turns them into MilvusException.
Transport problems surface as grpc errors or as MilvusException("... Retry timeout ...").
"""

from __future__ import annotations

import asyncio

import grpc
from pymilvus.exceptions import ConnectionConfigException, MilvusException, ParamError

from .gateway import ErrorKind, MilvusError

# merr codes, as Milvus 3.0 defines them (pkg/util/merr in the Milvus sources)
PARAMETER_INVALID = 1100
PARAMETER_MISSING = 1101
COLLECTION_NOT_FOUND = 100
DATABASE_NOT_FOUND = 800
SERVICE_UNAVAILABLE = 2
RATE_LIMIT = 8
NOT_AUTHENTICATED = 1800
PERMISSION_DENIED = 1801
IMPORT_FAILED = 2100
COLLECTION_NOT_LOADED = 101
COLLECTION_NOT_FULLY_LOADED = 103
ALIAS_NOT_FOUND = 1600
ALIAS_NAME_CONFLICT = 1601  # the alias is the name of a collection
ALIAS_ELSEWHERE = 1602  # create_alias: the alias exists and points at another collection

_GRPC_KINDS = {
    grpc.StatusCode.UNAVAILABLE: ErrorKind.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: ErrorKind.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ErrorKind.UNAVAILABLE,
    grpc.StatusCode.ABORTED: ErrorKind.UNAVAILABLE,
    grpc.StatusCode.CANCELLED: ErrorKind.UNAVAILABLE,
    grpc.StatusCode.INTERNAL: ErrorKind.UNAVAILABLE,
    grpc.StatusCode.UNKNOWN: ErrorKind.UNAVAILABLE,
    grpc.StatusCode.UNAUTHENTICATED: ErrorKind.AUTH,
    grpc.StatusCode.PERMISSION_DENIED: ErrorKind.PERMISSION,
    grpc.StatusCode.UNIMPLEMENTED: ErrorKind.UNSUPPORTED,
    grpc.StatusCode.INVALID_ARGUMENT: ErrorKind.INVALID,
    grpc.StatusCode.NOT_FOUND: ErrorKind.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: ErrorKind.ALREADY_EXISTS,
}


# What gRPC core (under pymilvus 3.0.2's "Fail connecting to server", code 2) reports when TLS does not work
# out, matched on its own text (tests/integration/test_milvusd_tls.py pins each against the real client):
# a peer that answers TLS with plaintext, and a certificate it cannot verify (wrong CA, wrong server name).
_TLS_PLAINTEXT_PEER = ("wrong_version_number",)
_TLS_FAILURE = ("tls handshake failed", "certificate_verify_failed", "hostname verification", "ssl_error")


def classify(exc: BaseException) -> MilvusError:
    """Turn any exception raised by a pymilvus call into a MilvusError with a kind and Milvus's text.

    Anything that is not a Milvus or transport failure is a bug (ours or a library's): INTERNAL, reported
    as such (never disguised as Milvus being unavailable).
    """
    if isinstance(exc, MilvusError):
        return exc
    if isinstance(exc, grpc.RpcError):
        return _classify_rpc(exc)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, ConnectionError, OSError)):
        return MilvusError(ErrorKind.UNAVAILABLE, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ConnectionConfigException):
        return MilvusError(ErrorKind.INVALID_ENDPOINT, exc.message)
    if isinstance(exc, ParamError):
        return MilvusError(ErrorKind.INVALID, exc.message, None)
    if isinstance(exc, MilvusException):
        return _classify_milvus(exc)
    return MilvusError(ErrorKind.INTERNAL, f"{type(exc).__name__}: {exc}")


def _classify_rpc(exc: grpc.RpcError) -> MilvusError:
    code = exc.code() if callable(getattr(exc, "code", None)) else None
    details = exc.details() if callable(getattr(exc, "details", None)) else str(exc)
    kind = _GRPC_KINDS.get(code, ErrorKind.UNAVAILABLE) if code is not None else ErrorKind.UNAVAILABLE
    text = str(details).lower()
    if kind == ErrorKind.UNAVAILABLE and any(marker in text for marker in _TLS_PLAINTEXT_PEER):
        why = "TLS was asked for, but the server answered in plaintext (use an http:// URI without spec.tls, "
        return MilvusError(ErrorKind.TLS_MISMATCH, f"{why}or enable TLS on the server): {details}")
    if kind == ErrorKind.UNAVAILABLE and any(marker in text for marker in _TLS_FAILURE):
        why = "TLS handshake failed: the server's certificate is not signed by the trusted CA (tls.caSecretRef, "
        why += "else the system roots) or does not match the host name (tls.serverName)"
        return MilvusError(ErrorKind.TLS, f"{why}: {details}")
    return MilvusError(kind, f"{getattr(code, 'name', 'gRPC error')}: {details}")


# gRPC codes that say "these credentials/this server will never work", even when pymilvus hides them
# behind its generic connect failure (code 2, "Fail connecting to server ... illegal connection params
# or server unavailable"): a wrong token is refused at the Connect RPC, before any snapshot RPC runs.
_DECISIVE_CAUSES = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNIMPLEMENTED)


def _rpc_cause(exc: BaseException) -> grpc.RpcError | None:
    """The gRPC error pymilvus wrapped (`raise MilvusException(...) from rpc_error`), if any.

    pymilvus's retry decorator re-raises with `raise e from e`, which points `__cause__` at the
    exception itself; the wrapped error is then only reachable through `__context__`.
    """
    seen = {id(exc)}
    current: BaseException = exc
    while True:
        nxt = current.__cause__
        if nxt is None or id(nxt) in seen:
            nxt = current.__context__
        if nxt is None or id(nxt) in seen:
            return None
        if isinstance(nxt, grpc.RpcError):
            return nxt
        seen.add(id(nxt))
        current = nxt


def _classify_milvus(exc: MilvusException) -> MilvusError:
    cause = _rpc_cause(exc)
    if cause is not None and callable(getattr(cause, "code", None)):
        from_cause = _classify_rpc(cause)
        if cause.code() in _DECISIVE_CAUSES or from_cause.kind in (ErrorKind.TLS, ErrorKind.TLS_MISMATCH):
            return from_cause
    raw_code = exc.code
    message = exc.message or str(exc)
    lowered = message.lower()
    if isinstance(raw_code, grpc.StatusCode):  # pymilvus retried a gRPC error until the timeout
        kind = _GRPC_KINDS.get(raw_code, ErrorKind.UNAVAILABLE)
        return MilvusError(kind, message)
    code = int(raw_code) if isinstance(raw_code, int) else None
    kind = _kind_for(code, lowered, exc)
    return MilvusError(kind, message, code)


def _kind_for(code: int | None, lowered: str, exc: MilvusException) -> ErrorKind:
    if code == NOT_AUTHENTICATED or "authenticat" in lowered or "auth check failure" in lowered:
        return ErrorKind.AUTH
    if code == PERMISSION_DENIED or "permission denied" in lowered or "privilege" in lowered:
        return ErrorKind.PERMISSION
    if code == ALIAS_NOT_FOUND or "alias not found" in lowered:
        return ErrorKind.NOT_FOUND
    if code in (ALIAS_NAME_CONFLICT, ALIAS_ELSEWHERE) or "alias and collection name conflict" in lowered:
        return ErrorKind.ALIAS_CONFLICT
    if code in (COLLECTION_NOT_LOADED, COLLECTION_NOT_FULLY_LOADED) or "not loaded" in lowered:
        return ErrorKind.NOT_LOADED
    if "active pins" in lowered or "is restoring" in lowered:
        return ErrorKind.PINNED
    if "duplicate collection" in lowered:
        return ErrorKind.TARGET_EXISTS
    if "already exists" in lowered:
        return ErrorKind.ALREADY_EXISTS
    if "restore job not found" in lowered or "snapshot not found" in lowered:
        return ErrorKind.NOT_FOUND
    if code in (COLLECTION_NOT_FOUND, DATABASE_NOT_FOUND) or "collection not found" in lowered:
        return ErrorKind.COLLECTION_NOT_FOUND
    if code in (PARAMETER_INVALID, PARAMETER_MISSING):
        return ErrorKind.INVALID
    if "unimplemented" in lowered or "unknown method" in lowered:
        return ErrorKind.UNSUPPORTED
    if code in (SERVICE_UNAVAILABLE, RATE_LIMIT) or exc.retriable or "retry timeout" in lowered:
        return ErrorKind.UNAVAILABLE
    if exc.is_input_error:
        return ErrorKind.INVALID
    return ErrorKind.UNAVAILABLE
