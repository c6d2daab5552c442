"""The Milvus-level metadata milvus-lite does not keep: collection IDs and load state, snapshots, pins, jobs.

It stands in for Milvus's etcd: an SQLite database (`<data>/.milvusd/catalog.db`, stdlib sqlite3, WAL
mode) with one row per collection, snapshot and restore job, written through on every change, so state
survives a restart (and a SIGKILL) and a change costs one row whatever the number of snapshots. The
rows are also held in memory with the lookups the RPCs need (by name, by collection, by pin ID), so no
call scans every snapshot. Callers hold the service lock; this class does no locking of its own.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

CATALOG_DIRNAME = ".milvusd"
CATALOG_FILENAME = "catalog.db"
LEGACY_FILENAME = "catalog.json"  # before the SQLite catalog: imported once, then renamed

# RestoreSnapshotState enum values (milvus_pb2.RestoreSnapshotState).
PENDING, EXECUTING, COMPLETED, FAILED = 1, 2, 3, 4
TERMINAL = (COMPLETED, FAILED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS collections (collection_id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (snapshot_id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (job_id INTEGER PRIMARY KEY, body TEXT NOT NULL);
"""


@dataclass
class CollectionRef:
    collection_id: int
    db_name: str
    name: str
    loaded: bool = False  # Milvus keeps a collection's load state across restarts


@dataclass
class Pin:
    pin_id: int
    expire_at: float  # unix seconds; 0 = never expires
    owner: str = ""  # "" for user pins, "restore:<job_id>" for a restore's implicit pin

    def active(self, now: float) -> bool:
        return self.expire_at == 0 or self.expire_at > now


@dataclass
class Snapshot:
    snapshot_id: int
    collection_id: int
    name: str
    description: str
    create_ts: int  # hybrid TSO: physical ms << 18
    partition_names: list[str]
    segments: int
    engine_name: str  # the milvus-lite snapshot holding the files
    compaction_expire_at: float
    pins: list[Pin] = field(default_factory=list)

    def active_pins(self, now: float) -> list[Pin]:
        return [p for p in self.pins if p.active(now)]


@dataclass
class RestoreJob:
    job_id: int
    snapshot_name: str
    target_collection_id: int
    staging_dir: str
    state: int = PENDING
    total_segments: int = 0
    copied_segments: int = 0
    reason: str = ""
    start_ms: int = 0
    complete_ms: int = 0
    executing_since: float = 0.0
    will_fail: bool = False
    fail_reason: str = ""
    pin_id: int = 0
    drop_rows: int = 0  # injected: rows the restored collection loses (Faults.restore_drop_rows)
    skip_indexes: bool = False  # injected: the restore copies no index (Faults.restore_skip_indexes)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


class Catalog:
    """In-memory tables with indexes, written through to SQLite, plus a TSO-like ID allocator."""

    def __init__(self, data_dir: str) -> None:
        root = os.path.join(data_dir, CATALOG_DIRNAME)
        self.path = os.path.join(root, CATALOG_FILENAME)
        self.staging_root = os.path.join(root, "restore-staging")
        os.makedirs(self.staging_root, exist_ok=True)
        self.last_id = 0
        self.collections: dict[int, CollectionRef] = {}
        self.snapshots: dict[int, Snapshot] = {}
        self.jobs: dict[int, RestoreJob] = {}
        self._by_name: dict[tuple[str, str], int] = {}
        self._by_collection: dict[int, dict[str, Snapshot]] = {}  # creation order
        self._pin_owner: dict[int, int] = {}  # pin_id -> snapshot_id
        self._batch_depth = 0
        fresh = not os.path.exists(self.path)
        # Autocommit mode; `batch()` groups writes into one transaction. WAL + NORMAL: a commit survives a
        # killed process (not a power cut), which is what a test server needs, without an fsync per commit.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._load()
        legacy = os.path.join(root, LEGACY_FILENAME)
        if fresh and os.path.exists(legacy):
            self._import_legacy(legacy)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group the writes inside into one transaction (nested batches join the outer one)."""
        if self._batch_depth == 0:
            self._db.execute("BEGIN")
        self._batch_depth += 1
        try:
            yield
        except BaseException:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                self._db.execute("ROLLBACK")
            raise
        self._batch_depth -= 1
        if self._batch_depth == 0:
            self._db.execute("COMMIT")

    # ── IDs ─────────────────────────────────────────────────────

    def alloc_id(self) -> int:
        """Monotonic int64 shaped like Milvus IDs (physical ms << 18 plus a counter), persisted."""
        self.last_id = max(self.last_id + 1, int(time.time() * 1000) << 18)
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_id', ?)", (self.last_id,))
        return self.last_id

    # ── collections ─────────────────────────────────────────────

    def collection_id_of(self, db_name: str, name: str) -> int | None:
        return self._by_name.get((db_name, name))

    def put_collection(self, ref: CollectionRef) -> None:
        """Insert or update (a rename, a load-state change)."""
        self._index_collection(ref)
        self._write("collections", ref.collection_id, ref)

    def _index_collection(self, ref: CollectionRef) -> None:
        old = self.collections.get(ref.collection_id)
        if old is not None:
            self._by_name.pop((old.db_name, old.name), None)
        self.collections[ref.collection_id] = ref
        self._by_name[(ref.db_name, ref.name)] = ref.collection_id

    def remove_collection(self, collection_id: int) -> None:
        ref = self.collections.pop(collection_id, None)
        if ref is not None:
            self._by_name.pop((ref.db_name, ref.name), None)
            self._delete("collections", collection_id)

    # ── snapshots and pins ──────────────────────────────────────

    def snapshots_of(self, collection_id: int) -> list[Snapshot]:
        return list(self._by_collection.get(collection_id, {}).values())

    def find_snapshot(self, collection_id: int, name: str) -> Snapshot | None:
        return self._by_collection.get(collection_id, {}).get(name)

    def put_snapshot(self, snap: Snapshot) -> None:
        """Insert, or write back after its pins changed."""
        self._index_snapshot(snap)
        self._write("snapshots", snap.snapshot_id, snap)

    def _index_snapshot(self, snap: Snapshot) -> None:
        self.snapshots[snap.snapshot_id] = snap
        self._by_collection.setdefault(snap.collection_id, {})[snap.name] = snap
        for pin in snap.pins:
            self._pin_owner[pin.pin_id] = snap.snapshot_id

    def remove_snapshot(self, snap: Snapshot) -> None:
        self.snapshots.pop(snap.snapshot_id, None)
        names = self._by_collection.get(snap.collection_id, {})
        names.pop(snap.name, None)
        if not names:
            self._by_collection.pop(snap.collection_id, None)
        for pin in snap.pins:
            self._pin_owner.pop(pin.pin_id, None)
        self._delete("snapshots", snap.snapshot_id)

    def add_pin(self, snap: Snapshot, pin: Pin) -> None:
        snap.pins.append(pin)
        self.put_snapshot(snap)

    def remove_pin(self, pin_id: int) -> bool:
        """Remove a pin wherever it is; False if no snapshot holds it."""
        snap = self.snapshots.get(self._pin_owner.pop(pin_id, 0))
        if snap is None:
            return False
        snap.pins = [p for p in snap.pins if p.pin_id != pin_id]
        self.put_snapshot(snap)
        return True

    # ── restore jobs ────────────────────────────────────────────

    def put_job(self, job: RestoreJob) -> None:
        self.jobs[job.job_id] = job
        self._write("jobs", job.job_id, job)

    def remove_job(self, job_id: int) -> None:
        if self.jobs.pop(job_id, None) is not None:
            self._delete("jobs", job_id)

    # ── persistence ─────────────────────────────────────────────

    def _write(self, table: str, key: int, row: Any) -> None:
        body = json.dumps(asdict(row), separators=(",", ":"))
        self._db.execute(f"INSERT OR REPLACE INTO {table} VALUES (?, ?)", (key, body))

    def _delete(self, table: str, key: int) -> None:
        self._db.execute(f"DELETE FROM {table} WHERE rowid = ?", (key,))

    def _rows(self, table: str) -> Iterator[dict[str, Any]]:
        for (body,) in self._db.execute(f"SELECT body FROM {table} ORDER BY rowid"):
            yield json.loads(body)

    def _load(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'last_id'").fetchone()
        self.last_id = int(row[0]) if row else 0
        for c in self._rows("collections"):
            self._index_collection(CollectionRef(**c))
        for s in self._rows("snapshots"):
            self._index_snapshot(_snapshot_from(s))
        for j in self._rows("jobs"):
            job = RestoreJob(**j)
            self.jobs[job.job_id] = job

    def _import_legacy(self, path: str) -> None:
        """A data directory from before the SQLite catalog: take its JSON catalog over once."""
        with open(path, encoding="utf-8") as f:
            payload: dict[str, Any] = json.load(f)
        with self.batch():
            self.last_id = max(self.last_id, int(payload.get("last_id", 0)))
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_id', ?)", (self.last_id,))
            for c in payload.get("collections", []):
                self.put_collection(CollectionRef(**c))
            for s in payload.get("snapshots", []):
                self.put_snapshot(_snapshot_from(s))
            for j in payload.get("jobs", []):
                self.put_job(RestoreJob(**j))
        os.replace(path, path + ".imported")


def _snapshot_from(row: dict[str, Any]) -> Snapshot:
    """A Snapshot from its stored JSON (asdict), pins rebuilt as Pin objects."""
    pins = [Pin(**p) for p in row.get("pins", [])]
    return Snapshot(**{**row, "pins": pins})
