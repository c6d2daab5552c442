"""File-level snapshot and restore on milvus-lite 3.2.2, shaped to Milvus semantics.

milvus-lite's own `MilvusLite.create_snapshot` flushes first, and `restore_snapshot` copies
synchronously into a new collection in the same database. Milvus instead snapshots only flushed
segments and fills an already-created (empty) target asynchronously, across databases. So this module
reuses milvus-lite's snapshot metadata format and file layout but splits restore into: stage the files
(at the RPC), create the empty target (at the RPC), install the staged files (when the job completes).
It touches a few private milvus-lite attributes; they are pinned by the milvus-lite==3.2.2 requirement.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Any

from milvus_lite.constants import PARTITION_KEY_BUCKET_PREFIX
from milvus_lite.db import SCHEMA_FILENAME, MilvusLite
from milvus_lite.schema.persistence import load_schema, save_schema
from milvus_lite.storage.manifest import MANIFEST_FILENAME, Manifest
from milvus_lite.storage.snapshots import (
    collect_index_files,
    create_snapshot,
    drop_snapshot,
    load_snapshot,
)

_FILE_MAPS = ("data_files", "delta_files", "index_files")


@dataclass
class EngineSnapshot:
    partition_names: list[str]
    segments: int


def collection_dir(db: MilvusLite, db_name: str, name: str) -> str:
    return str(db._collection_dir(name, db_name))


def _milvus_partition_name(name: str) -> str:
    """milvus-lite names partition-key buckets `_pk_N`; Milvus calls them `_default_N`."""
    if name.startswith(PARTITION_KEY_BUCKET_PREFIX):
        return "_default_" + name[len(PARTITION_KEY_BUCKET_PREFIX) :]
    return name


def snapshot_collection(db: MilvusLite, db_name: str, name: str, engine_name: str, description: str) -> EngineSnapshot:
    """Pin the collection's flushed segments (no implicit flush: unflushed rows are excluded)."""
    col: Any = db.get_collection(name, database_name=db_name)
    col._wait_for_bg()
    col_dir = collection_dir(db, db_name, name)
    with col._maintenance_lock:
        manifest = col._manifest
        if not os.path.exists(os.path.join(col_dir, MANIFEST_FILENAME)):
            manifest.save()
        data_files: dict[str, list[str]] = manifest.get_all_data_files()
        create_snapshot(
            collection_dir=col_dir,
            collection_name=name,
            snapshot_name=engine_name,
            description=description,
            schema_filename=SCHEMA_FILENAME,
            manifest_filename=MANIFEST_FILENAME,
            data_files=data_files,
            delta_files=manifest.get_all_delta_files(),
            index_files=collect_index_files(col_dir, data_files),
            current_seq=manifest.current_seq,
            manifest_version=manifest.version,
        )
        partitions = [_milvus_partition_name(p) for p in manifest.list_partitions()]
    return EngineSnapshot(partitions, sum(len(files) for files in data_files.values()))


def drop_collection_snapshot(db: MilvusLite, db_name: str, name: str, engine_name: str) -> None:
    drop_snapshot(collection_dir(db, db_name, name), engine_name)


def stage_snapshot(db: MilvusLite, db_name: str, name: str, engine_name: str, staging_dir: str) -> None:
    """Copy a snapshot's schema, manifest and segment files into `staging_dir` (a collection layout)."""
    src_dir = collection_dir(db, db_name, name)
    snap = load_snapshot(src_dir, engine_name)
    os.makedirs(staging_dir)
    try:
        shutil.copy2(os.path.join(src_dir, snap["schema_file"]), os.path.join(staging_dir, SCHEMA_FILENAME))
        shutil.copy2(os.path.join(src_dir, snap["manifest_file"]), os.path.join(staging_dir, MANIFEST_FILENAME))
        for key in _FILE_MAPS:
            for partition, rels in snap.get(key, {}).items():
                for rel in rels:
                    dst = os.path.join(staging_dir, "partitions", partition, rel)
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    shutil.copy2(os.path.join(src_dir, "partitions", partition, rel), dst)
    except BaseException:
        shutil.rmtree(staging_dir, ignore_errors=True)
        raise


def create_empty_target(db: MilvusLite, staging_dir: str, db_name: str, name: str, indexes: bool = True) -> None:
    """Create `name` with the staged schema, partitions and index specs (unless not `indexes`), no data."""
    _old, schema = load_schema(os.path.join(staging_dir, SCHEMA_FILENAME))
    staged = Manifest.load(staging_dir)
    dst_dir = collection_dir(db, db_name, name)
    os.makedirs(dst_dir)
    try:
        save_schema(schema, name, os.path.join(dst_dir, SCHEMA_FILENAME))
        manifest = Manifest(dst_dir)
        for partition in staged.list_partitions():
            if not manifest.has_partition(partition):
                manifest.add_partition(partition)
        for spec in staged.index_specs.values() if indexes else ():
            manifest.set_index_spec(spec)
        manifest.schema_version = staged.schema_version
        manifest.save()
        db.get_collection(name, database_name=db_name)
    except BaseException:
        db._collections.pop((db_name, name), None)
        shutil.rmtree(dst_dir, ignore_errors=True)
        raise


def install_staged(
    db: MilvusLite, staging_dir: str, db_name: str, name: str, indexes: bool = True, drop_rows: int = 0
) -> None:
    """Replace the (empty) target's files with the staged snapshot; reload it if it was loaded.

    `indexes=False` and `drop_rows` are injected faults: the target gets no index specs or index files,
    or loses its first `drop_rows` primary keys (deleted and flushed, so every count sees them gone).
    """
    col: Any = db._collections.pop((db_name, name), None)
    was_loaded = col is not None and col.load_state == "loaded"
    if col is not None:
        col.close()
    dst_dir = collection_dir(db, db_name, name)
    _old, schema = load_schema(os.path.join(staging_dir, SCHEMA_FILENAME))
    shutil.rmtree(dst_dir)
    os.rename(staging_dir, dst_dir)
    save_schema(schema, name, os.path.join(dst_dir, SCHEMA_FILENAME))
    manifest = Manifest.load(dst_dir)
    manifest.active_wal_number = None
    if not indexes:
        manifest.set_index_spec(None)
        for partition in manifest.list_partitions():
            shutil.rmtree(os.path.join(dst_dir, "partitions", partition, "indexes"), ignore_errors=True)
    manifest.save()
    restored: Any = db.get_collection(name, database_name=db_name)
    if drop_rows > 0:
        pks = sorted(pk for segment in restored._segments_snapshot() for pk in segment.pks)
        restored.delete(pks[:drop_rows])
        restored.flush()
    if was_loaded:
        restored.load()
