"""milvus-lite's collection-level RPCs, corrected where Milvus 3.0 behaves differently.

Aliases follow aliases.AliasService, load state and the "not loaded" answers of search and query follow
loads.LoadService, and the collection DDL (create, drop, rename, truncate) keeps collection IDs,
snapshots and aliases consistent. Only protocol translation lives here; every business failure goes
back in `Status`, never as a gRPC error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from milvus_lite.adapter.grpc.servicer import MilvusServicer
from milvus_lite.db import MilvusLite
from pymilvus.grpc_gen import milvus_pb2

from .aliases import AliasService
from .errors import UNEXPECTED, MilvusError, error_status, milvus_database_status, status
from .loads import LoadService
from .snapshots import SnapshotService, now_ms

logger = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_DB = "default"


def _header_db(context: Any) -> str:
    for key, value in context.invocation_metadata():
        if key.lower() == "dbname" and value:
            return str(value)
    return DEFAULT_DB


def request_db(request_db_name: str, context: Any) -> str:
    """A database name the request gives in a field other than db_name (RestoreSnapshot's target), else the
    `dbname` header, else "default", as milvus-lite's `_database_name` does for db_name (the proxy's DB
    interceptor)."""
    return request_db_name or _header_db(context)


class CollectionServicer(MilvusServicer):  # type: ignore[misc]
    def __init__(self, db: MilvusLite, service: SnapshotService, aliases: AliasService, loads: LoadService) -> None:
        super().__init__(db)
        self._svc = service
        self._aliases = aliases
        self._loads = loads

    def _call(self, rpc: str, fn: Callable[[], T], build: Callable[[Any, T | None], Any]) -> Any:
        try:
            result = fn()
        except MilvusError as e:
            return build(error_status(e), None)
        except Exception as e:
            logger.exception("%s failed", rpc)
            return build(status(UNEXPECTED, str(e)), None)
        return build(status(), result)

    # ── aliases ─────────────────────────────────────────────────

    def CreateAlias(self, request: Any, context: Any) -> Any:
        db_name = str(self._database_name(request, context))
        return self._call(
            "CreateAlias", lambda: self._aliases.create(db_name, request.collection_name, request.alias), status_only
        )

    def AlterAlias(self, request: Any, context: Any) -> Any:
        db_name = str(self._database_name(request, context))
        return self._call(
            "AlterAlias", lambda: self._aliases.alter(db_name, request.collection_name, request.alias), status_only
        )

    def DropAlias(self, request: Any, context: Any) -> Any:
        db_name = str(self._database_name(request, context))
        return self._call("DropAlias", lambda: self._aliases.drop(db_name, request.alias), status_only)

    def DescribeAlias(self, request: Any, context: Any) -> Any:
        db_name = str(self._database_name(request, context))
        return self._call(
            "DescribeAlias",
            lambda: self._aliases.describe(db_name, request.alias),
            lambda st, target: (
                milvus_pb2.DescribeAliasResponse(
                    status=st, db_name=db_name, alias=request.alias, collection=target or ""
                )
                if target
                else milvus_pb2.DescribeAliasResponse(status=st)
            ),
        )

    def ListAliases(self, request: Any, context: Any) -> Any:
        db_name = str(self._database_name(request, context))
        return self._call(
            "ListAliases",
            lambda: self._aliases.list(db_name, request.collection_name),
            lambda st, names: (
                milvus_pb2.ListAliasesResponse(
                    status=st, db_name=db_name, collection_name=request.collection_name, aliases=names or []
                )
                if names is not None
                else milvus_pb2.ListAliasesResponse(status=st)
            ),
        )

    # ── load state, and what it gates ───────────────────────────

    def LoadCollection(self, request: Any, context: Any) -> Any:
        db_name = str(self._database_name(request, context))
        return self._call("LoadCollection", lambda: self._loads.load(db_name, request.collection_name), status_only)

    def ReleaseCollection(self, request: Any, context: Any) -> Any:
        db_name = str(self._database_name(request, context))
        return self._call(
            "ReleaseCollection", lambda: self._loads.release(db_name, request.collection_name), status_only
        )

    def GetLoadState(self, request: Any, context: Any) -> Any:
        db_name = str(self._database_name(request, context))
        return self._call(
            "GetLoadState",
            lambda: self._loads.state(db_name, request.collection_name),
            lambda st, found: milvus_pb2.GetLoadStateResponse(status=st, state=found[0] if found else 0),
        )

    def GetLoadingProgress(self, request: Any, context: Any) -> Any:
        db_name = str(self._database_name(request, context))
        return self._call(
            "GetLoadingProgress",
            lambda: self._loads.progress(db_name, request.collection_name),
            lambda st, progress: milvus_pb2.GetLoadingProgressResponse(
                status=st, progress=progress or 0, refresh_progress=progress or 0
            ),
        )

    def Search(self, request: Any, context: Any) -> Any:
        denied = self._gate(request, context, "search")
        return milvus_pb2.SearchResults(status=denied) if denied else super().Search(request, context)

    def HybridSearch(self, request: Any, context: Any) -> Any:
        denied = self._gate(request, context, "search")
        return milvus_pb2.SearchResults(status=denied) if denied else super().HybridSearch(request, context)

    def Query(self, request: Any, context: Any) -> Any:
        denied = self._gate(request, context, "query")
        return milvus_pb2.QueryResults(status=denied) if denied else super().Query(request, context)

    def _gate(self, request: Any, context: Any, action: str) -> Any:
        """The Status refusing a search/query on a collection that is not loaded, or None to go ahead."""
        try:
            self._loads.require_loaded(str(self._database_name(request, context)), request.collection_name, action)
        except MilvusError as e:
            return error_status(e)
        return None

    # ── collection DDL that IDs, snapshots and aliases must follow ──

    def CreateCollection(self, request: Any, context: Any) -> Any:
        try:
            self._aliases.check_creatable(str(self._database_name(request, context)), request.collection_name)
        except MilvusError as e:
            return error_status(e)
        return super().CreateCollection(request, context)

    def DropCollection(self, request: Any, context: Any) -> Any:
        db_name = str(self._database_name(request, context))
        with self._svc.lock:
            try:
                self._aliases.check_droppable(db_name, request.collection_name)
            except MilvusError as e:
                return error_status(e)
            ref = self._svc.lookup(db_name, request.collection_name)
            resp = super().DropCollection(request, context)
            if resp.code == 0 and ref is not None:
                self._svc.forget_collection(ref.collection_id)
            return resp

    def RenameCollection(self, request: Any, context: Any) -> Any:
        db_name = str(self._database_name(request, context))
        with self._svc.lock:
            try:
                self._aliases.check_renamable(db_name, request.oldName, request.newName)
            except MilvusError as e:
                return error_status(e)
            ref = self._svc.lookup(db_name, request.oldName)
            resp = super().RenameCollection(request, context)
            if resp.code == 0 and ref is not None:
                self._svc.rename_collection(ref.collection_id, request.newName)
            return resp

    def TruncateCollection(self, request: Any, context: Any) -> Any:
        """milvus-lite rebuilds the collection directory, deleting its snapshot files with it."""
        with self._svc.lock:
            ref = self._svc.lookup(str(self._database_name(request, context)), request.collection_name)
            resp = super().TruncateCollection(request, context)
            if resp.status.code == 0 and ref is not None:
                self._svc.drop_all_snapshots(ref.collection_id)
            return resp

    def Flush(self, request: Any, context: Any) -> Any:
        """milvus-lite skips unknown collections silently; Milvus's proxy fails the flush with 100/800."""
        db_name = str(self._database_name(request, context))
        try:
            for name in request.collection_names:
                self._svc.resolve(db_name, name)
        except MilvusError as e:
            return milvus_pb2.FlushResponse(status=error_status(e))
        return super().Flush(request, context)

    def ShowCollections(self, request: Any, context: Any) -> Any:
        """An unknown database answers Milvus's 800, as the other collection RPCs do."""
        resp = super().ShowCollections(request, context)
        milvus_database_status(resp.status)
        return resp

    def GetCollectionStatistics(self, request: Any, context: Any) -> Any:
        resp = super().GetCollectionStatistics(request, context)
        milvus_database_status(resp.status)
        return resp

    def DescribeCollection(self, request: Any, context: Any) -> Any:
        """Adds the collectionID (milvus-lite has none) so it matches the IDs in s3_location, and the aliases.

        An unknown database answers Milvus's 800 (milvus-lite says 6), so pymilvus's has_collection
        raises "database not found" instead of an unclassifiable error.
        """
        resp = super().DescribeCollection(request, context)
        milvus_database_status(resp.status)
        if resp.status.code == 0:
            db_name = str(self._database_name(request, context))
            try:
                ref = self._svc.resolve(db_name, request.collection_name)
            except MilvusError:
                return resp
            resp.collectionID = ref.collection_id
            resp.db_name = db_name
            resp.aliases[:] = self._aliases.aliases_of(db_name, ref.name)
        return resp

    def AllocTimestamp(self, request: Any, context: Any) -> Any:
        """Missing in milvus-lite; pymilvus calls it while waiting for an index. Hybrid TSO, logical 0."""
        return milvus_pb2.AllocTimestampResponse(status=status(), timestamp=now_ms() << 18)


def status_only(st: Any, _: object) -> Any:
    """The response of an RPC that answers with its Status alone."""
    return st
