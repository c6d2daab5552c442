"""The whole MilvusService: milvus-lite's collection RPCs as corrected in collection_rpcs, plus the
Milvus 3.0 snapshot RPCs.

Only protocol translation lives here: requests are unpacked into SnapshotService / RestoreJobs calls,
and every outcome goes back in `Status` (never a gRPC error).
Export/RestoreExternal/GetExportSnapshotState stay UNIMPLEMENTED (inherited).
"""

from __future__ import annotations

from typing import Any

from milvus_lite.db import MilvusLite
from pymilvus.grpc_gen import milvus_pb2

from .aliases import AliasService
from .collection_rpcs import CollectionServicer, request_db, status_only
from .jobs import JobView, RestoreJobs
from .loads import LoadService
from .snapshots import SnapshotService, s3_location


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


class MilvusdServicer(CollectionServicer):
    def __init__(
        self, db: MilvusLite, service: SnapshotService, aliases: AliasService, loads: LoadService, jobs: RestoreJobs
    ) -> None:
        super().__init__(db, service, aliases, loads)
        self._jobs = jobs

    # ── snapshot RPCs ───────────────────────────────────────────

    def CreateSnapshot(self, request: Any, context: Any) -> Any:
        return self._call(
            "CreateSnapshot",
            lambda: self._svc.create(
                str(self._database_name(request, context)),
                request.collection_name,
                request.name,
                request.description,
                request.compaction_protection_seconds,
            ),
            status_only,
        )

    def DropSnapshot(self, request: Any, context: Any) -> Any:
        return self._call(
            "DropSnapshot",
            lambda: self._svc.drop(str(self._database_name(request, context)), request.collection_name, request.name),
            status_only,
        )

    def ListSnapshots(self, request: Any, context: Any) -> Any:
        return self._call(
            "ListSnapshots",
            lambda: self._svc.list(str(self._database_name(request, context)), request.collection_name),
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
            lambda: self._svc.describe(
                str(self._database_name(request, context)), request.collection_name, request.name
            ),
            build,
        )

    def RestoreSnapshot(self, request: Any, context: Any) -> Any:
        return self._call(
            "RestoreSnapshot",
            lambda: self._jobs.start(
                request.name,
                str(self._database_name(request, context)),
                request.collection_name,
                request_db(request.target_db_name, context),
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
            lambda: self._jobs.list(str(self._database_name(request, context)), request.collection_name),
            lambda st, views: milvus_pb2.ListRestoreSnapshotJobsResponse(
                status=st, jobs=[_info(v) for v in views or []]
            ),
        )

    def PinSnapshotData(self, request: Any, context: Any) -> Any:
        return self._call(
            "PinSnapshotData",
            lambda: self._svc.pin(
                str(self._database_name(request, context)), request.collection_name, request.name, request.ttl_seconds
            ),
            lambda st, pin_id: milvus_pb2.PinSnapshotDataResponse(status=st, pin_id=pin_id or 0),
        )

    def UnpinSnapshotData(self, request: Any, context: Any) -> Any:
        return self._call("UnpinSnapshotData", lambda: self._svc.unpin(request.pin_id), status_only)
