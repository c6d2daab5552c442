"""A restore that ends serving traffic, on the real stack: an application keeps querying through an alias while
the operator restores, verifies, loads and switches it; rollback; Manual waits for its annotation; failed
verification never touches the alias; a deadline fails the restore while Milvus's job is still followed, and
onFailure: Drop waits for the job to end."""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any

import pytest

from testbed import seed
from testbed.processes import MilvusServer, OperatorProcess

from .operator_fixtures import TOKEN, Kube, connection_manifest, reasons, snapshot_manifest, wait_ready

pytestmark = pytest.mark.e2e


def restore(name: str, snapshot: str, target: str, **spec: Any) -> str:
    body = {
        "apiVersion": "snapshot.milvus.io/v1alpha1",
        "kind": "MilvusRestore",
        "metadata": {"name": name},
        "spec": {"source": {"snapshotRef": {"name": snapshot}}, "target": {"collectionName": target}, **spec},
    }
    return json.dumps(body)


class Reader:
    """An application: counts rows through the alias, as fast as it can, from its own client."""

    def __init__(self, uri: str, alias: str) -> None:
        self.client = seed.client(uri, TOKEN)
        self.alias = alias
        self.counts: list[int] = []
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.counts.append(seed.row_count(self.client, self.alias))
            except Exception as exc:  # any failed query is what this test is about
                self.errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.02)

    def __enter__(self) -> Reader:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.client.close()


def grow(books: Any, rows: int) -> None:
    """`rows` more books after the snapshot, so the restored data is told apart by its count."""
    rng = random.Random(5)
    data = [
        {"id": 10_000 + i, "vector": [rng.random() for _ in range(seed.DIM)], "title": "later"} for i in range(rows)
    ]
    books.insert("books", data)
    books.flush("books")


def test_alias_cutover_while_an_application_queries_then_rollback(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    kube.apply(connection_manifest(milvus))
    kube.apply(snapshot_manifest("gen1"))
    wait_ready(kube, "MilvusSnapshot", "gen1")
    grow(books, 50)
    books.create_alias("books", "library")
    with Reader(milvus.uri, "library") as app:
        kube.wait(lambda: app.counts, 30, "the application's first answer")
        kube.apply(restore("to-gen1", "gen1", "books_gen1", alias="library"))
        waited = kube.run("wait", "--for=condition=Ready", "mrestore/to-gen1", "--timeout=120s", check=False)
        assert waited.returncode == 0, waited.stderr
        kube.wait(lambda: app.counts[-1] == 300, 30, "answers from the restored collection")
        status = kube.status("MilvusRestore", "to-gen1")
        assert status["phase"] == "Completed"
        assert status["cutover"]["previousCollection"] == "books" and status["cutover"]["alias"] == "library"
        assert status["verification"]["rowCount"] == 300 and status["verification"]["expectedRowCount"] == 300
        assert status["load"]["state"] == "Loaded"
        assert books.describe_alias("library")["collection_name"] == "books_gen1"
        switched_at = len(app.counts)
        kube.run("annotate", "mrestore", "to-gen1", "snapshot.milvus.io/rollback=now")
        kube.wait_phase("MilvusRestore", "to-gen1", "RolledBack", timeout=60)
        kube.wait(lambda: app.counts[-1] == 350, 30, "answers from the previous collection again")
    assert app.errors == [], app.errors[:3]
    assert app.counts[0] == 350 and 300 in app.counts[:switched_at], "before, then after the switch"
    assert set(app.counts) == {350, 300}, "every answer came from one collection or the other"
    assert {"CutoverCompleted", "RolledBack"} <= reasons(kube, "to-gen1")


def test_manual_cutover_waits_for_the_annotation(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    kube.apply(connection_manifest(milvus))
    kube.apply(snapshot_manifest("gen1"))
    wait_ready(kube, "MilvusSnapshot", "gen1")
    books.create_alias("books", "library")
    kube.apply(restore("manual", "gen1", "books_manual", alias="library", cutover="Manual"))
    kube.wait_phase("MilvusRestore", "manual", "AwaitingCutover", timeout=90)
    time.sleep(3)
    assert books.describe_alias("library")["collection_name"] == "books", "nothing switched without the annotation"
    assert kube.condition("MilvusRestore", "manual") == ("Unknown", "Progressing")
    kube.run("annotate", "mrestore", "manual", "snapshot.milvus.io/cutover=now")
    kube.wait_phase("MilvusRestore", "manual", "Completed", timeout=60)
    assert books.describe_alias("library")["collection_name"] == "books_manual"


@pytest.mark.parametrize(
    ("fault", "check"),
    [({"restore_drop_rows": {"restores": 1, "rows": 7}}, "rowCount"), ({"restore_skip_indexes": 1}, "indexes")],
    ids=["rows-lost", "index-missing"],
)
def test_failed_verification_never_switches_the_alias(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess, fault: dict[str, Any], check: str
) -> None:
    kube.apply(connection_manifest(milvus))
    kube.apply(snapshot_manifest("gen1"))
    wait_ready(kube, "MilvusSnapshot", "gen1")
    books.create_alias("books", "library")
    milvus.faults(**fault)
    kube.apply(restore("doubtful", "gen1", "books_doubtful", alias="library"))
    status = kube.wait_phase("MilvusRestore", "doubtful", "Failed", timeout=90)
    assert status["state"] == "RestoreSnapshotCompleted", "Milvus said Completed; verification said no"
    assert status["error"]["reason"] == "VerificationFailed" and status["error"]["message"].startswith(f"{check}: ")
    assert kube.condition("MilvusRestore", "doubtful", "Stalled") == ("True", "VerificationFailed")
    assert books.describe_alias("library")["collection_name"] == "books"
    assert milvus.counters().get("AlterAlias", 0) == 0


def test_a_deadline_fails_a_slow_restore_and_its_job_is_still_reported(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    kube.apply(connection_manifest(milvus))
    kube.apply(snapshot_manifest("gen1"))
    wait_ready(kube, "MilvusSnapshot", "gen1")
    milvus.faults(restore_duration=12)
    kube.apply(restore("slow", "gen1", "books_slow", activeDeadlineSeconds=4, onFailure="Drop"))
    status = kube.wait_phase("MilvusRestore", "slow", "Failed", timeout=60)
    assert status["error"]["reason"] == "DeadlineExceeded" and "still followed" in status["error"]["message"]
    assert books.has_collection("books_slow"), "never dropped while Milvus's job runs"
    done = kube.wait(
        lambda: kube.status("MilvusRestore", "slow").get("targetDropped") and kube.status("MilvusRestore", "slow"),
        60,
        "the job to end and the target to be dropped",
    )
    assert done["state"] == "RestoreSnapshotCompleted" and done["jobEnded"] is True, "the job's end is reported"
    assert not books.has_collection("books_slow")
    assert {"RestoreFailed", "RestoreJobEnded", "TargetDropped"} <= reasons(kube, "slow")
