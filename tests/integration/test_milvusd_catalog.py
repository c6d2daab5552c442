"""milvusd's catalog (collection IDs, snapshots, pins, restore jobs) is durable like Milvus's etcd.

A SIGKILLed server comes back with every snapshot, pin and job it acknowledged, and a job caught
mid-restore finishes after the restart. A data directory from before the SQLite catalog is taken over.
"""

from __future__ import annotations

import json
import signal
from dataclasses import asdict
from pathlib import Path

import pytest
from pymilvus.exceptions import MilvusException

from testbed import seed
from testbed.milvusd.catalog import CATALOG_DIRNAME, LEGACY_FILENAME, Catalog, CollectionRef, Pin, RestoreJob, Snapshot
from testbed.processes import MilvusServer

from .conftest import USER_TOKEN, wait_job

pytestmark = pytest.mark.integration


def test_snapshots_pins_and_jobs_survive_sigkill(own_server: MilvusServer) -> None:
    client = seed.client(own_server.uri, USER_TOKEN)
    try:
        seed.create_books(client, "kept", rows=50)
        client.create_snapshot("before_kill", "kept", description="durable")
        pin_id = client.pin_snapshot_data("before_kill", "kept", ttl_seconds=0)
        own_server.faults(restore_tick=60)  # the job stays Pending until after the restart
        job_id = client.restore_snapshot("before_kill", "kept", "restored")
        info = client.describe_snapshot("before_kill", "kept")
    finally:
        client.close()

    own_server.stop(signal.SIGKILL)
    own_server.start()

    client = seed.client(own_server.uri, USER_TOKEN)
    try:
        assert client.list_snapshots("kept") == ["before_kill"]
        assert client.describe_snapshot("before_kill", "kept") == info  # same create_ts, same s3_location
        with pytest.raises(MilvusException, match="2 active pins, unpin before dropping"):
            client.drop_snapshot("before_kill", "kept")  # the user pin and the restore's pin
        done = wait_job(lambda: client.get_restore_snapshot_state(job_id))  # the checker resumes the job
        assert (done.state, done.collection_name) == ("RestoreSnapshotCompleted", "restored")
        assert client.get_collection_stats("restored")["row_count"] == 50
        client.unpin_snapshot_data(pin_id)
        client.drop_snapshot("before_kill", "kept")  # both pins are gone now
        assert client.list_snapshots("kept") == []
    finally:
        client.close()


def test_a_json_catalog_from_before_is_taken_over_once(tmp_path: Path) -> None:
    root = tmp_path / CATALOG_DIRNAME
    root.mkdir()
    ref = CollectionRef(7 << 18, "default", "books", loaded=True)
    snap = Snapshot(
        8 << 18, ref.collection_id, "nightly", "", 9 << 18, ["_default"], 1, "milvusd_8", 0.0, [Pin(5, 0.0)]
    )
    job = RestoreJob(10 << 18, "nightly", 11 << 18, str(tmp_path / "staging"))
    legacy = root / LEGACY_FILENAME
    legacy.write_text(
        json.dumps(
            {
                "version": 1,
                "last_id": 12 << 18,
                "collections": [asdict(ref)],
                "snapshots": [asdict(snap)],
                "jobs": [asdict(job)],
            }
        )
    )

    catalog = Catalog(str(tmp_path))
    catalog.close()
    reopened = Catalog(str(tmp_path))  # the second open reads SQLite only
    try:
        assert not legacy.exists()
        assert (root / (LEGACY_FILENAME + ".imported")).exists()
        assert reopened.collections == {ref.collection_id: ref}
        assert reopened.find_snapshot(ref.collection_id, "nightly") == snap
        assert reopened.jobs == {job.job_id: job}
        assert reopened.last_id == 12 << 18
        assert reopened.remove_pin(5)
        assert reopened.find_snapshot(ref.collection_id, "nightly").pins == []  # type: ignore[union-attr]
    finally:
        reopened.close()
