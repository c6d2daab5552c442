"""MilvusConnection probe: can we reach Milvus with these credentials, and does it have snapshots?"""

from __future__ import annotations

import dataclasses
import datetime

from ..api.common import ConditionStatus, rfc3339
from ..api.connection import MilvusConnectionStatus
from ..milvus.gateway import ErrorKind, MilvusError, MilvusGateway
from .conditions import READY, set_condition
from .outcome import Event, Outcome, Retry
from .snapshot import Blocked

_REASONS = {
    ErrorKind.AUTH: "AuthenticationFailed",
    ErrorKind.PERMISSION: "PermissionDenied",
    ErrorKind.UNSUPPORTED: "SnapshotsUnsupported",
    ErrorKind.DATABASE_NOT_FOUND: "DatabaseNotFound",
}


@dataclasses.dataclass
class ConnectionInputs:
    generation: int | None
    status: MilvusConnectionStatus
    now: datetime.datetime
    endpoint: str | None = None  # resolved URI without credentials
    gateway: MilvusGateway | None = None
    blocked: Blocked | None = None


async def probe_connection(inp: ConnectionInputs) -> Outcome[MilvusConnectionStatus]:
    status = inp.status.model_copy(deep=True)
    status.observed_generation = inp.generation
    status.endpoint = inp.endpoint
    previous = next((c for c in status.conditions if c.type == READY), None)
    if inp.blocked is not None:
        return _not_ready(
            inp,
            status,
            inp.blocked.reason,
            inp.blocked.message,
            previous,
            Retry.DEPENDENCY,
            inp.blocked.dependency,
        )
    assert inp.gateway is not None
    status.last_probe_time = rfc3339(inp.now)
    try:
        status.server_version = await inp.gateway.server_version()
        await inp.gateway.check_snapshot_support()
    except MilvusError as exc:
        reason = _REASONS.get(exc.kind, "Unreachable")
        retry = Retry.SLOW if exc.kind in _REASONS else Retry.BACKOFF
        return _not_ready(inp, status, reason, exc.message, previous, retry, None)
    message = f"connected to Milvus {status.server_version} at {inp.endpoint}"
    set_condition(status, READY, ConditionStatus.TRUE, "Connected", message, inp.generation, inp.now)
    events = []
    if previous is not None and previous.status != ConditionStatus.TRUE:
        events.append(Event("Normal", "ConnectionEstablished", message))
    return Outcome(status, Retry.DRIFT, events)


def _not_ready(
    inp: ConnectionInputs,
    status: MilvusConnectionStatus,
    reason: str,
    message: str,
    previous: object,
    retry: Retry,
    dependency: str | None,
) -> Outcome[MilvusConnectionStatus]:
    set_condition(status, READY, ConditionStatus.FALSE, reason, message, inp.generation, inp.now)
    changed = getattr(previous, "reason", None) != reason
    events = [Event("Warning", reason, message)] if changed else []
    return Outcome(status, retry, events, dependency=dependency)
