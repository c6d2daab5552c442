"""The MilvusConnection probe, table-driven: each failure maps to a documented Ready reason and a retry."""

from __future__ import annotations

import datetime

import pytest

from milvus_snapshot_operator.api.connection import MilvusConnectionStatus
from milvus_snapshot_operator.milvus.gateway import ErrorKind, MilvusError
from milvus_snapshot_operator.reconcile.connection import ConnectionInputs, probe_connection
from milvus_snapshot_operator.reconcile.outcome import Retry
from milvus_snapshot_operator.reconcile.snapshot import Blocked

from .fakes import FakeMilvus

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)


def ready(status: MilvusConnectionStatus) -> tuple[str, str]:
    cond = next(c for c in status.conditions if c.type == "Ready")
    return str(cond.status), cond.reason


async def test_connected() -> None:
    out = await probe_connection(ConnectionInputs(1, MilvusConnectionStatus(), NOW, "http://m:19530", FakeMilvus()))
    assert ready(out.status) == ("True", "Connected") and out.retry == Retry.DRIFT
    assert out.status.server_version == "v3.0.2" and out.status.last_probe_time == "2026-11-25T12:00:00Z"


@pytest.mark.parametrize(
    ("kind", "reason", "retry"),
    [
        (ErrorKind.AUTH, "AuthenticationFailed", Retry.SLOW),
        (ErrorKind.PERMISSION, "PermissionDenied", Retry.SLOW),
        (ErrorKind.UNSUPPORTED, "SnapshotsUnsupported", Retry.SLOW),
        (ErrorKind.DATABASE_NOT_FOUND, "DatabaseNotFound", Retry.SLOW),
        (ErrorKind.UNAVAILABLE, "Unreachable", Retry.BACKOFF),
    ],
)
async def test_probe_failures(kind: ErrorKind, reason: str, retry: Retry) -> None:
    milvus = FakeMilvus()
    milvus.fail("check_snapshot_support", *[MilvusError(kind, "told by milvus", 800)] * 2)
    out = await probe_connection(ConnectionInputs(2, MilvusConnectionStatus(), NOW, "http://m:19530", milvus))
    assert ready(out.status) == ("False", reason) and out.retry == retry
    assert [(e.type, e.reason, e.message) for e in out.events] == [("Warning", reason, "told by milvus")]
    # The same failure again: no second event (events mark transitions, not every probe).
    again = await probe_connection(ConnectionInputs(2, out.status, NOW, "http://m:19530", milvus))
    assert again.events == []


async def test_blocked_waits_for_the_dependency() -> None:
    blocked = Blocked("SecretNotFound", "Secret 'creds' not found", "Secret/ns/creds")
    out = await probe_connection(ConnectionInputs(1, MilvusConnectionStatus(), NOW, None, None, blocked))
    assert ready(out.status) == ("False", "SecretNotFound") and out.retry == Retry.DEPENDENCY
    assert out.dependency == "Secret/ns/creds"
