"""Drift checks of every settled MilvusSnapshot, from one operator-level timer over the snapshots index.

A snapshot's daemon returns once the snapshot is made (reconcile/snapshot.py `settled`), and Kopf spawns none
for a made one (handlers/snapshot.py), so Kopf keeps no task and no body for it (handlers/kopf_quirks.py).
This timer lists each (connection, database, collection) once per interval (one ListSnapshots, whatever the
number of snapshots on it), decides from the index entries alone which snapshots' status would change
(`drift_check`), and only for those reads the object, runs reconcile_snapshot with that listing and patches
what differs, posting the events the daemon would have posted. A change of a connection or of its Secrets (the
wake-up bus) starts a sweep at once. Deletion stays with the finalizer (an on.delete handler).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable

import kopf

from .. import metrics
from ..api.common import rfc3339
from ..api.snapshot import KIND, MilvusSnapshotSpec, MilvusSnapshotStatus, SnapshotPhase
from ..reconcile.entries import ConnectionEntry, SnapshotEntry
from ..reconcile.refs import Blocked, Connected
from ..reconcile.snapshot import DriftCheck, Listing, SnapshotInputs, drift_check, list_snapshots, reconcile_snapshot
from ..reconcile.snapshot import settled as settled_status
from .common import by_name, mapping, now, parse, stop_task
from .engine import merge_patch
from .kopf_quirks import operator_paused
from .resolve import connection_key, resolve_connection, wake_keys
from .runtime import Runtime
from .startup import configure  # noqa: F401 - registered first: Kopf runs startup handlers in that order
from .state import runtime_of

Key = tuple[str, str]
logger = logging.getLogger(__name__)

LIST_CONCURRENCY = 8  # ListSnapshots in flight at once during a sweep
WRITE_CONCURRENCY = 4  # API reads and status patches in flight at once (they share the API server with Kopf)
INDEX_STABLE_SECONDS = 3.0  # the first sweep waits until the index stops growing (the initial listing is in)
WAKE_DEBOUNCE_SECONDS = 1.0  # after a wake-up, let a burst of changes land before sweeping
BATCH = 64  # snapshots whose reads and writes are under way at once (each batch WRITE_CONCURRENCY at a time)


@dataclasses.dataclass
class Sweep:
    snapshots: int = 0
    listings: int = 0
    refreshed: int = 0
    reconciled: int = 0
    changed: int = 0
    seconds: float = 0.0


def is_settled(entry: SnapshotEntry) -> bool:
    """The index's view of reconcile/snapshot.py `settled` (made, recorded where, no step of its own left)."""
    return (
        entry.phase in (SnapshotPhase.READY, SnapshotPhase.MISSING)
        and entry.endpoint is not None
        and entry.snapshot_name is not None
        and not entry.deleting
    )


class DriftChecks:
    def __init__(
        self,
        runtime: Runtime,
        snapshots: kopf.Index[Key, SnapshotEntry],
        connections: kopf.Index[Key, ConnectionEntry],
        settings: kopf.OperatorSettings,
        paused: Callable[[], bool] = operator_paused,
    ) -> None:
        self.runtime, self.snapshots, self.connections, self.settings = runtime, snapshots, connections, settings
        self.paused = paused
        self._writes = asyncio.Semaphore(WRITE_CONCURRENCY)
        # Index entries of objects found gone (Kopf keeps an entry when the object went while its watch was not
        # running, e.g. a replica paused by peering): skipped while the index holds that same entry.
        self._gone: dict[Key, SnapshotEntry] = {}

    async def run(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        interval = self.runtime.config.drift_check_seconds
        await self._index_filled(sleep, limit=interval)
        logged, was_paused = -1, False
        while True:
            wake = self.runtime.bus.subscribe(self._wake_keys())  # changes during the sweep count too
            paused = self.paused()
            if paused != was_paused:
                logger.info("drift sweeps %s", "paused: another replica leads (peering)" if paused else "resumed")
                was_paused = paused
            if paused:
                # Kopf stopped this replica's watches, so its index is frozen: sweeping it would judge from stale
                # entries and write what the replica that leads already writes.
                await self.runtime.bus.wait(wake, interval)
                continue
            try:
                done = await self.sweep()
            except Exception:  # never let one bad sweep end drift checks for good
                logger.exception("drift sweep failed")
                done = Sweep()
            # INFO when the number checked changed (the first sweep after a start, a burst made Ready), else DEBUG.
            log = logger.info if done.snapshots != logged else logger.debug
            logged = done.snapshots
            log(
                "drift sweep: %d snapshots, %d listings, %d refreshed, %d re-checked, %d changed in %.1f s",
                done.snapshots,
                done.listings,
                done.refreshed,
                done.reconciled,
                done.changed,
                done.seconds,
            )
            await self.runtime.bus.wait(wake, interval)
            if wake.is_set():
                await sleep(WAKE_DEBOUNCE_SECONDS)

    async def _index_filled(self, sleep: Callable[[float], Awaitable[None]], limit: float) -> None:
        """Until Kopf's initial listing is in the snapshots index (it has entries and stopped growing), at most
        `limit`: the first sweep after a start then looks at every snapshot once, with one listing per collection."""
        started, last, stable_since = time.monotonic(), -1, time.monotonic()
        while time.monotonic() - started < limit:
            count = sum(len(store) for store in self.snapshots.values())
            if count != last:
                last, stable_since = count, time.monotonic()
            elif count and time.monotonic() - stable_since >= INDEX_STABLE_SECONDS:
                return
            await sleep(0.5)

    def _wake_keys(self) -> list[str]:
        keys: set[str] = set()
        for (namespace, _), store in self.snapshots.items():
            for entry in store:
                if is_settled(entry):
                    found = list(self.connections.get((namespace, entry.connection), ()))
                    if found:
                        keys.update(wake_keys(namespace, entry.connection, found[0].spec))
                    else:
                        keys.add(connection_key(namespace, entry.connection))
        return sorted(keys)

    async def sweep(self) -> Sweep:
        """One drift check of every settled snapshot: one listing per (connection, database, collection)."""
        started = time.monotonic()
        done = Sweep()
        by_connection: dict[Key, list[tuple[str, SnapshotEntry]]] = collections.defaultdict(list)
        for (namespace, name), store in list(self.snapshots.items()):
            for entry in store:
                if is_settled(entry) and self._gone.get((namespace, name)) is not entry:
                    by_connection[(namespace, entry.connection)].append((name, entry))
                    done.snapshots += 1
        self._gone = {k: e for k, e in self._gone.items() if any(e is held for held in self.snapshots.get(k, ()))}
        lists = asyncio.Semaphore(LIST_CONCURRENCY)
        await asyncio.gather(*(self._check(key, items, lists, done) for key, items in by_connection.items()))
        done.seconds = time.monotonic() - started
        return done

    async def _check(
        self, key: Key, items: list[tuple[str, SnapshotEntry]], lists: asyncio.Semaphore, done: Sweep
    ) -> None:
        namespace, connection = key
        try:
            refs = await resolve_connection(self.runtime, namespace, connection, list(self.connections.get(key, ())))
        except Exception:
            logger.exception("drift: cannot resolve MilvusConnection %s/%s", namespace, connection)
            return
        listings: dict[tuple[str, str], Listing] = {}
        if isinstance(refs, Connected):
            wanted = {(e.db_name or refs.db_name, e.collection_name) for _, e in items if e.endpoint == refs.endpoint}

            async def listing(db: str, collection: str) -> None:
                async with lists:
                    listings[(db, collection)] = await list_snapshots(refs.gateway, collection, db)

            await asyncio.gather(*(listing(db, collection) for db, collection in wanted))
            done.listings += len(wanted)
        checked = now()
        refresh: list[tuple[str, SnapshotEntry]] = []
        recheck: list[tuple[str, SnapshotEntry, Listing | None]] = []
        for name, entry in items:
            listed = None
            if isinstance(refs, Connected):
                listed = listings.get((entry.db_name or refs.db_name, entry.collection_name))
            verdict = drift_check(entry, refs, listed, checked)
            if verdict == DriftCheck.REFRESH:
                refresh.append((name, entry))
            elif verdict == DriftCheck.RECONCILE:
                recheck.append((name, entry, listed))
        done.refreshed += len(refresh)
        done.reconciled += len(recheck)
        verified = rfc3339(checked)
        # In batches: an hourly refresh of thousands of snapshots made in the same hour must not become thousands
        # of tasks at once (their writes go WRITE_CONCURRENCY at a time anyway).
        for start in range(0, len(refresh), BATCH):
            due = refresh[start : start + BATCH]
            await asyncio.gather(*(self._refresh(namespace, name, entry, verified) for name, entry in due))
        for start in range(0, len(recheck), BATCH):
            batch = recheck[start : start + BATCH]
            await asyncio.gather(*(self._reconcile(namespace, n, e, refs, listed, done) for n, e, listed in batch))

    async def _refresh(self, namespace: str, name: str, entry: SnapshotEntry, verified: str) -> None:
        async with self._writes:
            with _logged(namespace, name):
                if not await self.runtime.kube.patch_snapshot_status(namespace, name, {"lastVerifiedTime": verified}):
                    self._gone[(namespace, name)] = entry

    async def _reconcile(
        self,
        namespace: str,
        name: str,
        entry: SnapshotEntry,
        refs: Connected | Blocked,
        listed: Listing | None,
        done: Sweep,
    ) -> None:
        """What the snapshot's daemon would do on its next drift check, with the listing made for all."""
        async with self._writes:
            with _logged(namespace, name):
                body = await self.runtime.kube.get_snapshot(namespace, name)
                if body is None:
                    self._gone[(namespace, name)] = entry
                    return
                meta = mapping(body.get("metadata"))
                if meta.get("deletionTimestamp"):
                    return  # the finalizer's now
                old = dict(mapping(body.get("status")))
                current = parse(MilvusSnapshotStatus, old)
                if not settled_status(current):
                    return  # its daemon still has work (a restart will run it)
                generation = meta.get("generation")
                outcome = await reconcile_snapshot(
                    SnapshotInputs(
                        name=name,
                        uid=str(meta.get("uid") or ""),
                        generation=generation if isinstance(generation, int) else None,
                        spec=parse(MilvusSnapshotSpec, mapping(body.get("spec"))),
                        status=current,
                        now=now(),
                        refs=refs,
                        listed=listed,
                    )
                )
                new = outcome.status.model_dump(mode="json", by_alias=True, exclude_none=True)
                diff = merge_patch(old, new)
                if isinstance(diff, dict):
                    # Only onto the version read: a deletion that began since then (the finalizer's Deleting) wins.
                    version = meta.get("resourceVersion")
                    if not await self.runtime.kube.patch_snapshot_status(
                        namespace, name, diff, str(version) if version else None
                    ):
                        return
                    labels = {str(k): str(v) for k, v in mapping(meta.get("labels")).items()}
                    metrics.observe_status_change(KIND, namespace, labels, old, new)
                    done.changed += 1
                involved = {
                    "apiVersion": body.get("apiVersion"),
                    "kind": body.get("kind"),
                    "name": name,
                    "uid": meta.get("uid"),
                    "namespace": namespace,
                }
                posting = self.settings.posting
                for event in outcome.events:
                    await self.runtime.kube.post_event(
                        involved,
                        event.type,
                        event.reason,
                        event.message,
                        posting.reporting_component,
                        posting.reporting_instance,
                    )


@contextlib.contextmanager
def _logged(namespace: str, name: str) -> collections.abc.Iterator[None]:
    """One snapshot's failed read or write is logged and left for the next sweep; the others go on."""
    try:
        yield
    except Exception as exc:
        logger.warning("drift check of MilvusSnapshot %s/%s failed: %s: %s", namespace, name, type(exc).__name__, exc)


@kopf.on.startup()
@by_name
async def start_drift_checks(
    memo: kopf.Memo,
    settings: kopf.OperatorSettings,
    snapshots: kopf.Index[Key, SnapshotEntry],
    connections: kopf.Index[Key, ConnectionEntry],
    **_: object,
) -> None:
    checks = DriftChecks(runtime_of(memo), snapshots, connections, settings)
    memo["drift_checks"] = asyncio.create_task(checks.run(), name="drift checks")


@kopf.on.cleanup()
async def stop_drift_checks(memo: kopf.Memo, **_: object) -> None:
    await stop_task(memo, "drift_checks")
