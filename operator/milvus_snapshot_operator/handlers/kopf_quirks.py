"""Where the operator depends on Kopf's internals rather than its API, in one place, tested against the pinned
Kopf (tests/unit/test_kopf_quirks.py): the text of Kopf's log lines, the diff-base storage hook, the body
Kopf keeps for daemons that have exited, how its workers wait for the indexes at startup, and whether peering
has paused this replica."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Collection

import kopf
from kopf._cogs.aiokits import aiotoggles
from kopf._core.engines import daemons as daemons_engine
from kopf._core.intents import causes, registries
from kopf._core.intents import handlers as kopf_handlers
from kopf._core.reactor import inventory, processing

# Requeue (handlers/engine.py) is a kopf.TemporaryError whose message starts with this.
REQUEUE_MARK = "requeue in "


class QuietRequeues(logging.Filter):
    """Kopf logs every TemporaryError at ERROR ("Handler ... failed temporarily: <message>") and every timer
    success at INFO; a Requeue is routine, so both go to DEBUG. Matched on Kopf 1.45's wording."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if f"failed temporarily: {REQUEUE_MARK}" in message or (
            record.levelno == logging.INFO and message.endswith(" succeeded.") and "Timer" in message
        ):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


class NoDiffBase(kopf.DiffBaseStorage):
    """Keep no last-handled configuration: nothing here reacts to spec diffs.

    Kopf stores the diff base only for on.create/on.update handlers; ours are daemons and on.delete, which
    Kopf selects by deletionTimestamp, not by diff. Storing it cost one PATCH per new object (a fifth of the
    API writes of a snapshot's lifecycle) plus a deep copy of every body on every event.
    """

    def build(self, *, body: kopf.Body, extra_fields: object = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def quiet_kopf() -> None:
    for name in ("kopf", "kopf.objects"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, QuietRequeues) for f in logger.filters):
            logger.addFilter(QuietRequeues())


class _Pause:
    """Kopf's pause toggles of this process, as last handed to `process_spawning_cause` (see operator_paused)."""

    toggles: aiotoggles.ToggleSet | None = None


_pause = _Pause()


def release_bodies_of_finished_daemons() -> None:
    """Kopf keeps each object's latest body for its daemons (`daemons_memory.live_fresh_body`), for every object
    of a kind that has daemons, even one none of whose daemons runs: it drops it when the object's daemons have
    all exited for good, but puts it back on the object's next watch event, and keeps it until the operator
    stops. A settled MilvusSnapshot runs no daemon (handlers/snapshot.py), so without this every snapshot would
    keep a full copy of its body (about 12 KB of Python objects) for nothing. A daemon spawned later gets the
    body of the event that spawns it, as always. Also when the last daemon exits: Kopf drops the body then only
    if it exited on its own, not when Kopf stopped it because its `when` filter stopped matching (a snapshot's
    Ready status can arrive while its daemon is returning), and no later event may come to drop it. Idempotent;
    wraps `processing.process_spawning_cause` and `daemons._runner`, which Kopf looks up per call."""
    original = processing.process_spawning_cause
    if getattr(original, "releases_bodies", False):
        return
    original_runner = daemons_engine._runner

    @functools.wraps(original_runner)
    async def _runner(
        *,
        settings: kopf.OperatorSettings,
        daemons: dict[kopf.HandlerId, daemons_engine.Daemon],
        handler: kopf_handlers.SpawningHandler,
        memory: daemons_engine.DaemonsMemory,
        cause: causes.DaemonCause,
    ) -> None:
        try:
            await original_runner(settings=settings, daemons=daemons, handler=handler, memory=memory, cause=cause)
        finally:
            if not daemons:  # the object's running daemons (Kopf passes memory.running_daemons)
                memory.live_fresh_body = None

    @functools.wraps(original)
    async def process_spawning_cause(
        registry: registries.OperatorRegistry,
        settings: kopf.OperatorSettings,
        memory: inventory.ResourceMemory,
        cause: causes.SpawningCause,
        operator_paused: aiotoggles.ToggleSet | None,
    ) -> Collection[float]:
        if operator_paused is not None:
            _pause.toggles = operator_paused
        delays = await original(
            registry=registry, settings=settings, memory=memory, cause=cause, operator_paused=operator_paused
        )
        daemons = memory.daemons_memory
        if not daemons.running_daemons:
            daemons.live_fresh_body = None  # nobody reads it: no daemon of this object runs
        return delays

    process_spawning_cause.releases_bodies = True  # type: ignore[attr-defined]
    processing.process_spawning_cause = process_spawning_cause
    daemons_engine._runner = _runner


def operator_paused() -> bool:
    """Whether Kopf has paused this replica (peering: another replica has a higher priority). Kopf then stops the
    watches and daemons, but not the operator's own tasks nor its indexes, which keep what they last saw: the
    drift timer (handlers/drift.py) asks this before each sweep. Kopf does not expose the state; its pause
    toggles reach `process_spawning_cause` with every event of a kind that has daemons, where
    `release_bodies_of_finished_daemons` keeps them. False until a first event (a replica that never ran has
    empty indexes, so nothing to sweep)."""
    return _pause.toggles is not None and _pause.toggles.is_on()


INDEXED_POLL_SECONDS = 0.25


def wait_for_indexes_without_a_herd() -> None:
    """At startup every object's worker waits until all objects are indexed (`operator_indexed`, a ToggleSet of
    `all`), on one asyncio.Condition that Kopf notifies each time it adds or drops an object's toggle: with N
    objects that wakes N waiters N times, each taking the condition's lock in turn. With 10,000 MilvusSnapshots
    no object was handled a minute after a restart. Waiters of that set poll it instead (`all` stops at the first
    object not yet indexed, so a check is cheap), at most INDEXED_POLL_SECONDS apart; the pause toggles (`any`,
    peering) keep Kopf's own wait. Idempotent."""
    original = aiotoggles.ToggleSet.wait_for
    if getattr(original, "polls_indexes", False):
        return

    @functools.wraps(original)
    async def wait_for(self: aiotoggles.ToggleSet, state: bool, /) -> None:
        if self._fn is not all:
            await original(self, state)
            return
        delay = 0.005
        while self.is_on() != bool(state):
            await asyncio.sleep(delay)
            delay = min(delay * 2, INDEXED_POLL_SECONDS)

    wait_for.polls_indexes = True  # type: ignore[attr-defined]
    setattr(aiotoggles.ToggleSet, "wait_for", wait_for)  # noqa: B010 - a method of Kopf's class, replaced
