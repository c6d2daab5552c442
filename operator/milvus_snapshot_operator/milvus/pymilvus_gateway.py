"""The real MilvusGateway over pymilvus 3.0.2's AsyncMilvusClient, one dedicated channel per connection."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from pymilvus import AsyncMilvusClient

from .. import metrics
from .cafile import ca_file
from .coalesce import NextRound
from .errors import DATABASE_NOT_FOUND, classify
from .gateway import ErrorKind, IndexInfo, LoadState, MilvusError, RestoreJob, SnapshotInfo, VectorField
from .tlsprobe import speaks_tls

T = TypeVar("T")

# A collection name that cannot exist, used to ask whether the snapshot RPCs exist at all.
_PROBE_COLLECTION = "__milvus_snapshot_operator_probe__"
# AsyncMilvusClient.load_collection waits for 100 %: wait this long, then let the load go on and poll it.
_LOAD_WAIT_SECONDS = 2.0
# RPCs in flight at once per connection. The others wait here, before their timeout starts: a burst (1,000
# snapshots applied at once) otherwise queues up in the server, and what waits there longer than the timeout
# fails, is retried, and costs status writes.
MAX_IN_FLIGHT = 16


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """Everything needed to open a client. `token` is secret: never log or repr it."""

    uri: str
    db_name: str
    timeout: float
    token: str = dataclasses.field(default="", repr=False)
    secure: bool = False  # TLS, whatever the URI's scheme says (spec.tls asked for it)
    ca_pem: bytes | None = dataclasses.field(default=None, repr=False)
    server_name: str | None = None


class PymilvusGateway:
    """MilvusGateway implementation. Every call has a timeout; every failure becomes a MilvusError."""

    def __init__(self, endpoint: Endpoint) -> None:
        """Raises MilvusError(INVALID_ENDPOINT) when pymilvus refuses the endpoint; connects lazily."""
        self.endpoint = endpoint
        self._ca_path = ca_file(endpoint.ca_pem) if endpoint.ca_pem else None
        self._client = self._new_client(endpoint.db_name)
        # pymilvus 3.0.2 ignores a per-call db_name on RPCs whose requests have no db field (flush,
        # has_collection, get_collection_stats): they always go to the client's own database (the
        # `dbname` header). So those calls use one client per other database, created on first use.
        self._db_clients: dict[str, AsyncMilvusClient] = {}
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._flushes: NextRound[None] = NextRound()

    def _new_client(self, db_name: str) -> AsyncMilvusClient:
        endpoint = self.endpoint
        # `secure` is always passed explicitly: pymilvus infers it from an https:// scheme only, so a tls
        # block with another scheme would otherwise silently connect in plaintext.
        kwargs: dict[str, object] = {"dedicated": True, "secure": endpoint.secure}
        if endpoint.secure and self._ca_path:
            kwargs["server_pem_path"] = self._ca_path
        if endpoint.secure and endpoint.server_name:
            kwargs["server_name"] = endpoint.server_name
        try:
            return AsyncMilvusClient(
                uri=endpoint.uri, token=endpoint.token, db_name=db_name, timeout=endpoint.timeout, **kwargs
            )
        except Exception as exc:
            raise classify(exc) from exc

    def _in_db(self, db: str) -> AsyncMilvusClient:
        """The client whose requests go to database `db` (for RPCs without a db_name field)."""
        if not db or db == self.endpoint.db_name:
            return self._client
        client = self._db_clients.get(db)
        if client is None:
            client = self._db_clients[db] = self._new_client(db)
        return client

    async def close(self) -> None:
        for client in [self._client, *self._db_clients.values()]:
            with contextlib.suppress(Exception):
                await client.close()
        self._db_clients.clear()

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: object, **kwargs: object) -> T:
        async with self._slots:
            with metrics.rpc(fn.__name__):
                try:
                    return await fn(*args, timeout=self.endpoint.timeout, **kwargs)
                except Exception as exc:
                    raise classify(exc) from exc

    async def server_version(self) -> str:
        try:
            version = await self._call(self._client.get_server_version)
        except MilvusError as exc:
            if exc.kind == ErrorKind.UNAVAILABLE and not self.endpoint.secure and await speaks_tls(self.endpoint.uri):
                message = (
                    "the server speaks only TLS, but this connection is plaintext: use an https:// URI (or "
                    f"tcp:// with spec.tls): {exc.message}"
                )
                raise MilvusError(ErrorKind.TLS_MISMATCH, message) from exc
            raise
        return str(version)

    async def check_snapshot_support(self) -> None:
        try:
            await self._call(self._client.list_snapshots, collection_name=_PROBE_COLLECTION)
        except MilvusError as exc:
            if exc.kind not in (ErrorKind.COLLECTION_NOT_FOUND, ErrorKind.INVALID, ErrorKind.NOT_FOUND):
                raise
            if exc.code == DATABASE_NOT_FOUND:  # the RPC exists, but every snapshot here would fail
                raise MilvusError(ErrorKind.DATABASE_NOT_FOUND, exc.message, exc.code) from exc
            # Any other business answer (collection not found) proves the RPC exists.

    async def flush(self, collection: str, db: str) -> None:
        """A flush that began after this call: shared by every caller waiting for one of that collection."""
        client = self._in_db(db)
        await self._flushes((db, collection), lambda: self._call(client.flush, collection))

    async def collection_exists(self, collection: str, db: str) -> bool:
        return bool(await self._call(self._in_db(db).has_collection, collection))

    async def list_collections(self, db: str) -> list[str]:
        return [str(name) for name in await self._call(self._in_db(db).list_collections)]

    async def row_count(self, collection: str, db: str) -> int:
        stats = await self._call(self._in_db(db).get_collection_stats, collection)
        return int(stats.get("row_count", 0))

    async def create_snapshot(
        self, name: str, collection: str, db: str, description: str, compaction_protection_seconds: int
    ) -> None:
        await self._call(
            self._client.create_snapshot,
            name,
            collection,
            db_name=db,
            description=description,
            compaction_protection_seconds=compaction_protection_seconds,
        )

    async def describe_snapshot(self, name: str, collection: str, db: str) -> SnapshotInfo | None:
        try:
            info = await self._call(self._client.describe_snapshot, name, collection, db_name=db)
        except MilvusError as exc:
            if exc.kind == ErrorKind.NOT_FOUND:
                return None
            raise
        return SnapshotInfo(
            name=info.name,
            description=info.description,
            collection_name=info.collection_name,
            partition_names=tuple(info.partition_names),
            create_ts=int(info.create_ts),
            s3_location=info.s3_location,
        )

    async def list_snapshots(self, collection: str, db: str) -> list[str]:
        return list(await self._call(self._client.list_snapshots, collection_name=collection, db_name=db))

    async def drop_snapshot(self, name: str, collection: str, db: str) -> None:
        await self._call(self._client.drop_snapshot, name, collection, db_name=db)

    async def restore_snapshot(
        self, name: str, source_collection: str, source_db: str, target_collection: str, target_db: str
    ) -> int:
        job_id = await self._call(
            self._client.restore_snapshot,
            name,
            source_collection,
            target_collection,
            source_db_name=source_db,
            target_db_name=target_db,
        )
        return int(job_id)

    async def restore_state(self, job_id: int) -> RestoreJob | None:
        try:
            info = await self._call(self._client.get_restore_snapshot_state, job_id)
        except MilvusError as exc:
            if exc.kind == ErrorKind.NOT_FOUND:
                return None
            raise
        return _job(info)

    async def list_restore_jobs(self, db: str) -> list[RestoreJob]:
        jobs = await self._call(self._client.list_restore_snapshot_jobs, db_name=db)
        return [_job(job) for job in jobs]

    # -- serving a restored collection ------------------------------------------------------------------

    async def start_load(self, collection: str, db: str, replicas: int, resource_groups: list[str]) -> None:
        client = self._in_db(db)
        kwargs: dict[str, object] = {"replica_number": replicas}
        if resource_groups:
            kwargs["resource_groups"] = resource_groups
        try:
            await client.load_collection(collection, timeout=min(_LOAD_WAIT_SECONDS, self.endpoint.timeout), **kwargs)
        except Exception as exc:
            error = classify(exc)
            if error.kind == ErrorKind.UNAVAILABLE and "retry timeout" in error.message.lower():
                return  # still loading: Milvus goes on, the caller polls load_state
            raise error from exc

    async def load_state(self, collection: str, db: str) -> LoadState:
        found = await self._call(self._in_db(db).get_load_state, collection)
        state = getattr(found.get("state"), "name", str(found.get("state")))
        progress = int(found.get("progress", 100 if state == "Loaded" else 0))
        return LoadState(state=state, progress=progress)

    async def release(self, collection: str, db: str) -> None:
        await self._call(self._in_db(db).release_collection, collection)

    async def drop_collection(self, collection: str, db: str) -> None:
        await self._call(self._in_db(db).drop_collection, collection)

    async def indexes(self, collection: str, db: str) -> list[IndexInfo]:
        client = self._in_db(db)
        found = []
        for name in await self._call(client.list_indexes, collection):
            info = await self._call(client.describe_index, collection, name)
            if info is None:
                continue
            found.append(
                IndexInfo(
                    name=str(name),
                    field=str(info.get("field_name", "")),
                    state=str(info.get("state", "")),
                    pending_rows=int(info.get("pending_index_rows", 0)),
                )
            )
        return found

    async def vector_fields(self, collection: str, db: str) -> list[VectorField]:
        described = await self._call(self._in_db(db).describe_collection, collection)
        fields = []
        for field in described.get("fields", []):
            dtype = getattr(field.get("type"), "name", str(field.get("type")))
            if dtype.endswith("VECTOR"):
                dim = int((field.get("params") or {}).get("dim", 0) or 0)
                fields.append(VectorField(name=str(field["name"]), dim=dim, dtype=dtype))
        return fields

    async def search_hits(
        self, collection: str, db: str, field: str, vectors: list[list[float]], limit: int
    ) -> list[int]:
        found = await self._call(self._in_db(db).search, collection, data=vectors, limit=limit, anns_field=field)
        return [len(hits) for hits in found]

    async def alias_target(self, alias: str, db: str) -> str | None:
        try:
            found = await self._call(self._in_db(db).describe_alias, alias)
        except MilvusError as exc:
            if exc.kind == ErrorKind.NOT_FOUND:
                return None
            raise
        return str(found["collection_name"]) if found and found.get("collection_name") else None

    async def create_alias(self, collection: str, alias: str, db: str) -> None:
        await self._call(self._in_db(db).create_alias, collection, alias)

    async def alter_alias(self, collection: str, alias: str, db: str) -> None:
        await self._call(self._in_db(db).alter_alias, collection, alias)

    async def aliases_of(self, collection: str, db: str) -> list[str]:
        found = await self._call(self._in_db(db).list_aliases, collection)
        # The sync client answers {"aliases": [...]}, the async one (pymilvus 3.0.2) the bare repeated field.
        aliases = found.get("aliases", []) if isinstance(found, dict) else (found or [])
        return [str(alias) for alias in aliases]


class _JobInfo(Protocol):
    """pymilvus's RestoreSnapshotJobInfo (untyped in pymilvus): the fields read here."""

    job_id: int
    snapshot_name: str
    db_name: str
    collection_name: str
    state: str
    progress: int
    reason: str
    start_time: int
    time_cost: int


def _job(info: _JobInfo) -> RestoreJob:
    return RestoreJob(
        job_id=int(info.job_id),
        snapshot_name=str(info.snapshot_name),
        db_name=str(info.db_name),
        collection_name=str(info.collection_name),
        state=str(info.state),
        progress=int(info.progress),
        reason=str(info.reason),
        start_time_ms=int(info.start_time),
        time_cost_ms=int(info.time_cost),
    )
