"""Collection load state the way Milvus's querycoord keeps it, over milvus-lite's synchronous load.

milvus-lite loads in the call, keeps no load state across restarts, treats a collection without an
index as always loaded, and answers a count(*) query on a released collection. Milvus instead:
  - refuses to load a collection whose vector field has no index ("there is no vector index on field");
  - loads asynchronously: LoadCollection returns at once, GetLoadState says Loading with a progress
    until the load ends (Faults.load_latency makes that take time), and a load can end Failed
    (Faults.load_fail_*), after which GetLoadingProgress reports the failure and the state is NotLoad;
  - keeps a collection's load state across a restart (here in the catalog, and milvus-lite's own
    collection object is loaded lazily to match);
  - answers search/query on a collection (or through an alias) that is not loaded with 101
    "collection not loaded", and on one still loading with 103 "collection not fully loaded".
Load progress advances when it is looked at (any load RPC, search or query); no thread is needed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from milvus_lite.schema.types import DataType

from .catalog import CollectionRef
from .errors import (
    COLLECTION_NOT_FULLY_LOADED,
    UNEXPECTED,
    MilvusError,
    collection_not_loaded,
)
from .faults import Faults
from .snapshots import SnapshotService

logger = logging.getLogger(__name__)

# milvus_pb2 LoadState values (common_pb2.LoadState).
NOT_EXIST, NOT_LOAD, LOADING, LOADED = 0, 1, 2, 3
_VECTOR_TYPES = (DataType.FLOAT_VECTOR, DataType.SPARSE_FLOAT_VECTOR)


@dataclass
class _Loading:
    started: float  # time.monotonic()
    duration: float
    fail_reason: str | None


class LoadService:
    def __init__(self, service: SnapshotService, faults: Faults) -> None:
        self._svc = service
        self._faults = faults
        self._loading: dict[int, _Loading] = {}  # collection ID -> load in progress
        self._failed: dict[int, str] = {}  # collection ID -> reason its last load failed

    # ── RPCs ────────────────────────────────────────────────────

    def load(self, db_name: str, name: str) -> None:
        with self._svc.lock:
            ref = self._svc.resolve(db_name, name)
            unindexed = self._unindexed_vector_fields(ref)
            if unindexed:
                raise MilvusError(
                    UNEXPECTED,
                    f"there is no vector index on field: [{' '.join(unindexed)}], please create index firstly",
                )
            ref = self._settle(ref)
            if ref.loaded or ref.collection_id in self._loading:
                return  # loaded or loading already: nothing to start
            self._failed.pop(ref.collection_id, None)
            reason = self._faults.take_load_failure(ref.name)
            self._loading[ref.collection_id] = _Loading(time.monotonic(), self._faults.load_latency, reason)
            self._settle(ref)

    def release(self, db_name: str, name: str) -> None:
        with self._svc.lock:
            ref = self._svc.resolve(db_name, name)
            self._loading.pop(ref.collection_id, None)
            self._failed.pop(ref.collection_id, None)
            self._collection(ref).release()
            self._svc.set_loaded(ref, False)

    def state(self, db_name: str, name: str) -> tuple[int, int]:
        """(LoadState, progress) for GetLoadState; an unknown collection is LoadStateNotExist."""
        with self._svc.lock:
            ref = self._svc.lookup(db_name, name)
            if ref is None:
                return NOT_EXIST, 0
            ref = self._settle(ref)
            if ref.loaded:
                return LOADED, 100
            if ref.collection_id in self._loading:
                return LOADING, self._progress(self._loading[ref.collection_id])
            return NOT_LOAD, 0

    def progress(self, db_name: str, name: str) -> int:
        """GetLoadingProgress: a percentage, or 101 when nothing is loaded (with the failure, if one)."""
        with self._svc.lock:
            ref = self._settle(self._svc.resolve(db_name, name))
            if ref.loaded:
                return 100
            if ref.collection_id in self._loading:
                return self._progress(self._loading[ref.collection_id])
            failure = self._failed.get(ref.collection_id)
            raise collection_not_loaded(ref.collection_id, failure or "")

    def require_loaded(self, db_name: str, name: str, action: str) -> None:
        """Before a search or query: the collection (or the alias's target) must be loaded."""
        with self._svc.lock:
            ref = self._svc.lookup(db_name, name)
            if ref is None:
                return  # unknown: milvus-lite answers collection-not-found itself
            ref = self._settle(ref)
            if ref.collection_id in self._loading:
                raise MilvusError(
                    COLLECTION_NOT_FULLY_LOADED,
                    f"failed to {action}: collection not fully loaded[collection={ref.collection_id}]",
                )
            if not ref.loaded:
                raise collection_not_loaded(ref.collection_id, f"failed to {action}")
            col = self._collection(ref)
            if col.load_state != "loaded":
                col.load()  # milvus-lite's object was reopened (restart, rename, restore): catch up

    # ── state machine ───────────────────────────────────────────

    def _settle(self, ref: CollectionRef) -> CollectionRef:
        """End a load whose time is up: Loaded, or NotLoad with its failure recorded."""
        loading = self._loading.get(ref.collection_id)
        if loading is None or time.monotonic() - loading.started < loading.duration:
            return ref
        del self._loading[ref.collection_id]
        if loading.fail_reason is not None:
            self._failed[ref.collection_id] = loading.fail_reason
            return self._svc.set_loaded(ref, False)
        try:
            self._collection(ref).load()
        except Exception as e:
            logger.exception("loading %s.%s failed", ref.db_name, ref.name)
            self._failed[ref.collection_id] = f"load failed: {e}"
            return self._svc.set_loaded(ref, False)
        return self._svc.set_loaded(ref, True)

    @staticmethod
    def _progress(loading: _Loading) -> int:
        if loading.duration <= 0:
            return 99
        return min(99, int((time.monotonic() - loading.started) * 100 / loading.duration))

    def _collection(self, ref: CollectionRef) -> Any:
        return self._svc.db.get_collection(ref.name, database_name=ref.db_name)

    def _unindexed_vector_fields(self, ref: CollectionRef) -> list[str]:
        col = self._collection(ref)
        return [f.name for f in col.schema.fields if f.dtype in _VECTOR_TYPES and not col.has_index(f.name)]
