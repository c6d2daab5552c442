"""Where the operator leans on Kopf's internals (handlers/kopf_quirks.py), checked against the pinned Kopf:
a Kopf upgrade that changes them fails here, not silently in production logs."""

from __future__ import annotations

import inspect
import logging
import types
from typing import Any

import kopf
from kopf._core.actions import execution

from milvus_snapshot_operator.handlers import engine
from milvus_snapshot_operator.handlers.kopf_quirks import REQUEUE_MARK, NoDiffBase, QuietRequeues


def record(level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord("kopf.objects", level, __file__, 1, message, None, None)


def test_kopf_still_logs_temporary_errors_with_the_words_we_match() -> None:
    source = inspect.getsource(execution)
    assert "failed temporarily: {str(e) or repr(e)}" in source
    message = f"Handler 'snapshot_daemon' failed temporarily: {engine.Requeue(1.5)}"
    assert str(engine.Requeue(1.5)).startswith(REQUEUE_MARK)
    quieted = record(logging.ERROR, message)
    assert QuietRequeues().filter(quieted) and quieted.levelno == logging.DEBUG
    real = record(logging.ERROR, "Handler 'snapshot_daemon' failed temporarily: connection refused")
    assert QuietRequeues().filter(real) and real.levelno == logging.ERROR  # a real failure stays loud


def test_no_diff_base_fits_kopfs_storage_interface() -> None:
    storage = NoDiffBase()
    assert isinstance(storage, kopf.DiffBaseStorage)
    body = kopf.Body({"metadata": {"name": "x"}, "spec": {"a": 1}})
    assert storage.build(body=body) == {} and storage.fetch(body=body) is None
    abstract = getattr(kopf.DiffBaseStorage, "__abstractmethods__", frozenset())
    assert abstract <= {"build", "fetch", "store"}, abstract


async def test_the_body_of_an_object_whose_daemons_all_exited_is_not_kept() -> None:
    """Kopf (the pinned version) re-attaches the body on the next event; with the quirk it is dropped again,
    while an object with a running daemon keeps it."""
    from kopf._core.engines import daemons, indexing
    from kopf._core.intents import causes, registries
    from kopf._core.reactor import inventory, processing

    from milvus_snapshot_operator.handlers.kopf_quirks import release_bodies_of_finished_daemons

    original, original_runner = processing.process_spawning_cause, daemons._runner
    release_bodies_of_finished_daemons()
    release_bodies_of_finished_daemons()  # idempotent: wrapped once
    try:
        assert daemons._runner.__wrapped__ is original_runner  # type: ignore[attr-defined]
        wrapped = processing.process_spawning_cause
        assert getattr(wrapped, "releases_bodies", False) and wrapped.__wrapped__ is original  # type: ignore[attr-defined]
        registry = registries.OperatorRegistry()
        settings = kopf.OperatorSettings()
        resource = kopf.Resource("snapshot.milvus.io", "v1alpha1", "milvussnapshots")
        body = kopf.Body({"metadata": {"name": "s", "namespace": "ns", "uid": "u"}, "spec": {}})
        cause = causes.SpawningCause(
            resource=resource, indices=indexing.OperatorIndexers().indices, logger=logging.getLogger("t"), patch=kopf.Patch(),
            body=body, memo=kopf.Memo(), reset=False,
        )  # fmt: skip
        memory = inventory.ResourceMemory()
        memory.daemons_memory.forever_stopped.add(kopf.HandlerId("snapshot_daemon"))
        await processing.process_spawning_cause(
            registry=registry, settings=settings, memory=memory, cause=cause, operator_paused=None
        )
        assert memory.daemons_memory.live_fresh_body is None
        assert daemons.DaemonsMemory().live_fresh_body is None  # the field the quirk clears still exists
    finally:
        processing.process_spawning_cause, daemons._runner = original, original_runner


async def test_an_object_with_a_running_daemon_keeps_its_body(monkeypatch: Any) -> None:
    from kopf._core.reactor import inventory, processing

    from milvus_snapshot_operator.handlers.kopf_quirks import release_bodies_of_finished_daemons

    body = kopf.Body({"metadata": {"name": "s"}})

    async def kopfs(*, memory: inventory.ResourceMemory, **_: object) -> list[float]:
        memory.daemons_memory.live_fresh_body = body  # what Kopf does on every event
        return []

    monkeypatch.setattr(processing, "process_spawning_cause", kopfs)
    release_bodies_of_finished_daemons()
    running = inventory.ResourceMemory()
    running.daemons_memory.running_daemons[kopf.HandlerId("x")] = object()  # type: ignore[assignment]
    running.daemons_memory.forever_stopped.add(kopf.HandlerId("y"))
    await processing.process_spawning_cause(
        registry=None, settings=None, memory=running, cause=None, operator_paused=None
    )
    assert running.daemons_memory.live_fresh_body is body
    never = inventory.ResourceMemory()  # no daemon matched (a settled snapshot after a restart): released too
    await processing.process_spawning_cause(
        registry=None, settings=None, memory=never, cause=None, operator_paused=None
    )
    assert never.daemons_memory.live_fresh_body is None


async def test_workers_wait_for_the_indexes_by_polling_and_pauses_keep_kopfs_wait() -> None:
    import asyncio

    from kopf._cogs.aiokits import aiotoggles
    from kopf._core.reactor import orchestration

    from milvus_snapshot_operator.handlers.kopf_quirks import wait_for_indexes_without_a_herd

    assert "operator_indexed=aiotoggles.ToggleSet(all)" in inspect.getsource(orchestration)
    original = aiotoggles.ToggleSet.wait_for
    wait_for_indexes_without_a_herd()
    wait_for_indexes_without_a_herd()
    try:
        indexed = aiotoggles.ToggleSet(all)
        toggles = [await indexed.make_toggle(name=str(i)) for i in range(500)]
        waiters = [asyncio.create_task(indexed.wait_for(True)) for _ in range(500)]
        await asyncio.sleep(0.05)
        assert not any(w.done() for w in waiters)
        await indexed.drop_toggles(toggles)  # every object indexed
        await asyncio.wait_for(asyncio.gather(*waiters), 5)
        paused = aiotoggles.ToggleSet(any)  # peering pauses: Kopf's own condition wait, woken at once
        toggle = await paused.make_toggle(name="peer")
        waiting = asyncio.create_task(paused.wait_for(True))
        await asyncio.sleep(0.01)
        await toggle.turn_to(True)
        await asyncio.wait_for(waiting, 1)
    finally:
        aiotoggles.ToggleSet.wait_for = original  # type: ignore[method-assign]


async def test_the_body_goes_when_the_last_daemon_exits_however_it_was_stopped(monkeypatch: Any) -> None:
    """Kopf drops it only for a daemon that exited on its own; one stopped by a filter mismatch keeps it."""
    from kopf._core.engines import daemons
    from kopf._core.reactor import processing

    from milvus_snapshot_operator.handlers.kopf_quirks import release_bodies_of_finished_daemons

    async def kopfs_runner(*, daemons: dict[str, object], handler: Any, memory: Any, **_: object) -> None:
        del daemons[handler.id]  # what Kopf's runner does last, whatever stopped the daemon

    monkeypatch.setattr(processing, "process_spawning_cause", processing.process_spawning_cause)  # restored after
    monkeypatch.setattr(daemons, "_runner", kopfs_runner)
    release_bodies_of_finished_daemons()
    memory = daemons.DaemonsMemory(live_fresh_body=kopf.Body({"metadata": {"name": "s"}}))
    running: dict[str, object] = {"a": object(), "b": object()}
    handler = types.SimpleNamespace(id="a")
    await daemons._runner(settings=None, daemons=running, handler=handler, memory=memory, cause=None)
    assert memory.live_fresh_body is not None  # daemon "b" still runs and reads it
    await daemons._runner(
        settings=None, daemons=running, handler=types.SimpleNamespace(id="b"), memory=memory, cause=None
    )
    assert memory.live_fresh_body is None


async def test_the_pause_of_peering_is_read_from_the_toggles_kopf_hands_each_event(monkeypatch: Any) -> None:
    """handlers/drift.py asks `operator_paused()` before each sweep; Kopf exposes its pause only to its own
    machinery, which passes the same toggles to the daemon killer and to every spawning cause (pinned here)."""
    from kopf._cogs.aiokits import aiotoggles
    from kopf._core.reactor import inventory, processing, running

    from milvus_snapshot_operator.handlers import kopf_quirks

    assert "operator_paused = aiotoggles.ToggleSet(any)" in inspect.getsource(running)
    assert "operator_paused=operator_paused)))" in inspect.getsource(running)  # the daemon killer gets them
    assert "operator_paused=operator_paused,\n        )" in inspect.getsource(processing.process_resource_causes)

    async def kopfs(**_: object) -> list[float]:
        return []

    monkeypatch.setattr(processing, "process_spawning_cause", kopfs)
    monkeypatch.setattr(kopf_quirks, "_pause", kopf_quirks._Pause())
    kopf_quirks.release_bodies_of_finished_daemons()
    assert not kopf_quirks.operator_paused()  # no event yet: nothing indexed, nothing to sweep either
    paused = aiotoggles.ToggleSet(any)
    peering = await paused.make_toggle(name="peering: another replica leads")
    memory = inventory.ResourceMemory()
    await processing.process_spawning_cause(
        registry=None, settings=None, memory=memory, cause=None, operator_paused=paused
    )
    assert not kopf_quirks.operator_paused()
    await peering.turn_to(True)
    assert kopf_quirks.operator_paused()
    await peering.turn_to(False)
    assert not kopf_quirks.operator_paused()
