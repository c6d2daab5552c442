"""Condition bookkeeping following metav1.Condition and kstatus (Ready / Reconciling / Stalled)."""

from __future__ import annotations

import datetime
from typing import Protocol

from ..api.common import Condition, ConditionStatus, ErrorInfo, rfc3339

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"


class _Conditioned(Protocol):
    conditions: list[Condition]


class HasConditions(_Conditioned, Protocol):
    observed_generation: int | None
    error: ErrorInfo | None


def set_condition(
    target: _Conditioned,
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime.datetime,
) -> None:
    """Upsert a condition; lastTransitionTime changes only when the status does."""
    kept = [c for c in target.conditions if c.type != type_]
    previous = next((c for c in target.conditions if c.type == type_), None)
    since = previous.last_transition_time if previous and previous.status == status else rfc3339(now)
    kept.append(
        Condition(
            type=type_,
            status=status,
            reason=reason,
            message=message,
            observed_generation=generation,
            last_transition_time=since,
        )
    )
    target.conditions = sorted(kept, key=lambda c: (c.type != READY, c.type))


def remove_condition(target: _Conditioned, type_: str) -> None:
    target.conditions = [c for c in target.conditions if c.type != type_]


def mark_progressing(
    target: HasConditions, reason: str, message: str, generation: int | None, now: datetime.datetime
) -> None:
    """Work in progress: Ready=Unknown, Reconciling=True (kstatus InProgress, Argo Progressing)."""
    target.observed_generation = generation
    target.error = None
    set_condition(target, READY, ConditionStatus.UNKNOWN, "Progressing", message, generation, now)
    set_condition(target, RECONCILING, ConditionStatus.TRUE, reason, message, generation, now)
    remove_condition(target, STALLED)


def mark_ready(
    target: HasConditions, reason: str, message: str, generation: int | None, now: datetime.datetime
) -> None:
    target.observed_generation = generation
    target.error = None
    set_condition(target, READY, ConditionStatus.TRUE, reason, message, generation, now)
    remove_condition(target, RECONCILING)
    remove_condition(target, STALLED)


def mark_retrying(
    target: HasConditions,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime.datetime,
    code: int | None = None,
) -> None:
    """Transient trouble: Ready=False without Stalled (kstatus InProgress; never Failed)."""
    target.observed_generation = generation
    _record_error(target, reason, message, code, now)
    set_condition(target, READY, ConditionStatus.FALSE, reason, message, generation, now)
    set_condition(target, RECONCILING, ConditionStatus.TRUE, reason, message, generation, now)
    remove_condition(target, STALLED)


def mark_stalled(
    target: HasConditions,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime.datetime,
    code: int | None = None,
) -> None:
    """Terminal failure: Stalled=True with Ready=False and the same reason (kstatus Failed)."""
    target.observed_generation = generation
    _record_error(target, reason, message, code, now)
    set_condition(target, READY, ConditionStatus.FALSE, reason, message, generation, now)
    set_condition(target, STALLED, ConditionStatus.TRUE, reason, message, generation, now)
    remove_condition(target, RECONCILING)


def _record_error(target: HasConditions, reason: str, message: str, code: int | None, now: datetime.datetime) -> None:
    same = target.error and target.error.reason == reason and target.error.message == message
    if not same:
        target.error = ErrorInfo(reason=reason, message=message, code=code, time=rfc3339(now))
