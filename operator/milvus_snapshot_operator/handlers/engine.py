"""Applies a reconcile Outcome through Kopf: status merge-patch, events, and the next attempt.

Each MilvusSnapshot/MilvusRestore/MilvusConnection has a Kopf daemon; one daemon attempt runs one
reconcile step. Raising Requeue makes Kopf apply the status patch and run the next attempt after the
delay, keeping retry state in memory (no annotation write per poll). Waits for references are
interruptible: a watch event on the awaited object wakes the daemon at once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import kopf
from pydantic import BaseModel

from .. import metrics
from ..reconcile.outcome import Outcome, Retry
from .runtime import Runtime

_REQUEUE_MARK = "requeue in "


class Requeue(kopf.TemporaryError):
    """Not a failure: run the step again after `delay` seconds (Kopf applies the patch first)."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"{_REQUEUE_MARK}{delay:.1f}s", delay=delay)


def daemon_step(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """What every daemon attempt shares around its step.

    Before it: finish what the previous attempt asked for (our own status patch to show in the body, then
    its interruptible wait), and skip the step if the daemon is stopping. After it: re-raise a Requeue
    without the step's frames: Kopf holds an attempt's outcome, traceback included, until the next attempt
    returns, and a Ready resource's next attempt waits for minutes, which would keep that step's locals
    (parsed spec and status, inputs, outcome: ~10 KB per resource) alive. `functools.wraps` keeps the
    handler id (Kopf follows `__wrapped__`), so stored progress still matches.
    """

    @functools.wraps(fn)
    async def daemon(**kwargs: Any) -> None:
        await pending_wait(kwargs["memo"], kwargs["stopped"], kwargs["body"])
        if kwargs["stopped"]:
            return
        try:
            await fn(**kwargs)
        except Requeue as exc:
            raise exc.with_traceback(None) from None
        except Exception:
            metrics.reconcile_error(str(kwargs["body"].get("kind")))
            raise

    return daemon


class QuietRequeues(logging.Filter):
    """Kopf logs every TemporaryError at ERROR; a Requeue is routine, so it goes to DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if f"failed temporarily: {_REQUEUE_MARK}" in message or (
            record.levelno == logging.INFO and message.endswith(" succeeded.") and "Timer" in message
        ):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def merge_patch(old: Any, new: Any) -> Any:
    """RFC 7386 merge patch turning `old` into `new` (None when they are equal)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return None if old == new else new
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            sub = merge_patch(old[key], value) if isinstance(value, dict) else value
            patch[key] = sub
    return patch or None


CATCH_UP_SECONDS = 2.0


def contains(actual: Any, expected: Any) -> bool:
    """`actual` has every field of `expected` with the same value (extra fields, e.g. defaults, are fine)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    return bool(actual == expected)


async def catch_up(memo: Any, body: Any, stopped: Any) -> None:
    """Wait (briefly) until the live body shows the status the previous attempt wrote.

    Kopf re-invokes a daemon as soon as the previous attempt's patch is sent, often before the watch
    delivers that change; running the next step on the stale status would repeat the previous step's
    Milvus reads. Only the operator writes status, so "shows what we wrote" is the right test.
    """
    expected = getattr(memo, "expected_status", None)
    memo.expected_status = None
    deadline = asyncio.get_running_loop().time() + CATCH_UP_SECONDS
    while expected is not None and not contains(dict(body.get("status") or {}), expected):
        if stopped or asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.02)


async def pending_wait(memo: Any, stopped: Any, body: Any = None) -> None:
    """Catch up with our own last status patch, then finish the wait the previous attempt asked for."""
    if body is not None:
        await catch_up(memo, body, stopped)
    pending = getattr(memo, "pending_wait", None)
    if pending:
        memo.pending_wait = None
        subscription, timeout = pending
        runtime: Runtime = memo.runtime
        await runtime.bus.wait(subscription, timeout, stop=stopped.wait())


def wait_next(memo: Any, keys: list[str], timeout: float) -> None:
    """Ask the next attempt to wait up to `timeout` for a change of `keys` first; changes from now on
    count, including those that arrive before the next attempt starts waiting."""
    runtime: Runtime = memo.runtime
    memo.pending_wait = (runtime.bus.subscribe(keys), timeout)


def apply(outcome: Outcome[Any], body: Any, patch: Any, memo: Any = None) -> bool:
    """Status patch and events. True when the status changed."""
    assert isinstance(outcome.status, BaseModel)
    old = dict(body.get("status") or {})
    new = outcome.status.model_dump(mode="json", by_alias=True, exclude_none=True)
    diff = merge_patch(old, new)
    if diff:
        meta = body.get("metadata") or {}
        metrics.observe_status_change(body.get("kind"), meta.get("namespace"), meta.get("labels") or {}, old, new)
        patch.setdefault("status", {}).update(diff)
        if memo is not None:
            memo.expected_status = new
    for event in outcome.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
    return bool(diff)


def settle(
    outcome: Outcome[Any],
    *,
    body: Any,
    patch: Any,
    memo: Any,
    waits: list[str] | None = None,
    wait_seconds: float | None = None,
) -> None:
    """Apply the outcome, then return (done) or raise Requeue for the next attempt."""
    apply(outcome, body, patch, memo)
    if outcome.retry is None:
        memo.failures = 0
        return
    runtime: Runtime = memo.runtime
    memo.failures = getattr(memo, "failures", 0) + 1 if outcome.retry == Retry.BACKOFF else 0
    if outcome.retry in (Retry.DEPENDENCY, Retry.DRIFT, Retry.SLOW):
        # Interruptible waits: a change of the awaited object (or of the connection and its Secret,
        # e.g. a fixed token) wakes the daemon at once; the timeout is only the fallback.
        keys = [*(waits or []), *([outcome.dependency] if outcome.dependency else [])]
        timeout = runtime.delay(outcome.retry, 0)
        if outcome.retry == Retry.DRIFT and wait_seconds is not None:
            timeout = wait_seconds
        wait_next(memo, keys, timeout)
        raise Requeue(0)
    raise Requeue(runtime.delay(outcome.retry, memo.failures))
