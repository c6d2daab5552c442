"""Restore jobs: the synchronous RestoreSnapshot phase and the async copy-segment job lifecycle.

Mirrors Milvus 3.0's RestoreSnapshot, GetRestoreSnapshotState, ListRestoreSnapshotJobs and copy-segment jobs:
the RPC validates, pins the source, stages the files and creates the empty target, then a checker ticking
every `restore_tick` seconds moves each job Pending -> Executing -> Completed/Failed. Data appears in the
target only at Completed. Jobs are kept in the catalog (so they survive a restart and resume) until
`job_retention` after they end.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass

from . import engine
from .aliases import AliasService
from .catalog import COMPLETED, EXECUTING, FAILED, PENDING, Pin, RestoreJob
from .errors import (
    DUPLICATE_COLLECTION,
    SNAPSHOT_NOT_FOUND,
    MilvusError,
    missing,
    restore_job_not_found,
)
from .faults import Faults
from .names import validate_name
from .snapshots import SnapshotService, new_pin_id, now_ms

logger = logging.getLogger(__name__)

SEGMENTS_PER_TASK = 10


@dataclass
class JobView:
    """The fields of milvus_pb2.RestoreSnapshotInfo."""

    job_id: int
    snapshot_name: str
    db_name: str
    collection_name: str
    state: int
    progress: int
    reason: str
    start_time: int
    time_cost: int


class RestoreJobs:
    def __init__(self, service: SnapshotService, aliases: AliasService, faults: Faults) -> None:
        self._svc = service
        self._aliases = aliases
        self._faults = faults
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ── RPCs ────────────────────────────────────────────────────

    def start(self, name: str, src_db: str, src_collection: str, dst_db: str, dst_collection: str) -> int:
        validate_name(name, "snapshot name")
        if not src_collection:
            raise missing("collection_name is required for restore snapshot")
        if not dst_collection:
            raise missing("target_collection_name is required for restore snapshot")
        validate_name(dst_collection, "collection name")
        svc = self._svc
        with svc.lock:
            src = svc.resolve(src_db, src_collection)
            snap = svc.catalog.find_snapshot(src.collection_id, name)
            if snap is None:
                raise MilvusError(
                    SNAPSHOT_NOT_FOUND,
                    "failed to pin source snapshot under restore lock: "
                    f"collection {src.collection_id}: snapshot not found[snapshot={name}]",
                )
            svc.require_db(dst_db)
            self._aliases.check_creatable(dst_db, dst_collection, "failed to restore collection: ")
            if svc.db.has_collection(dst_collection, database_name=dst_db):
                raise MilvusError(
                    DUPLICATE_COLLECTION,
                    "failed to restore collection: create duplicate collection with different "
                    f"parameters, collection: {dst_collection}",
                )
            job_id = svc.catalog.alloc_id()
            staging = os.path.join(svc.catalog.staging_root, str(job_id))
            skip_indexes = self._faults.take_restore_index_skip()
            engine.stage_snapshot(svc.db, src.db_name, src.name, snap.engine_name, staging)
            try:
                engine.create_empty_target(svc.db, staging, dst_db, dst_collection, indexes=not skip_indexes)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            target = svc.resolve(dst_db, dst_collection)
            pin = Pin(new_pin_id(), time.time() + self._faults.restore_pin_ttl, owner=f"restore:{job_id}")
            fail_reason = self._faults.take_restore_failure()
            job = RestoreJob(
                job_id=job_id,
                snapshot_name=snap.name,
                target_collection_id=target.collection_id,
                staging_dir=staging,
                total_segments=snap.segments,
                start_ms=now_ms(),
                will_fail=fail_reason is not None,
                fail_reason=fail_reason or "",
                pin_id=pin.pin_id,
                drop_rows=self._faults.take_restore_row_loss(),
                skip_indexes=skip_indexes,
            )
            with svc.catalog.batch():
                svc.catalog.add_pin(snap, pin)
                svc.catalog.put_job(job)
            return job_id

    def get(self, job_id: int) -> JobView:
        with self._svc.lock:
            job = self._svc.catalog.jobs.get(job_id)
            if job is None or self._expired(job, time.time()):
                raise restore_job_not_found(job_id)
            return self._view(job)

    def list(self, db_name: str, collection: str) -> list[JobView]:
        with self._svc.lock:
            target_id = self._svc.resolve(db_name, collection).collection_id if collection else None
            now = time.time()
            views = []
            for job in self._svc.catalog.jobs.values():
                if self._expired(job, now):
                    continue
                if target_id is not None and job.target_collection_id != target_id:
                    continue
                ref = self._svc.ref_of(job.target_collection_id)
                if ref is None or ref.db_name != db_name:
                    continue
                views.append(self._view(job))
            return views

    # ── lifecycle ───────────────────────────────────────────────

    def tick(self) -> None:
        """One checker pass: advance every live job one step and forget expired ones."""
        with self._svc.lock, self._svc.catalog.batch():
            now = time.time()
            for job in list(self._svc.catalog.jobs.values()):
                if job.terminal:
                    if self._expired(job, now):
                        self._svc.catalog.remove_job(job.job_id)
                    continue
                if job.state == PENDING:
                    if job.total_segments == 0:
                        self._finish(job)
                    else:
                        job.state, job.executing_since = EXECUTING, now
                elif not self._advance(job, now):
                    continue
                self._svc.catalog.put_job(job)

    def _advance(self, job: RestoreJob, now: float) -> bool:
        duration = self._faults.restore_duration
        elapsed = now - job.executing_since
        if elapsed >= duration:
            self._finish(job)
            return True
        copied = min(job.total_segments, int(job.total_segments * elapsed / duration))
        if copied == job.copied_segments:
            return False
        job.copied_segments = copied
        return True

    def _finish(self, job: RestoreJob) -> None:
        tasks = max(1, -(-job.total_segments // SEGMENTS_PER_TASK))
        target = self._svc.ref_of(job.target_collection_id)
        if job.will_fail:
            self._fail(job, job.fail_reason)
        elif target is None:
            self._fail(job, f"{tasks}/{tasks} tasks failed")
        else:
            try:
                if job.total_segments:
                    engine.install_staged(
                        self._svc.db,
                        job.staging_dir,
                        target.db_name,
                        target.name,
                        indexes=not job.skip_indexes,
                        drop_rows=job.drop_rows,
                    )
                else:
                    job.reason = "no segments to copy"
                    shutil.rmtree(job.staging_dir, ignore_errors=True)
                job.copied_segments = job.total_segments
                job.state = COMPLETED
            except Exception:
                logger.exception("restore job %d: installing segments failed", job.job_id)
                self._fail(job, f"{tasks}/{tasks} tasks failed")
        job.complete_ms = now_ms()
        self._svc.release_pin(job.pin_id)

    @staticmethod
    def _fail(job: RestoreJob, reason: str) -> None:
        job.state, job.reason = FAILED, reason
        shutil.rmtree(job.staging_dir, ignore_errors=True)

    def _expired(self, job: RestoreJob, now: float) -> bool:
        return job.terminal and now - job.complete_ms / 1000 >= self._faults.job_retention

    def _view(self, job: RestoreJob) -> JobView:
        target = self._svc.ref_of(job.target_collection_id)
        if job.state == PENDING:
            progress = self._faults.pending_progress
        elif job.total_segments == 0:
            progress = 100
        else:
            progress = job.copied_segments * 100 // job.total_segments
        return JobView(
            job_id=job.job_id,
            snapshot_name=job.snapshot_name,
            db_name=target.db_name if target else "",
            collection_name=target.name if target else "",
            state=job.state,
            progress=progress,
            reason=job.reason,
            start_time=job.start_ms,
            time_cost=job.complete_ms - job.start_ms if job.complete_ms else 0,
        )

    # ── checker thread ──────────────────────────────────────────

    def start_checker(self) -> None:
        self._thread = threading.Thread(target=self._run, name="milvusd-restore-checker", daemon=True)
        self._thread.start()

    def stop_checker(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(0.02):
            if time.monotonic() - last < self._faults.restore_tick:
                continue
            last = time.monotonic()
            try:
                self.tick()
            except Exception:
                logger.exception("restore checker pass failed")
