"""Status merge patches and restore-job coalescing."""

from __future__ import annotations

import asyncio
import types
from typing import Any

import kopf
import pytest
from kopf._cogs.aiokits.aioenums import AsyncFlagWaiter, FlagSetter

from milvus_snapshot_operator.handlers import engine
from milvus_snapshot_operator.handlers.bus import WakeupBus
from milvus_snapshot_operator.handlers.engine import contains, merge_patch
from milvus_snapshot_operator.handlers.kube import KubeReader
from milvus_snapshot_operator.handlers.state import ResourceState, state_of
from milvus_snapshot_operator.milvus.jobcache import RestoreJobCache

from .fakes import FakeMilvus


def test_merge_patch_minimal_and_removes_fields() -> None:
    old = {"phase": "Creating", "intent": {"operation": "CreateSnapshot", "time": "t"}, "error": {"code": 2, "m": "x"}}
    new = {"phase": "Ready", "error": {"m": "x"}}
    assert merge_patch(old, new) == {"phase": "Ready", "intent": None, "error": {"code": None}}
    assert merge_patch(new, new) is None
    assert merge_patch({"conditions": [1, 2]}, {"conditions": [2]}) == {"conditions": [2]}


async def test_one_list_per_connection_and_database_per_interval() -> None:
    milvus = FakeMilvus(collections={("default", "books"): 1})
    await milvus.create_snapshot("s", "books", "default", "", 0)
    job_ids = [await milvus.restore_snapshot("s", "books", "default", f"t{i}", "default") for i in range(100)]
    cache = RestoreJobCache(interval_seconds=60)
    found = await asyncio.gather(*(cache.lookup("conn", milvus, "default", j) for j in job_ids))
    assert all(job is not None for job in found)
    assert milvus.calls["list_restore_jobs"] == 1 and milvus.calls["restore_state"] == 0
    await cache.lookup("conn", milvus, "other_db", job_ids[0])  # another database: its own list
    assert milvus.calls["list_restore_jobs"] == 2


def test_contains_ignores_extra_fields_but_not_different_values() -> None:
    assert contains({"phase": "Ready", "extra": 1, "a": {"b": 1, "c": 2}}, {"phase": "Ready", "a": {"b": 1}})
    assert not contains({"phase": "Creating"}, {"phase": "Ready"})
    assert not contains({}, {"intent": {"time": "t"}})


async def test_catch_up_waits_for_the_live_body_to_show_our_patch() -> None:
    state = ResourceState(expected_status={"phase": "Creating", "intent": {"time": "t"}})
    body: dict[str, Any] = {"status": {}}

    async def watch_delivers() -> None:
        await asyncio.sleep(0.1)
        body["status"] = {"phase": "Creating", "intent": {"time": "t"}, "observedGeneration": 1}

    delivery = asyncio.create_task(watch_delivers())
    await engine.catch_up(state, body, stopped=False)
    assert body["status"]["phase"] == "Creating" and state.expected_status is None
    await delivery


async def test_catch_up_gives_up_after_its_deadline(monkeypatch: Any) -> None:
    monkeypatch.setattr(engine, "CATCH_UP_SECONDS", 0.05)
    monkeypatch.setattr(engine, "CATCH_UP_LAGGING_SECONDS", 0.2)
    state = ResourceState(expected_status={"phase": "Ready"})
    await engine.catch_up(state, {"status": {"phase": "Creating"}}, stopped=False)  # returns, does not hang
    assert state.expected_status is None


async def test_catch_up_waits_longer_only_while_the_watch_is_late(monkeypatch: Any) -> None:
    """A body that moved on without our values is a real difference (go on after the short wait); a body that
    has not moved at all is a late watch (keep waiting, up to the long deadline)."""
    monkeypatch.setattr(engine, "CATCH_UP_SECONDS", 0.05)
    monkeypatch.setattr(engine, "CATCH_UP_LAGGING_SECONDS", 3600.0)  # a wait that ignored "moved" would hang
    moved: dict[str, Any] = {"metadata": {"resourceVersion": "1"}, "status": {"phase": "Creating"}}

    async def someone_else_writes() -> None:
        await asyncio.sleep(0.01)
        moved["metadata"] = {"resourceVersion": "2"}

    writer = asyncio.create_task(someone_else_writes())
    await asyncio.wait_for(engine.catch_up(ResourceState(expected_status={"phase": "Ready"}), moved, False), 60)
    await writer
    late: dict[str, Any] = {"metadata": {"resourceVersion": "7"}, "status": {"phase": "Creating"}}

    async def watch_delivers_late() -> None:
        await asyncio.sleep(0.3)  # well past CATCH_UP_SECONDS
        late["metadata"] = {"resourceVersion": "8"}
        late["status"] = {"phase": "Ready"}

    delivery = asyncio.create_task(watch_delivers_late())
    await engine.catch_up(ResourceState(expected_status={"phase": "Ready"}), late, stopped=False)
    assert late["status"]["phase"] == "Ready"  # it waited for the watch instead of acting on the stale body
    await delivery


class _Core:
    def __init__(self) -> None:
        self.reads = 0

    def read_namespaced_secret(self, name: str, namespace: str) -> Any:
        self.reads += 1
        return types.SimpleNamespace(data={"token": "cm9vdDpNaWx2dXM="})


def reader() -> tuple[KubeReader, _Core]:
    kube = KubeReader.__new__(KubeReader)
    core = _Core()
    kube._core, kube._secrets, kube._versions = core, {}, {}  # type: ignore[assignment]
    return kube, core


async def test_watched_secret_reads_are_cached_until_the_watch_reports_a_change() -> None:
    kube, core = reader()
    kube.watching("ns", "creds", True)
    assert await kube.secret_data("ns", "creds") == {"token": b"root:Milvus"}
    assert await kube.secret_data("ns", "creds") == {"token": b"root:Milvus"}
    assert core.reads == 1
    kube.forget_secret("ns", "creds")
    await kube.secret_data("ns", "creds")
    assert core.reads == 2


async def test_unwatched_secrets_are_never_cached_and_leave_nothing_behind() -> None:
    """The old cache kept a version for every Secret the watch ever saw, referenced or not."""
    kube, core = reader()
    for i in range(100):
        kube.forget_secret("other", f"s{i}")  # what a cluster-wide Secret watch used to do
        await kube.secret_data("ns", "creds")
    assert core.reads == 100 and kube._secrets == {} and kube._versions == {}
    kube.watching("ns", "creds", True)
    await kube.secret_data("ns", "creds")
    kube.watching("ns", "creds", False)  # no connection references it any more
    assert kube._secrets == {} and kube._versions == {}


def memo() -> kopf.Memo:
    runtime = types.SimpleNamespace(bus=WakeupBus())
    found = kopf.Memo()
    found["runtime"] = runtime
    return found


def stopped(value: bool) -> kopf.DaemonStopped:
    setter: FlagSetter[Any] = FlagSetter()
    if value:
        setter.set()
    return AsyncFlagWaiter(setter)


async def test_daemon_step_drops_the_frames_of_the_step_but_keeps_the_handler_id() -> None:
    from kopf._core.intents.registries import get_callable_id

    async def snapshot_daemon(**kwargs: Any) -> None:
        big_local = ["x" * 100_000]  # noqa: F841 - what the traceback must not keep alive
        raise engine.Requeue(1.5)

    step = engine.daemon_step(snapshot_daemon)
    assert get_callable_id(step) == get_callable_id(snapshot_daemon)
    with pytest.raises(engine.Requeue) as raised:
        await step(body={}, patch={}, memo=memo(), stopped=stopped(False))
    assert raised.value.delay == 1.5
    tb, names = raised.value.__traceback__, []
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert "snapshot_daemon" not in names


async def test_daemon_step_skips_the_step_of_a_stopping_daemon() -> None:
    calls: list[str] = []

    async def snapshot_daemon(**kwargs: Any) -> None:
        calls.append("step")

    step = engine.daemon_step(snapshot_daemon)
    await step(body={}, patch={}, memo=memo(), stopped=stopped(True))
    assert calls == []
    await step(body={}, patch={}, memo=memo(), stopped=stopped(False))
    assert calls == ["step"]


async def test_the_finalizer_waits_for_a_step_in_flight() -> None:
    """Deleted while the create call is in flight: the finalizer runs after the step, never beside it, so it
    sees what the step did (and drops it) instead of finding nothing and leaving an orphan."""
    shared = memo()
    order: list[str] = []
    in_call = asyncio.Event()

    async def snapshot_daemon(**kwargs: Any) -> None:
        in_call.set()
        await asyncio.sleep(0.2)  # the create call
        order.append("create landed")

    async def finalizer() -> None:
        await in_call.wait()
        async with state_of(shared).lock:
            order.append("finalizer")

    await asyncio.gather(engine.daemon_step(snapshot_daemon)(body={}, memo=shared, stopped=stopped(False)), finalizer())
    assert order == ["create landed", "finalizer"]


async def test_a_change_before_the_wait_starts_still_wakes_it() -> None:
    """The lost wakeup: a trigger annotation that lands while the next attempt catches up with its own
    status patch must not leave the schedule asleep until its next tick."""
    from milvus_snapshot_operator.handlers.bus import WakeupBus, key

    bus = WakeupBus()
    subscription = bus.subscribe([key("MilvusSnapshotSchedule", "ns", "nightly")])
    bus.notify(key("MilvusSnapshotSchedule", "ns", "nightly"))  # before anyone waits
    bus.notify(key("MilvusSnapshotSchedule", "ns", "other"))
    await asyncio.wait_for(bus.wait(subscription, 3600), timeout=10)
    assert subscription.is_set()
    assert bus._waiters == {}  # unsubscribed once waited


async def test_a_subscription_nobody_waits_for_goes_with_its_daemon() -> None:
    import gc

    from milvus_snapshot_operator.handlers.bus import WakeupBus

    bus = WakeupBus()
    kept = bus.subscribe(["Secret/ns/creds"])
    bus.subscribe(["Secret/ns/creds", "MilvusConnection/ns/milvus"])  # its memo is gone (resource deleted)
    gc.collect()
    bus.notify("MilvusConnection/ns/milvus")
    assert list(bus._waiters) == ["Secret/ns/creds"]
    assert list(bus._waiters["Secret/ns/creds"]) == [kept]


async def test_the_first_write_waits_for_kopfs_finalizer(monkeypatch: Any) -> None:
    body: dict[str, Any] = {"metadata": {"name": "s"}}

    async def kopf_adds_it() -> None:
        await asyncio.sleep(0.1)
        body["metadata"]["finalizers"] = ["other.io/x", "snapshot.milvus.io/finalizer"]

    adding = asyncio.create_task(kopf_adds_it())
    await engine.finalizer_in_place(body, stopped=False)
    assert "snapshot.milvus.io/finalizer" in body["metadata"]["finalizers"]
    await adding
    monkeypatch.setattr(engine, "CATCH_UP_SECONDS", 3600.0)
    await asyncio.wait_for(engine.finalizer_in_place({"metadata": {}}, stopped=True), 60)  # stopping: no wait
