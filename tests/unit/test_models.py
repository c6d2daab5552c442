"""Spec defaults and validation: bad input names the field."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from milvus_snapshot_operator.api.connection import MilvusConnectionSpec
from milvus_snapshot_operator.api.restore import MilvusRestoreStatus
from milvus_snapshot_operator.api.snapshot import MilvusSnapshotSpec, MilvusSnapshotStatus
from milvus_snapshot_operator.config import OperatorConfig


def test_snapshot_defaults() -> None:
    spec = MilvusSnapshotSpec.model_validate({"connectionRef": {"name": "m"}, "collectionName": "books"})
    assert spec.flush is True and spec.compaction_protection_seconds == 0 and spec.adopt is False
    assert spec.effective_deletion_policy() == "Delete"
    assert spec.to_wire() == {
        "connectionRef": {"name": "m"},
        "collectionName": "books",
        "description": "",
        "flush": True,
        "compactionProtectionSeconds": 0,
        "adopt": False,
    }


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"collectionName": "my-books"}, "collectionName"),
        ({"snapshotName": "nightly.v2"}, "snapshotName"),
        ({"compactionProtectionSeconds": 604801}, "compactionProtectionSeconds"),
        ({"deletionPolicy": "Orphan"}, "deletionPolicy"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_snapshot_invalid_names_the_field(patch: dict[str, object], field: str) -> None:
    data: dict[str, object] = {"connectionRef": {"name": "m"}, "collectionName": "books", **patch}
    with pytest.raises(ValidationError) as info:
        MilvusSnapshotSpec.model_validate(data)
    assert field in str(info.value)


def test_connection_defaults() -> None:
    spec = MilvusConnectionSpec.model_validate({"uri": "http://milvus:19530"})
    assert spec.db_name == "default" and spec.timeout_seconds == 30


def test_status_round_trip() -> None:
    raw = {"phase": "Ready", "readyToUse": True, "createTs": 445_644_800_000_000_000, "conditions": []}
    assert MilvusSnapshotStatus.model_validate(raw).to_wire() == raw
    restore = {"phase": "Restoring", "jobId": 4_611_686_018_427_387_903, "progress": 40}
    assert MilvusRestoreStatus.model_validate(restore).to_wire() == {**restore, "conditions": []}


def test_config_from_env() -> None:
    cfg = OperatorConfig.from_env({"MSO_RESTORE_POLL_SECONDS": "0.5", "UNRELATED": "x"})
    assert cfg.restore_poll_seconds == 0.5 and cfg.drift_check_seconds == 300
    with pytest.raises(ValueError, match="MSO_RESTORE_POLL_SECONDS='0': Input should be greater than 0"):
        OperatorConfig.from_env({"MSO_RESTORE_POLL_SECONDS": "0"})


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MSO_ALLOWED_ENDPOINTS": "10.0.0.0/33"}, "MSO_ALLOWED_ENDPOINTS: allowed endpoint '10.0.0.0/33'"),
        ({"MSO_RESTORE_POLL_SECONDS": "abc"}, "MSO_RESTORE_POLL_SECONDS='abc'"),
    ],
)
def test_a_bad_setting_stops_the_process_before_kopf_starts(env: dict[str, str], named: str) -> None:
    # A startup handler's exception is retried by Kopf forever: the process would hang, never exit.
    proc = subprocess.run(
        [sys.executable, "-m", "milvus_snapshot_operator", "-n", "nowhere"],
        env={**os.environ, **env, "KUBECONFIG": "/nonexistent"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and named in proc.stderr, proc.stderr
