"""Snapshot business rules (Create/Drop/List/Describe/Pin/Unpin) and collection identity.

Follows Milvus 3.0's snapshot RPCs (proxy task_snapshot.go, datacoord snapshot_manager.go): names are unique
per collection ID, checks run in the proxy's order, and failures are MilvusError with merr codes and texts.
One re-entrant lock serialises all snapshot and restore-job state, like Milvus's serial DDL queue.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
import time

from milvus_lite.db import MilvusLite

from . import engine
from .catalog import Catalog, CollectionRef, Pin, Snapshot
from .errors import (
    SNAPSHOT_PINNED,
    MilvusError,
    collection_not_found,
    database_not_found,
    invalid,
    missing,
    snapshot_not_found,
)
from .names import validate_name

logger = logging.getLogger(__name__)

MAX_COMPACTION_PROTECTION_SECONDS = 604800
MAX_PIN_TTL_SECONDS = 2592000


def now_ms() -> int:
    return int(time.time() * 1000)


def new_pin_id() -> int:
    """A crypto-random positive int63, like Milvus's pin IDs."""
    return secrets.randbits(63) or 1


def s3_location(snap: Snapshot) -> str:
    return f"snapshots/{snap.collection_id}/metadata/{snap.snapshot_id}.json"


class SnapshotService:
    def __init__(self, db: MilvusLite, catalog: Catalog) -> None:
        self.db = db
        self.catalog = catalog
        self.lock = threading.RLock()
        self._prune_vanished()

    # ── collection identity ─────────────────────────────────────

    def require_db(self, db_name: str) -> None:
        try:
            exists = bool(self.db.has_database(db_name))
        except (ValueError, TypeError):
            exists = False
        if not exists:
            raise database_not_found(db_name)

    def lookup(self, db_name: str, name: str) -> CollectionRef | None:
        """The existing collection behind `name` (or an alias), without allocating an ID."""
        try:
            real = str(self.db.resolve_collection_name(name, database_name=db_name))
            if not name or not self.db.has_collection(real, database_name=db_name):
                return None
        except Exception:
            return None
        coll_id = self.catalog.collection_id_of(db_name, real)
        return self.catalog.collections[coll_id] if coll_id is not None else None

    def resolve(self, db_name: str, name: str) -> CollectionRef:
        """Resolve db + collection (or alias) to a collection ID, allocating one on first sight."""
        with self.lock:
            self.require_db(db_name)
            real = str(self.db.resolve_collection_name(name, database_name=db_name))
            if not name or not self.db.has_collection(real, database_name=db_name):
                raise collection_not_found(db_name, name)
            coll_id = self.catalog.collection_id_of(db_name, real)
            if coll_id is None:
                with self.catalog.batch():
                    coll_id = self.catalog.alloc_id()
                    self.catalog.put_collection(CollectionRef(coll_id, db_name, real))
            return self.catalog.collections[coll_id]

    def ref_of(self, collection_id: int) -> CollectionRef | None:
        """The collection with this ID if it still exists (restore infos name the target by ID)."""
        ref = self.catalog.collections.get(collection_id)
        if ref is None or not self.db.has_collection(ref.name, database_name=ref.db_name):
            return None
        return ref

    def forget_collection(self, collection_id: int) -> None:
        """After a drop: its snapshots go too (milvus-lite deleted their files with the collection)."""
        with self.lock, self.catalog.batch():
            self.catalog.remove_collection(collection_id)
            self.drop_all_snapshots(collection_id)

    def drop_all_snapshots(self, collection_id: int) -> None:
        with self.lock, self.catalog.batch():
            for snap in self.catalog.snapshots_of(collection_id):
                self.catalog.remove_snapshot(snap)

    def rename_collection(self, collection_id: int, new_name: str) -> None:
        with self.lock:
            ref = self.catalog.collections[collection_id]
            self.catalog.put_collection(dataclasses.replace(ref, name=new_name))

    def set_loaded(self, ref: CollectionRef, loaded: bool) -> CollectionRef:
        """Record a collection's load state (Milvus restores it after a restart)."""
        with self.lock:
            if ref.loaded != loaded:
                ref = dataclasses.replace(ref, loaded=loaded)
                self.catalog.put_collection(ref)
            return ref

    def _prune_vanished(self) -> None:
        for ref in list(self.catalog.collections.values()):
            if self.ref_of(ref.collection_id) is None:
                self.forget_collection(ref.collection_id)

    # ── snapshot RPCs ───────────────────────────────────────────

    def create(self, db_name: str, collection: str, name: str, description: str, protection: int) -> None:
        validate_name(name, "snapshot name")
        if protection < 0:
            raise invalid("compaction_protection_seconds must be non-negative")
        if protection > MAX_COMPACTION_PROTECTION_SECONDS:
            raise invalid(f"compaction_protection_seconds must not exceed {MAX_COMPACTION_PROTECTION_SECONDS}")
        with self.lock:
            ref = self.resolve(db_name, collection)
            if self.catalog.find_snapshot(ref.collection_id, name) is not None:
                raise invalid(f"snapshot name {name} already exists")
            snap_id = self.catalog.alloc_id()
            engine_name = f"milvusd_{snap_id}"
            made = engine.snapshot_collection(self.db, ref.db_name, ref.name, engine_name, description)
            now = time.time()
            self.catalog.put_snapshot(
                Snapshot(
                    snapshot_id=snap_id,
                    collection_id=ref.collection_id,
                    name=name,
                    description=description,
                    create_ts=now_ms() << 18,
                    partition_names=made.partition_names,
                    segments=made.segments,
                    engine_name=engine_name,
                    compaction_expire_at=now + protection if protection > 0 else 0.0,
                )
            )

    def drop(self, db_name: str, collection: str, name: str) -> None:
        validate_name(name, "snapshot name")
        if not collection:
            raise missing("collection_name is required for drop snapshot")
        with self.lock:
            ref = self.resolve(db_name, collection)
            snap = self.catalog.find_snapshot(ref.collection_id, name)
            if snap is None:
                return  # idempotent
            now = time.time()
            active = snap.active_pins(now)
            if active:
                raise MilvusError(
                    SNAPSHOT_PINNED,
                    f"{len(active)} active pins, unpin before dropping: snapshot pinned[snapshot={name}]",
                )
            self.catalog.remove_snapshot(snap)
            engine.drop_collection_snapshot(self.db, ref.db_name, ref.name, snap.engine_name)

    def list(self, db_name: str, collection: str) -> list[str]:
        if not collection:
            raise missing("collection_name is required for ListSnapshots")
        with self.lock:
            ref = self.resolve(db_name, collection)
            return [s.name for s in self.catalog.snapshots_of(ref.collection_id)]

    def describe(self, db_name: str, collection: str, name: str) -> tuple[Snapshot, CollectionRef]:
        validate_name(name, "snapshot name")
        if not collection:
            raise missing("collection_name is required for describe snapshot")
        with self.lock:
            ref = self.resolve(db_name, collection)
            snap = self.catalog.find_snapshot(ref.collection_id, name)
            if snap is None:
                raise snapshot_not_found(ref.collection_id, name)
            return snap, ref

    def pin(self, db_name: str, collection: str, name: str, ttl_seconds: int) -> int:
        validate_name(name, "snapshot name")
        if not collection:
            raise missing("collection_name is required for pin snapshot data")
        if ttl_seconds < 0:
            raise invalid("ttl_seconds must be non-negative")
        if ttl_seconds > MAX_PIN_TTL_SECONDS:
            raise invalid(f"ttl_seconds exceeds maximum of {MAX_PIN_TTL_SECONDS} (30 days)")
        with self.lock:
            ref = self.resolve(db_name, collection)
            snap = self.catalog.find_snapshot(ref.collection_id, name)
            if snap is None:
                raise snapshot_not_found(ref.collection_id, name)
            pin = Pin(new_pin_id(), time.time() + ttl_seconds if ttl_seconds > 0 else 0.0)
            self.catalog.add_pin(snap, pin)
            return pin.pin_id

    def unpin(self, pin_id: int) -> None:
        if pin_id == 0:
            raise missing("pin_id is required for unpin snapshot data")
        with self.lock:
            self.release_pin(pin_id)

    def release_pin(self, pin_id: int) -> None:
        """Remove a pin wherever it is; unknown or expired IDs are fine (Unpin is idempotent)."""
        with self.lock:
            self.catalog.remove_pin(pin_id)
