"""An in-memory MilvusGateway with Milvus's snapshot semantics, call counters and crash injection.

Only for unit tests of the pure state machines; the real gateway is tested against the Milvus test
server (tests/integration) and the whole operator against the real control plane (tests/e2e).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter

from milvus_snapshot_operator.milvus.gateway import (
    ErrorKind,
    IndexInfo,
    LoadState,
    MilvusError,
    RestoreJob,
    SnapshotInfo,
    VectorField,
)

SIDE_EFFECTS = {"flush", "create_snapshot", "drop_snapshot", "restore_snapshot"}


class Crash(BaseException):
    """The operator process dies right after a Milvus call took effect (not an Exception: nothing catches it)."""


@dataclasses.dataclass
class FakeMilvus:
    collections: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)  # (db, name) -> rows
    snapshots: dict[tuple[str, str, str], SnapshotInfo] = dataclasses.field(default_factory=dict)
    jobs: dict[int, RestoreJob] = dataclasses.field(default_factory=dict)
    pins: Counter[tuple[str, str, str]] = dataclasses.field(default_factory=Counter)
    calls: Counter[str] = dataclasses.field(default_factory=Counter)
    errors: dict[str, list[MilvusError]] = dataclasses.field(default_factory=dict)
    crash_after: int | None = None  # crash after this many side-effecting calls
    side_effects: int = 0
    clock_ms: int = 1_795_608_000_000  # 2026-11-25T12:00:00Z, the unit tests' NOW: restore jobs start then
    lost_replies: Counter[str] = dataclasses.field(default_factory=Counter)  # method -> calls whose reply is lost
    on_call: dict[str, list[object]] = dataclasses.field(default_factory=dict)  # method -> hooks run on entry
    _ids: itertools.count[int] = dataclasses.field(default_factory=lambda: itertools.count(1000))
    # Serving: load states, indexes per collection, aliases ((db, alias) -> collection), searchable or not.
    loads: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)  # (db, name) -> LoadState name
    load_steps: int = 0  # how many load_state polls a load spends Loading before it is Loaded
    _loading: Counter[tuple[str, str]] = dataclasses.field(default_factory=Counter)
    index_names: dict[tuple[str, str], list[str]] = dataclasses.field(default_factory=dict)
    aliases: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    empty_search: set[tuple[str, str]] = dataclasses.field(default_factory=set)

    def fail(self, method: str, *errors: MilvusError) -> None:
        self.errors.setdefault(method, []).extend(errors)

    def lose_reply(self, method: str, times: int = 1) -> None:
        """The next `times` calls take effect, but the caller sees UNAVAILABLE (the reply was lost)."""
        self.lost_replies[method] += times

    def before(self, method: str, hook: object) -> None:
        """Run `hook()` (e.g. someone else's create) when `method` is next called, before it acts."""
        self.on_call.setdefault(method, []).append(hook)

    def _enter(self, method: str) -> None:
        self.calls[method] += 1
        hooks = self.on_call.pop(method, [])
        for hook in hooks:
            hook()  # type: ignore[operator]
        queued = self.errors.get(method)
        if queued:
            raise queued.pop(0)

    def _effect(self, method: str = "") -> None:
        self.side_effects += 1
        if self.crash_after is not None and self.side_effects >= self.crash_after:
            self.crash_after = None
            raise Crash()
        if self.lost_replies[method] > 0:
            self.lost_replies[method] -= 1
            raise MilvusError(ErrorKind.UNAVAILABLE, f"{method}: reply lost (UNAVAILABLE)")

    def put_snapshot(self, name: str, collection: str, db: str = "default", description: str = "", ts: int = 1) -> None:
        """A snapshot someone else made (not through the gateway: no call counted)."""
        self.snapshots[(db, collection, name)] = SnapshotInfo(
            name, description, collection, ("_default",), (1_700_000_000_000 + ts) << 18, f"snapshots/9/{name}.json"
        )

    def _collection(self, collection: str, db: str) -> None:
        if (db, collection) not in self.collections:
            raise MilvusError(
                ErrorKind.COLLECTION_NOT_FOUND, f"collection not found[database={db}][collection={collection}]", 100
            )

    # --- MilvusGateway -------------------------------------------------------------------------------
    async def server_version(self) -> str:
        self._enter("server_version")
        return "v3.0.2"

    async def check_snapshot_support(self) -> None:
        self._enter("check_snapshot_support")

    async def flush(self, collection: str, db: str) -> None:
        self._enter("flush")
        self._collection(collection, db)
        self._effect("flush")

    async def collection_exists(self, collection: str, db: str) -> bool:
        self._enter("collection_exists")
        return (db, collection) in self.collections

    async def list_collections(self, db: str) -> list[str]:
        self._enter("list_collections")
        return sorted(name for (d, name) in self.collections if d == db)

    async def row_count(self, collection: str, db: str) -> int:
        self._enter("row_count")
        self._collection(collection, db)
        return self.collections[(db, collection)]

    async def create_snapshot(
        self, name: str, collection: str, db: str, description: str, compaction_protection_seconds: int
    ) -> None:
        self._enter("create_snapshot")
        self._collection(collection, db)
        if (db, collection, name) in self.snapshots:
            raise MilvusError(ErrorKind.ALREADY_EXISTS, f"snapshot name {name} already exists: invalid parameter", 1100)
        self.snapshots[(db, collection, name)] = SnapshotInfo(
            name, description, collection, ("_default",), 1_700_000_000_000 << 18, f"snapshots/1/metadata/{name}.json"
        )
        self._effect("create_snapshot")

    async def describe_snapshot(self, name: str, collection: str, db: str) -> SnapshotInfo | None:
        self._enter("describe_snapshot")
        self._collection(collection, db)
        return self.snapshots.get((db, collection, name))

    async def list_snapshots(self, collection: str, db: str) -> list[str]:
        self._enter("list_snapshots")
        self._collection(collection, db)
        return [n for (d, c, n) in self.snapshots if (d, c) == (db, collection)]

    async def drop_snapshot(self, name: str, collection: str, db: str) -> None:
        self._enter("drop_snapshot")
        self._collection(collection, db)
        if self.pins[(db, collection, name)]:
            raise MilvusError(ErrorKind.PINNED, f"snapshot {name}: 1 active pins, unpin before dropping", 65535)
        self.snapshots.pop((db, collection, name), None)
        self._effect("drop_snapshot")

    async def restore_snapshot(
        self, name: str, source_collection: str, source_db: str, target_collection: str, target_db: str
    ) -> int:
        self._enter("restore_snapshot")
        job_id = self.start_restore(name, source_collection, source_db, target_collection, target_db)
        self._effect("restore_snapshot")
        return job_id

    def start_restore(
        self, name: str, source_collection: str, source_db: str, target_collection: str, target_db: str
    ) -> int:
        """What RestoreSnapshot does in Milvus (also usable as someone else's call, or a re-sent one)."""
        self._collection(source_collection, source_db)
        if (source_db, source_collection, name) not in self.snapshots:
            raise MilvusError(ErrorKind.NOT_FOUND, f"snapshot not found[snapshot={name}]", 65535)
        if (target_db, target_collection) in self.collections:
            raise MilvusError(ErrorKind.TARGET_EXISTS, "create duplicate collection with different parameters", 65535)
        self.collections[(target_db, target_collection)] = 0
        job_id = next(self._ids)
        self.jobs[job_id] = RestoreJob(
            job_id, name, target_db, target_collection, "RestoreSnapshotPending", 0, "", self.clock_ms, 0
        )
        self.pins[(source_db, source_collection, name)] += 1
        return job_id

    async def restore_state(self, job_id: int) -> RestoreJob | None:
        self._enter("restore_state")
        return self.jobs.get(job_id)

    async def list_restore_jobs(self, db: str) -> list[RestoreJob]:
        self._enter("list_restore_jobs")
        return [job for job in self.jobs.values() if job.db_name == db]

    # --- serving a restored collection ----------------------------------------------------------------
    async def start_load(self, collection: str, db: str, replicas: int, resource_groups: list[str]) -> None:
        self._enter("start_load")
        self._collection(collection, db)
        if not self.index_names.get((db, collection), ["vector"]):
            raise MilvusError(ErrorKind.NOT_LOADED, "there is no vector index on field: [vector]", 101)
        if self.loads.get((db, collection)) != "Loaded":
            self.loads[(db, collection)] = "Loading"
            self._loading[(db, collection)] = self.load_steps

    async def load_state(self, collection: str, db: str) -> LoadState:
        self._enter("load_state")
        self._collection(collection, db)
        key = (db, collection)
        if self.loads.get(key) == "Loading":
            if self._loading[key] <= 0:
                self.loads[key] = "Loaded"
            else:
                self._loading[key] -= 1
                return LoadState("Loading", 50)
        state = self.loads.get(key, "NotLoad")
        return LoadState(state, 100 if state == "Loaded" else 0)

    async def release(self, collection: str, db: str) -> None:
        self._enter("release")
        self._collection(collection, db)
        self.loads[(db, collection)] = "NotLoad"

    async def drop_collection(self, collection: str, db: str) -> None:
        self._enter("drop_collection")
        if any(c == collection and d == db for (d, _), c in self.aliases.items()):
            raise MilvusError(ErrorKind.UNAVAILABLE, f"unable to drop the collection [{collection}]: aliases", 65535)
        self.collections.pop((db, collection), None)
        self._effect("drop_collection")

    async def indexes(self, collection: str, db: str) -> list[IndexInfo]:
        self._enter("indexes")
        self._collection(collection, db)
        return [IndexInfo(n, "vector", "Finished", 0) for n in self.index_names.get((db, collection), ["vector"])]

    async def vector_fields(self, collection: str, db: str) -> list[VectorField]:
        self._enter("vector_fields")
        return [VectorField("vector", 8, "FLOAT_VECTOR")]

    async def search_hits(
        self, collection: str, db: str, field: str, vectors: list[list[float]], limit: int
    ) -> list[int]:
        self._enter("search_hits")
        if self.loads.get((db, collection)) != "Loaded":
            raise MilvusError(ErrorKind.NOT_LOADED, "failed to search: collection not loaded", 101)
        return [0 if (db, collection) in self.empty_search else limit for _ in vectors]

    async def alias_target(self, alias: str, db: str) -> str | None:
        self._enter("alias_target")
        return self.aliases.get((db, alias))

    async def create_alias(self, collection: str, alias: str, db: str) -> None:
        self._enter("create_alias")
        self._collection(collection, db)
        if (db, alias) in self.collections:
            raise MilvusError(ErrorKind.ALIAS_CONFLICT, "alias and collection name conflict", 1601)
        self.aliases[(db, alias)] = collection
        self._effect("create_alias")

    async def alter_alias(self, collection: str, alias: str, db: str) -> None:
        self._enter("alter_alias")
        self._collection(collection, db)
        if (db, alias) not in self.aliases:
            raise MilvusError(ErrorKind.NOT_FOUND, f"alias not found[alias={alias}]", 1600)
        self.aliases[(db, alias)] = collection
        self._effect("alter_alias")

    async def aliases_of(self, collection: str, db: str) -> list[str]:
        self._enter("aliases_of")
        return sorted(a for (d, a), c in self.aliases.items() if d == db and c == collection)

    # --- test controls -------------------------------------------------------------------------------
    def advance(self, job_id: int, state: str, progress: int, reason: str = "", rows: int = 0) -> None:
        job = self.jobs[job_id]
        self.jobs[job_id] = dataclasses.replace(
            job,
            state=state,
            progress=progress,
            reason=reason,
            start_time_ms=job.start_time_ms,
            time_cost_ms=1500 if state.endswith(("Completed", "Failed")) else 0,
        )
        if state.endswith(("Completed", "Failed")):
            source = next(k for k in self.pins if k[2] == job.snapshot_name and self.pins[k])
            self.pins[source] -= 1
            if state.endswith("Completed"):
                self.collections[(job.db_name, job.collection_name)] = rows
