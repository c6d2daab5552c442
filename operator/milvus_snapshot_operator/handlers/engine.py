"""Applies a reconcile Outcome through Kopf: status merge-patch, events, and the next attempt.

Each MilvusSnapshot/MilvusRestore/MilvusConnection/MilvusSnapshotSchedule has a Kopf daemon (a MilvusSnapshot's
only until it is made: drift checks are handlers/drift.py's); one daemon attempt runs one reconcile step.
Raising Requeue makes Kopf apply the status patch and run the next attempt after the delay, keeping retry state
in memory (no annotation write per poll). Waits for references are interruptible: a watch event on the awaited
object wakes the daemon at once.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import NoReturn, TypeVar

import kopf
from pydantic import BaseModel

from .. import metrics
from ..api import FINALIZER
from ..reconcile.outcome import Outcome, Retry
from .common import mapping
from .kopf_quirks import REQUEUE_MARK
from .state import JsonDict, ResourceState, runtime_of, state_of

CATCH_UP_SECONDS = 2.0
CATCH_UP_LAGGING_SECONDS = 30.0


class Requeue(kopf.TemporaryError):
    """Not a failure: run the step again after `delay` seconds (Kopf applies the patch first)."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"{REQUEUE_MARK}{delay:.1f}s", delay=delay)


Step = Callable[..., Awaitable[None]]
S = TypeVar("S", bound=BaseModel)


def daemon_step(fn: Step) -> Step:
    """What every daemon attempt shares around its step.

    Before it, outside the resource's lock: catch up with our own last status patch (so the step reads what
    the previous one wrote), then finish the interruptible wait the previous attempt asked for. The step
    itself runs under the lock the finalizer takes too, and not at all once the daemon is stopping (the
    resource is being deleted): a deletion never races a Milvus call in flight. After it: re-raise a Requeue
    without the step's frames: Kopf holds an attempt's outcome, traceback included, until the next attempt
    returns, and a Ready resource's next attempt waits for minutes, which would keep that step's locals
    alive. `functools.wraps` keeps the handler id (Kopf follows `__wrapped__`), so stored progress matches.
    """

    @functools.wraps(fn)
    async def daemon(*, memo: kopf.Memo, stopped: kopf.DaemonStopped, body: kopf.Body, **kwargs: object) -> None:
        state = state_of(memo)
        await pending_wait(memo, state, stopped, body)
        async with state.lock:
            if stopped:
                return
            try:
                await fn(memo=memo, stopped=stopped, body=body, **kwargs)
            except Requeue as exc:
                raise exc.with_traceback(None) from None
            except Exception:
                metrics.reconcile_error(str(body.get("kind")))
                raise

    return daemon


def merge_patch(old: object, new: object) -> object:
    """RFC 7386 merge patch turning `old` into `new` (None when they are equal)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return None if old == new else new
    patch: JsonDict = {}
    for name in old.keys() - new.keys():
        patch[name] = None
    for name, value in new.items():
        if name not in old:
            patch[name] = value
        elif old[name] != value:
            patch[name] = merge_patch(old[name], value) if isinstance(value, dict) else value
    return patch or None


def contains(actual: object, expected: object) -> bool:
    """`actual` has every field of `expected` with the same value (extra fields, e.g. defaults, are fine)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    return bool(actual == expected)


async def catch_up(state: ResourceState, body: Mapping[str, object], stopped: kopf.DaemonStopped | bool) -> None:
    """Wait until the live body shows the status the previous attempt wrote.

    Kopf re-invokes a daemon as soon as the previous attempt's patch is sent, often before the watch
    delivers that change; running the next step on the stale status would repeat the previous step's
    Milvus reads and writes (a snapshot re-recording its intent: one status write more each time). Only the
    operator writes status, so "shows what we wrote" is the right test. After CATCH_UP_SECONDS the step runs
    anyway if the body did move on (a newer version without our values: something else changed it); while
    the body has not moved at all, the watch is only late (a loaded API server or operator), and the wait goes
    on up to CATCH_UP_LAGGING_SECONDS: under load, 1,000 new snapshots otherwise cost 12 status writes each.
    """
    expected, state.expected_status = state.expected_status, None
    loop = asyncio.get_running_loop()
    seen = mapping(body.get("metadata")).get("resourceVersion")
    started = loop.time()
    while expected is not None and not contains(dict(mapping(body.get("status"))), expected):
        waited = loop.time() - started
        moved = mapping(body.get("metadata")).get("resourceVersion") != seen
        if stopped or waited > CATCH_UP_LAGGING_SECONDS or (waited > CATCH_UP_SECONDS and moved):
            return
        await asyncio.sleep(0.02)


async def finalizer_in_place(
    body: Mapping[str, object], stopped: kopf.DaemonStopped | bool, finalizer: str = FINALIZER
) -> None:
    """Wait (briefly) until the live body shows Kopf's finalizer, before a step's first write.

    Kopf adds the finalizer with a JSON patch that tests the resourceVersion, at the same moment it starts the
    daemon; a status patch of ours landing first made that test fail, and Kopf retried on the next event (one to
    three extra PATCHes per new object). Waiting for it also means no Milvus call is ever made for an object
    whose deletion would not come back to us.
    """
    deadline = asyncio.get_running_loop().time() + CATCH_UP_SECONDS
    while finalizer not in _strings(mapping(body.get("metadata")).get("finalizers")):
        if stopped or asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.02)


async def pending_wait(
    memo: kopf.Memo, state: ResourceState, stopped: kopf.DaemonStopped, body: Mapping[str, object]
) -> None:
    """Catch up with our own last status patch, then finish the wait the previous attempt asked for."""
    await catch_up(state, body, stopped)
    pending, state.pending_wait = state.pending_wait, None
    if pending:
        subscription, timeout = pending
        await runtime_of(memo).bus.wait(subscription, timeout, stop=stopped.wait())


def wait_next(memo: kopf.Memo, keys: list[str], timeout: float) -> None:
    """Ask the next attempt to wait up to `timeout` for a change of `keys` first; changes from now on
    count, including those that arrive before the next attempt starts waiting."""
    state_of(memo).pending_wait = (runtime_of(memo).bus.subscribe(keys), timeout)


def apply(outcome: Outcome[S], body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo | None = None) -> bool:
    """Status patch and events. True when the status changed."""
    old = dict(mapping(body.get("status")))
    new: JsonDict = outcome.status.model_dump(mode="json", by_alias=True, exclude_none=True)
    diff = merge_patch(old, new)
    if isinstance(diff, dict):
        meta = body.get("metadata") or {}
        metrics.observe_status_change(body.get("kind"), meta.get("namespace"), meta.get("labels") or {}, old, new)
        patch.setdefault("status", {}).update(diff)
    if memo is not None:
        state = state_of(memo)
        state.latest_status = new
        if diff:
            state.expected_status = new
    for event in outcome.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
    return bool(diff)


def settle(
    outcome: Outcome[S],
    *,
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    waits: list[str] | None = None,
    wait_seconds: float | None = None,
) -> None:
    """Apply the outcome, then return (done) or raise Requeue for the next attempt."""
    apply(outcome, body, patch, memo)
    state = state_of(memo)
    if outcome.retry is None:
        state.failures = 0
        return
    runtime = runtime_of(memo)
    state.failures = state.failures + 1 if outcome.retry == Retry.BACKOFF else 0
    if outcome.retry in (Retry.DEPENDENCY, Retry.DRIFT, Retry.SLOW):
        # Interruptible waits: a change of the awaited object (or of the connection and its Secret,
        # e.g. a fixed token) wakes the daemon at once; the timeout is only the fallback.
        keys = [*(waits or []), *([outcome.dependency] if outcome.dependency else [])]
        timeout = runtime.delay(outcome.retry, 0)
        if outcome.retry == Retry.DRIFT and wait_seconds is not None:
            timeout = wait_seconds
        if outcome.within is not None:  # the step knows when it is due again (a grace period ending)
            timeout = max(outcome.within.total_seconds(), 0.0)
        wait_next(memo, keys, timeout)
        raise Requeue(0)
    raise Requeue(runtime.delay(outcome.retry, state.failures))


async def finalizer_wait(memo: kopf.Memo, keys: list[str], seconds: float, *, status_changed: bool = False) -> NoReturn:
    """A finalizer that cannot finish yet: wait for a change of `keys` (at most `seconds`) inside the handler,
    then ask Kopf to call it again at once. Kopf persists a retry of a deletion handler in an annotation, so
    short delays would mean a PATCH (and a log line) every few seconds; this is one per wait. A changed status
    is written first (Kopf applies the patch when the handler returns), so it never waits behind the wait."""
    if status_changed:
        raise Requeue(0.5)
    bus = runtime_of(memo).bus
    await bus.wait(bus.subscribe([k for k in keys if k]), seconds)
    raise Requeue(0.1)


def latest_status(memo: kopf.Memo, body: kopf.Body) -> Mapping[str, object]:
    """The freshest status we know: what this process last wrote, else the body's (after a restart)."""
    return state_of(memo).latest_status or mapping(body.get("status"))


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []
