"""The MilvusConnection probe, table-driven: each failure maps to a documented Ready reason and a retry; a spec
that cannot be used (bad URI, TLS downgrade, endpoint not allowed) is Stalled until it changes."""

from __future__ import annotations

import datetime

import pytest

from milvus_snapshot_operator.api.connection import MilvusConnectionStatus
from milvus_snapshot_operator.milvus.gateway import ErrorKind, MilvusError
from milvus_snapshot_operator.reconcile.connection import ConnectionInputs, probe_connection
from milvus_snapshot_operator.reconcile.outcome import Retry
from milvus_snapshot_operator.reconcile.refs import Blocked, Connected, Invalid, Missing

from .fakes import FakeMilvus

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)


def ready(status: MilvusConnectionStatus) -> tuple[str, str]:
    cond = next(c for c in status.conditions if c.type == "Ready")
    return str(cond.status), cond.reason


def connected(milvus: FakeMilvus) -> Connected:
    return Connected(milvus, "default", "m:19530", uri="http://m:19530")


async def test_connected() -> None:
    out = await probe_connection(ConnectionInputs(1, MilvusConnectionStatus(), NOW, connected(FakeMilvus())))
    assert ready(out.status) == ("True", "Connected") and out.retry == Retry.DRIFT
    assert out.status.server_version == "v3.0.2" and out.status.last_probe_time == "2026-11-25T12:00:00Z"
    assert out.status.endpoint == "http://m:19530"


@pytest.mark.parametrize(
    ("kind", "reason", "retry"),
    [
        (ErrorKind.AUTH, "AuthenticationFailed", Retry.SLOW),
        (ErrorKind.PERMISSION, "PermissionDenied", Retry.SLOW),
        (ErrorKind.UNSUPPORTED, "SnapshotsUnsupported", Retry.SLOW),
        (ErrorKind.DATABASE_NOT_FOUND, "DatabaseNotFound", Retry.SLOW),
        (ErrorKind.TLS, "TLSHandshakeFailed", Retry.SLOW),
        (ErrorKind.TLS_MISMATCH, "TLSMismatch", Retry.SLOW),
        (ErrorKind.UNAVAILABLE, "Unreachable", Retry.BACKOFF),
        (ErrorKind.INTERNAL, "InternalError", Retry.BACKOFF),
    ],
)
async def test_probe_failures(kind: ErrorKind, reason: str, retry: Retry) -> None:
    milvus = FakeMilvus()
    milvus.fail("check_snapshot_support", *[MilvusError(kind, "told by milvus", 800)] * 2)
    out = await probe_connection(ConnectionInputs(2, MilvusConnectionStatus(), NOW, connected(milvus)))
    assert ready(out.status) == ("False", reason) and out.retry == retry
    assert [(e.type, e.reason, e.message) for e in out.events] == [("Warning", reason, "told by milvus")]
    # The same failure again: no second event (events mark transitions, not every probe).
    again = await probe_connection(ConnectionInputs(2, out.status, NOW, connected(milvus)))
    assert again.events == []


async def test_blocked_waits_for_the_dependency() -> None:
    blocked = Blocked(Missing.SECRET, "SecretNotFound", "Secret 'creds' not found", "Secret/ns/creds")
    out = await probe_connection(ConnectionInputs(1, MilvusConnectionStatus(), NOW, blocked))
    assert ready(out.status) == ("False", "SecretNotFound") and out.retry == Retry.DEPENDENCY
    assert out.dependency == "Secret/ns/creds"


@pytest.mark.parametrize("reason", ["InvalidURI", "InvalidTLSConfig", "EndpointNotAllowed"])
async def test_an_unusable_spec_is_stalled_until_it_changes(reason: str) -> None:
    out = await probe_connection(ConnectionInputs(3, MilvusConnectionStatus(), NOW, Invalid(reason, "spec.uri: bad")))
    conditions = {c.type: (c.status, c.reason) for c in out.status.conditions}
    assert conditions == {"Ready": ("False", reason), "Stalled": ("True", reason)}
    assert out.retry == Retry.DEPENDENCY  # the daemon stays, waiting for a spec change; no traceback loop
    assert [e.reason for e in out.events] == [reason]
    again = await probe_connection(ConnectionInputs(3, out.status, NOW, Invalid(reason, "spec.uri: bad")))
    assert again.events == []


async def test_tls_settings_refused_only_at_the_first_call_are_stalled_too() -> None:
    milvus = FakeMilvus()
    milvus.fail("server_version", MilvusError(ErrorKind.INVALID_ENDPOINT, "server_name needs secure=True"))
    out = await probe_connection(ConnectionInputs(3, MilvusConnectionStatus(), NOW, connected(milvus)))
    conditions = {c.type: (c.status, c.reason) for c in out.status.conditions}
    assert conditions == {"Ready": ("False", "InvalidTLSConfig"), "Stalled": ("True", "InvalidTLSConfig")}
    assert out.retry == Retry.DEPENDENCY and [e.reason for e in out.events] == ["InvalidTLSConfig"]


async def test_recovery_is_an_event_the_steady_state_is_not() -> None:
    milvus = FakeMilvus()
    milvus.fail("check_snapshot_support", MilvusError(ErrorKind.UNAVAILABLE, "connection refused"))
    down = await probe_connection(ConnectionInputs(1, MilvusConnectionStatus(), NOW, connected(milvus)))
    up = await probe_connection(ConnectionInputs(1, down.status, NOW, connected(milvus)))
    assert [e.reason for e in up.events] == ["ConnectionEstablished"]
    steady = await probe_connection(ConnectionInputs(1, up.status, NOW, connected(milvus)))
    assert steady.events == []
