"""How a failed Milvus call shows in status: terminal (Stalled) or retried, never guessed."""

from __future__ import annotations

import datetime
from typing import Any, TypeVar

from ..milvus.gateway import ErrorKind, MilvusError
from .conditions import mark_retrying, mark_stalled
from .outcome import Event, Outcome, Retry

S = TypeVar("S", bound=Any)

_RETRIED = {
    ErrorKind.UNAVAILABLE: ("MilvusUnavailable", Retry.BACKOFF),
    ErrorKind.PINNED: ("SnapshotPinned", Retry.BACKOFF),
    ErrorKind.AUTH: ("AuthenticationFailed", Retry.SLOW),
    ErrorKind.PERMISSION: ("PermissionDenied", Retry.SLOW),
    ErrorKind.UNSUPPORTED: ("SnapshotsUnsupported", Retry.SLOW),
}
_TERMINAL = {
    ErrorKind.COLLECTION_NOT_FOUND: "CollectionNotFound",
    ErrorKind.TARGET_EXISTS: "TargetCollectionExists",
    ErrorKind.NOT_FOUND: "SnapshotNotFound",
    ErrorKind.ALREADY_EXISTS: "SnapshotExists",
}


def react(
    exc: MilvusError,
    status: S,
    generation: int | None,
    now: datetime.datetime,
    *,
    terminal_reason: str | None,
) -> Outcome[S]:
    """Retry transient and credential errors; fail on input errors (when the caller can fail).

    On a terminal outcome (retry None) the caller sets its own Failed phase.
    """
    if exc.kind in _RETRIED or terminal_reason is None:
        reason, retry = _RETRIED.get(exc.kind, ("MilvusError", Retry.BACKOFF))
        first = not status.error or status.error.reason != reason
        mark_retrying(status, reason, exc.message, generation, now, exc.code)
        events = [Event("Warning", reason, exc.message)] if first else []
        return Outcome(status, retry, events)
    reason = _TERMINAL.get(exc.kind, terminal_reason)
    mark_stalled(status, reason, exc.message, generation, now, exc.code)
    # The event names the transition (SnapshotFailed, RestoreFailed); the specific reason leads the message.
    detail = exc.message if reason == terminal_reason else f"{reason}: {exc.message}"
    return Outcome(status, None, [Event("Warning", terminal_reason, detail)])
