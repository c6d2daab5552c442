"""What a reconcile step returns: the new status, events to post, and when to look again."""

from __future__ import annotations

import dataclasses
import datetime
import enum
from typing import Generic, Literal, TypeVar

S = TypeVar("S")


class Retry(enum.StrEnum):
    """When the handler should run the step again; the handler turns this into a delay."""

    NOW = "Now"  # status changed (e.g. intent recorded): persist it, then continue at once
    BACKOFF = "Backoff"  # transient Milvus failure: capped exponential backoff
    SLOW = "Slow"  # credentials or permissions refused: retry slowly
    DEPENDENCY = "Dependency"  # a referenced object is missing or not ready: wake on its events
    POLL = "Poll"  # a restore job runs: poll at the configured interval
    DRIFT = "Drift"  # done; re-verify periodically


@dataclasses.dataclass(frozen=True)
class Event:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclasses.dataclass
class Outcome(Generic[S]):
    status: S
    retry: Retry | None = None  # None: terminal, nothing more to do
    events: list[Event] = dataclasses.field(default_factory=list)
    dependency: str | None = None  # with Retry.DEPENDENCY: key of the object waited for
    within: datetime.timedelta | None = None  # with DEPENDENCY/DRIFT: look again after this long (not later)
