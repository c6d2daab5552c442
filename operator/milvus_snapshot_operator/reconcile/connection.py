"""MilvusConnection probe: can we reach Milvus with these credentials, and does it have snapshots?"""

from __future__ import annotations

import dataclasses
import datetime

from ..api.common import READY, rfc3339
from ..api.connection import MilvusConnectionStatus
from ..milvus.gateway import ErrorKind, MilvusError
from .milvus_errors import RETRIED
from .outcome import Event, Outcome, Retry
from .refs import Blocked, Connected, Invalid

# A wrong password, a missing database or no snapshot RPCs are answers, not outages: retried slowly (and at
# once when the Secret or spec changes), under their own reason.
_ANSWERS = {
    ErrorKind.AUTH: "AuthenticationFailed",
    ErrorKind.PERMISSION: "PermissionDenied",
    ErrorKind.UNSUPPORTED: "SnapshotsUnsupported",
    ErrorKind.DATABASE_NOT_FOUND: "DatabaseNotFound",
    ErrorKind.TLS: "TLSHandshakeFailed",
    ErrorKind.TLS_MISMATCH: "TLSMismatch",
}


@dataclasses.dataclass(frozen=True)
class ConnectionInputs:
    generation: int | None
    status: MilvusConnectionStatus
    now: datetime.datetime
    refs: Connected | Blocked | Invalid


async def probe_connection(inp: ConnectionInputs) -> Outcome[MilvusConnectionStatus]:
    status = inp.status.model_copy(deep=True)
    previous = status.condition(READY)
    refs = inp.refs
    if isinstance(refs, Invalid):
        status.endpoint = None
        return _stalled(inp, status, refs)
    if isinstance(refs, Blocked):
        return _not_ready(inp, status, refs.reason, refs.message, Retry.DEPENDENCY, refs.wake)
    status.endpoint = refs.uri or refs.endpoint
    status.last_probe_time = rfc3339(inp.now)
    try:
        status.server_version = await refs.gateway.server_version()
        await refs.gateway.check_snapshot_support()
    except MilvusError as exc:
        if exc.kind == ErrorKind.INVALID_ENDPOINT:  # the client refused its TLS settings only when called
            return _stalled(inp, status, Invalid("InvalidTLSConfig", exc.message))
        reason = _ANSWERS.get(exc.kind) or ("InternalError" if exc.kind == ErrorKind.INTERNAL else "Unreachable")
        when = Retry.SLOW if exc.kind in _ANSWERS else RETRIED.get(exc.kind, ("", Retry.BACKOFF))[1]
        return _not_ready(inp, status, reason, exc.message, when, None, exc.code)
    message = f"connected to Milvus {status.server_version} at {status.endpoint}"
    status.mark_ready("Connected", message, inp.generation, inp.now)
    events = []
    if previous is not None and previous.status != "True":
        events.append(Event("Normal", "ConnectionEstablished", message))
    return Outcome(status, Retry.DRIFT, events)


def _stalled(
    inp: ConnectionInputs, status: MilvusConnectionStatus, invalid: Invalid
) -> Outcome[MilvusConnectionStatus]:
    """Stalled until the spec (or the operator's settings) change: wait for that, never give up."""
    previous = status.condition(READY)
    first = previous is None or previous.reason != invalid.reason
    status.mark_stalled(invalid.reason, invalid.message, inp.generation, inp.now)
    return Outcome(status, Retry.DEPENDENCY, [Event("Warning", invalid.reason, invalid.message)] if first else [])


def _not_ready(
    inp: ConnectionInputs,
    status: MilvusConnectionStatus,
    reason: str,
    message: str,
    retry: Retry,
    dependency: str | None,
    code: int | None = None,
) -> Outcome[MilvusConnectionStatus]:
    first = status.mark_retrying(reason, message, inp.generation, inp.now, code)
    return Outcome(status, retry, [Event("Warning", reason, message)] if first else [], dependency=dependency)
