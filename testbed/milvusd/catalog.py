"""The Milvus-level metadata milvus-lite does not keep: collection IDs, snapshots, pins, restore jobs.

It stands in for Milvus's etcd: one JSON file (`<data>/.milvusd/catalog.json`), rewritten atomically
after each change, so snapshots, pins and restore jobs survive a restart. Callers hold the service
lock; this class does no locking of its own.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

CATALOG_DIRNAME = ".milvusd"
CATALOG_FILENAME = "catalog.json"

# RestoreSnapshotState enum values (milvus_pb2.RestoreSnapshotState).
PENDING, EXECUTING, COMPLETED, FAILED = 1, 2, 3, 4
TERMINAL = (COMPLETED, FAILED)


@dataclass
class CollectionRef:
    collection_id: int
    db_name: str
    name: str


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

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


class Catalog:
    """In-memory tables plus write-through persistence and a TSO-like ID allocator."""

    def __init__(self, data_dir: str) -> None:
        self.path = os.path.join(data_dir, CATALOG_DIRNAME, CATALOG_FILENAME)
        self.staging_root = os.path.join(data_dir, CATALOG_DIRNAME, "restore-staging")
        self.last_id = 0
        self.collections: dict[int, CollectionRef] = {}
        self.snapshots: dict[int, Snapshot] = {}
        self.jobs: dict[int, RestoreJob] = {}
        os.makedirs(self.staging_root, exist_ok=True)
        self._load()

    def alloc_id(self) -> int:
        """Monotonic int64 shaped like Milvus IDs (physical ms << 18 plus a counter)."""
        self.last_id = max(self.last_id + 1, int(time.time() * 1000) << 18)
        return self.last_id

    def collection_id_of(self, db_name: str, name: str) -> int | None:
        for ref in self.collections.values():
            if ref.db_name == db_name and ref.name == name:
                return ref.collection_id
        return None

    def snapshots_of(self, collection_id: int) -> list[Snapshot]:
        return [s for s in self.snapshots.values() if s.collection_id == collection_id]

    def find_snapshot(self, collection_id: int, name: str) -> Snapshot | None:
        for snap in self.snapshots.values():
            if snap.collection_id == collection_id and snap.name == name:
                return snap
        return None

    def save(self) -> None:
        payload = {
            "version": 1,
            "last_id": self.last_id,
            "collections": [asdict(c) for c in self.collections.values()],
            "snapshots": [asdict(s) for s in self.snapshots.values()],
            "jobs": [asdict(j) for j in self.jobs.values()],
        }
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def _load(self) -> None:
        if not os.path.exists(self.path):
            return
        with open(self.path, encoding="utf-8") as f:
            payload: dict[str, Any] = json.load(f)
        self.last_id = int(payload.get("last_id", 0))
        for c in payload.get("collections", []):
            self.collections[c["collection_id"]] = CollectionRef(**c)
        for s in payload.get("snapshots", []):
            pins = [Pin(**p) for p in s.pop("pins", [])]
            self.snapshots[s["snapshot_id"]] = Snapshot(**s, pins=pins)
        for j in payload.get("jobs", []):
            self.jobs[j["job_id"]] = RestoreJob(**j)
