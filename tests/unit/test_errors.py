"""Error classification: real pymilvus exceptions and gRPC errors -> retryable or terminal."""

from __future__ import annotations

import grpc
import pytest
from pymilvus.exceptions import ConnectionConfigException, MilvusException, ParamError

from milvus_snapshot_operator.milvus.errors import classify
from milvus_snapshot_operator.milvus.gateway import ErrorKind


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (MilvusException(1100, "snapshot name can only contain numbers, letters, underscores"), ErrorKind.INVALID),
        (MilvusException(1101, "collection_name is required for ListSnapshots"), ErrorKind.INVALID),
        (MilvusException(100, "collection not found[database=default][collection=x]"), ErrorKind.COLLECTION_NOT_FOUND),
        (MilvusException(800, "database not found[database=x]"), ErrorKind.COLLECTION_NOT_FOUND),
        (MilvusException(1100, "snapshot name s already exists: invalid parameter"), ErrorKind.ALREADY_EXISTS),
        (MilvusException(65535, "collection 1: snapshot not found[snapshot=s]"), ErrorKind.NOT_FOUND),
        (MilvusException(2100, "restore job not found: jobID=7: importing data failed"), ErrorKind.NOT_FOUND),
        (MilvusException(65535, "s: 1 active pins, unpin before dropping"), ErrorKind.PINNED),
        (MilvusException(65535, "failed to restore collection: create duplicate collection"), ErrorKind.TARGET_EXISTS),
        (MilvusException(2, "service unavailable"), ErrorKind.UNAVAILABLE),
        (MilvusException(8, "rate limit exceeded"), ErrorKind.UNAVAILABLE),
        (MilvusException(1800, "user hasn't authenticated"), ErrorKind.AUTH),
        (MilvusException(message="[list_snapshots] Retry timeout: 5s"), ErrorKind.UNAVAILABLE),
        (MilvusException(grpc.StatusCode.UNAVAILABLE, "Retry timeout: 5s, <_InactiveRpcError>"), ErrorKind.UNAVAILABLE),
        (MilvusException(65535, "something unexpected"), ErrorKind.UNAVAILABLE),
        (ParamError(message="snapshot_name must be a non-empty string"), ErrorKind.INVALID),
        (FakeRpcError(grpc.StatusCode.UNAUTHENTICATED, "bad token"), ErrorKind.AUTH),
        (FakeRpcError(grpc.StatusCode.PERMISSION_DENIED, "no"), ErrorKind.PERMISSION),
        (FakeRpcError(grpc.StatusCode.UNIMPLEMENTED, "Method not found"), ErrorKind.UNSUPPORTED),
        (FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline"), ErrorKind.UNAVAILABLE),
        (TimeoutError("slow"), ErrorKind.UNAVAILABLE),
        # A bug (ours or a library's) is reported as one, not disguised as Milvus being unavailable forever.
        (TypeError("'NoneType' object is not subscriptable"), ErrorKind.INTERNAL),
        (KeyError("row_count"), ErrorKind.INTERNAL),
        (ConnectionConfigException(message="uri: grpc://h is illegal"), ErrorKind.INVALID_ENDPOINT),
        (
            FakeRpcError(grpc.StatusCode.UNAVAILABLE, "Ssl handshake failed: SSL_ERROR_SSL: CERTIFICATE_VERIFY_FAILED"),
            ErrorKind.TLS,
        ),
    ],
)
def test_classification(exc: BaseException, kind: ErrorKind) -> None:
    error = classify(exc)
    assert error.kind == kind
    assert error.message  # Milvus's own words are kept for status and events


def test_message_and_code_kept_verbatim() -> None:
    error = classify(MilvusException(100, "collection not found[database=default][collection=x]"))
    assert (error.message, error.code) == ("collection not found[database=default][collection=x]", 100)
