"""milvus-lite's MilvusService servicer plus the Milvus 3.0 snapshot RPCs.

Only protocol translation lives here: requests are unpacked into SnapshotService / RestoreJobs calls,
and every outcome goes back in `Status` (never a gRPC error). A few collection RPCs are wrapped so
collection IDs and snapshots follow drops, renames and truncations.
Export/RestoreExternal/GetExportSnapshotState stay UNIMPLEMENTED (inherited).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from milvus_lite.adapter.grpc.servicer import MilvusServicer
from milvus_lite.db import MilvusLite
from pymilvus.grpc_gen import milvus_pb2

from .errors import UNEXPECTED, MilvusError, error_status, milvus_database_status, status
from .jobs import JobView, RestoreJobs
from .snapshots import SnapshotService, now_ms, s3_location

logger = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_DB = "default"


def _header_db(context: Any) -> str:
    for key, value in context.invocation_metadata():
        if key.lower() == "dbname" and value:
            return str(value)
    return DEFAULT_DB


def _db(request_db: str, context: Any) -> str:
    """db_name from the request, else the `dbname` header, else "default" (the proxy's DB interceptor)."""
    return request_db or _header_db(context)


def _info(view: JobView) -> Any:
    return milvus_pb2.RestoreSnapshotInfo(
        job_id=view.job_id,
        snapshot_name=view.snapshot_name,
        db_name=view.db_name,
        collection_name=view.collection_name,
        state=view.state,
        progress=view.progress,
        reason=view.reason,
        start_time=view.start_time,
        time_cost=view.time_cost,
    )


class MilvusdServicer(MilvusServicer):  # type: ignore[misc]
    def __init__(self, db: MilvusLite, service: SnapshotService, jobs: RestoreJobs) -> None:
        super().__init__(db)
        self._svc = service
        self._jobs = jobs

    def _call(self, rpc: str, fn: Callable[[], T], build: Callable[[Any, T | None], Any]) -> Any:
        try:
            result = fn()
        except MilvusError as e:
            return build(error_status(e), None)
        except Exception as e:
            logger.exception("%s failed", rpc)
            return build(status(UNEXPECTED, str(e)), None)
        return build(status(), result)

    # ── snapshot RPCs ───────────────────────────────────────────

    def CreateSnapshot(self, request: Any, context: Any) -> Any:
        return self._call(
            "CreateSnapshot",
            lambda: self._svc.create(
                _db(request.db_name, context),
                request.collection_name,
                request.name,
                request.description,
                request.compaction_protection_seconds,
            ),
            lambda st, _: st,
        )

    def DropSnapshot(self, request: Any, context: Any) -> Any:
        return self._call(
            "DropSnapshot",
            lambda: self._svc.drop(_db(request.db_name, context), request.collection_name, request.name),
            lambda st, _: st,
        )

    def ListSnapshots(self, request: Any, context: Any) -> Any:
        return self._call(
            "ListSnapshots",
            lambda: self._svc.list(_db(request.db_name, context), request.collection_name),
            lambda st, names: milvus_pb2.ListSnapshotsResponse(status=st, snapshots=names or []),
        )

    def DescribeSnapshot(self, request: Any, context: Any) -> Any:
        def build(st: Any, found: Any) -> Any:
            if found is None:
                return milvus_pb2.DescribeSnapshotResponse(status=st)
            snap, ref = found
            return milvus_pb2.DescribeSnapshotResponse(
                status=st,
                name=snap.name,
                description=snap.description,
                collection_name=ref.name,
                partition_names=snap.partition_names,
                create_ts=snap.create_ts,
                s3_location=s3_location(snap),
            )

        return self._call(
            "DescribeSnapshot",
            lambda: self._svc.describe(_db(request.db_name, context), request.collection_name, request.name),
            build,
        )

    def RestoreSnapshot(self, request: Any, context: Any) -> Any:
        return self._call(
            "RestoreSnapshot",
            lambda: self._jobs.start(
                request.name,
                _db(request.db_name, context),
                request.collection_name,
                _db(request.target_db_name, context),
                request.target_collection_name,
            ),
            lambda st, job_id: milvus_pb2.RestoreSnapshotResponse(status=st, job_id=job_id or 0),
        )

    def GetRestoreSnapshotState(self, request: Any, context: Any) -> Any:
        return self._call(
            "GetRestoreSnapshotState",
            lambda: self._jobs.get(request.job_id),
            lambda st, view: (
                milvus_pb2.GetRestoreSnapshotStateResponse(status=st, info=_info(view))
                if view
                else milvus_pb2.GetRestoreSnapshotStateResponse(status=st)
            ),
        )

    def ListRestoreSnapshotJobs(self, request: Any, context: Any) -> Any:
        return self._call(
            "ListRestoreSnapshotJobs",
            lambda: self._jobs.list(_db(request.db_name, context), request.collection_name),
            lambda st, views: milvus_pb2.ListRestoreSnapshotJobsResponse(
                status=st, jobs=[_info(v) for v in views or []]
            ),
        )

    def PinSnapshotData(self, request: Any, context: Any) -> Any:
        return self._call(
            "PinSnapshotData",
            lambda: self._svc.pin(
                _db(request.db_name, context), request.collection_name, request.name, request.ttl_seconds
            ),
            lambda st, pin_id: milvus_pb2.PinSnapshotDataResponse(status=st, pin_id=pin_id or 0),
        )

    def UnpinSnapshotData(self, request: Any, context: Any) -> Any:
        return self._call("UnpinSnapshotData", lambda: self._svc.unpin(request.pin_id), lambda st, _: st)

    # ── collection RPCs that snapshot state must follow ─────────

    def DropCollection(self, request: Any, context: Any) -> Any:
        with self._svc.lock:
            ref = self._svc.lookup(self._database_name(request, context), request.collection_name)
            resp = super().DropCollection(request, context)
            if resp.code == 0 and ref is not None:
                self._svc.forget_collection(ref.collection_id)
            return resp

    def RenameCollection(self, request: Any, context: Any) -> Any:
        with self._svc.lock:
            ref = self._svc.lookup(self._database_name(request, context), request.oldName)
            resp = super().RenameCollection(request, context)
            if resp.code == 0 and ref is not None:
                self._svc.rename_collection(ref.collection_id, request.newName)
            return resp

    def TruncateCollection(self, request: Any, context: Any) -> Any:
        """milvus-lite rebuilds the collection directory, deleting its snapshot files with it."""
        with self._svc.lock:
            ref = self._svc.lookup(self._database_name(request, context), request.collection_name)
            resp = super().TruncateCollection(request, context)
            if resp.status.code == 0 and ref is not None:
                self._svc.drop_all_snapshots(ref.collection_id)
            return resp

    def Flush(self, request: Any, context: Any) -> Any:
        """milvus-lite skips unknown collections silently; Milvus's proxy fails the flush with 100/800."""
        db_name = self._database_name(request, context)
        try:
            for name in request.collection_names:
                self._svc.resolve(db_name, name)
        except MilvusError as e:
            return milvus_pb2.FlushResponse(status=error_status(e))
        return super().Flush(request, context)

    def GetCollectionStatistics(self, request: Any, context: Any) -> Any:
        resp = super().GetCollectionStatistics(request, context)
        milvus_database_status(resp.status)
        return resp

    def DescribeCollection(self, request: Any, context: Any) -> Any:
        """Adds the collectionID (milvus-lite has none) so it matches the IDs in s3_location.

        An unknown database answers Milvus's 800 (milvus-lite says 6), so pymilvus's has_collection
        raises "database not found" instead of an unclassifiable error.
        """
        resp = super().DescribeCollection(request, context)
        milvus_database_status(resp.status)
        if resp.status.code == 0:
            db_name = self._database_name(request, context)
            try:
                resp.collectionID = self._svc.resolve(db_name, request.collection_name).collection_id
                resp.db_name = db_name
            except MilvusError:
                pass
        return resp

    def AllocTimestamp(self, request: Any, context: Any) -> Any:
        """Missing in milvus-lite; pymilvus calls it while waiting for an index. Hybrid TSO, logical 0."""
        return milvus_pb2.AllocTimestampResponse(status=status(), timestamp=now_ms() << 18)
