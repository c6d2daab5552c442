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

# A probe's failures read like any call's (a wrong password, TLS, no snapshot RPCs: retried slowly under their
# own reason, and at once when the Secret or spec changes), except that an outage is "Unreachable" and the
# connection's own database may be missing.
_UNREACHABLE = ("Unreachable", Retry.BACKOFF)
_PROBE_ANSWERS = {
    **RETRIED,
    ErrorKind.UNAVAILABLE: _UNREACHABLE,
    ErrorKind.PINNED: _UNREACHABLE,
    ErrorKind.DATABASE_NOT_FOUND: ("DatabaseNotFound", Retry.SLOW),
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
        reason, when = _PROBE_ANSWERS.get(exc.kind, _UNREACHABLE)
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
