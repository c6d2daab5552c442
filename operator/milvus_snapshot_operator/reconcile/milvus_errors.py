"""How a failed Milvus call shows in status: terminal (Stalled) or retried, never guessed."""

from __future__ import annotations

import datetime
from typing import TypeVar

from ..api.common import ConditionedStatus, TerminalStatus
from ..milvus.gateway import ErrorKind, MilvusError
from .outcome import Event, Outcome, Retry

# The call may or may not have taken effect (timeout, connection lost, reply lost): the intent stays on
# record and the next attempt looks before it acts.
UNKNOWN_OUTCOME = frozenset({ErrorKind.UNAVAILABLE})

RETRIED: dict[ErrorKind, tuple[str, Retry]] = {
    ErrorKind.UNAVAILABLE: ("MilvusUnavailable", Retry.BACKOFF),
    ErrorKind.PINNED: ("SnapshotPinned", Retry.BACKOFF),
    ErrorKind.AUTH: ("AuthenticationFailed", Retry.SLOW),
    ErrorKind.PERMISSION: ("PermissionDenied", Retry.SLOW),
    ErrorKind.UNSUPPORTED: ("SnapshotsUnsupported", Retry.SLOW),
    ErrorKind.TLS: ("TLSHandshakeFailed", Retry.SLOW),
    ErrorKind.TLS_MISMATCH: ("TLSMismatch", Retry.SLOW),
    ErrorKind.INTERNAL: ("InternalError", Retry.BACKOFF),
}
UNCLASSIFIED = ("MilvusError", Retry.BACKOFF)  # a Milvus failure of no kind above: retried, never terminal here
TERMINAL: dict[ErrorKind, str] = {
    ErrorKind.COLLECTION_NOT_FOUND: "CollectionNotFound",
    ErrorKind.TARGET_EXISTS: "TargetCollectionExists",
    ErrorKind.NOT_FOUND: "SnapshotNotFound",
    ErrorKind.ALREADY_EXISTS: "SnapshotExists",
}

S = TypeVar("S", bound=ConditionedStatus)
T = TypeVar("T", bound=TerminalStatus)


def retry(exc: MilvusError, status: S, generation: int | None, now: datetime.datetime) -> Outcome[S]:
    """Never terminal: transient and credential errors with their own reason, anything else MilvusError."""
    reason, when = RETRIED.get(exc.kind, UNCLASSIFIED)
    first = status.mark_retrying(reason, exc.message, generation, now, exc.code)
    return Outcome(status, when, [Event("Warning", reason, exc.message)] if first else [])


def retry_or_fail(
    exc: MilvusError, status: T, generation: int | None, now: datetime.datetime, *, transition: str
) -> Outcome[T]:
    """Retry transient and credential errors; fail on input errors Milvus reported.

    `transition` is the event reason of the failure (SnapshotFailed, RestoreFailed); the specific reason
    (CollectionNotFound, ...) is the condition's and leads the event message.
    """
    if exc.kind in RETRIED:
        return retry(exc, status, generation, now)
    reason = TERMINAL.get(exc.kind, transition)
    status.fail(reason, exc.message, generation, now, exc.code)
    detail = exc.message if reason == transition else f"{reason}: {exc.message}"
    return Outcome(status, None, [Event("Warning", transition, detail)])
