"""A MilvusConnection's inventory on the real testbed: after the namespace's resources are deleted with Retain
and only the schedule is re-applied, import brings the history back, it joins its schedule, retention prunes it
by its rules (and never has it imported again), and restores by reference work again."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import yaml

from testbed.processes import MilvusServer, OperatorProcess

from .operator_fixtures import Kube, connection_manifest, restore_manifest, snapshot_manifest, typed_reasons
from .test_schedules import SCHEDULE, children, milvus_name, run_once, schedule_manifest

pytestmark = pytest.mark.e2e
CONNECTION = "MilvusConnection"
IMPORTED = "snapshot.milvus.io/imported=true"
RETAIN = {"connectionRef": {"name": "milvus"}, "collectionName": "books", "deletionPolicy": "Retain"}


def connection_with(milvus: MilvusServer, name: str = "milvus", **inventory: Any) -> str:
    docs = list(yaml.safe_load_all(connection_manifest(milvus)))
    for doc in docs:
        if doc["kind"] == CONNECTION:
            doc["metadata"]["name"] = name
            if inventory:
                doc["spec"]["inventory"] = inventory
    return yaml.safe_dump_all(docs)


def imported(kube: Kube) -> dict[str, dict[str, Any]]:
    proc = kube.run("get", "milvussnapshots", "-l", IMPORTED, "-o", "json")
    return {item["metadata"]["name"]: item for item in json.loads(proc.stdout)["items"]}


def inventory(kube: Kube, name: str = "milvus") -> dict[str, Any]:
    return dict(kube.status(CONNECTION, name).get("inventory") or {})


def passes(kube: Kube, count: int, name: str = "milvus") -> None:
    """Wait for `count` more inventory passes of the connection."""
    seen = {inventory(kube, name).get("lastPassTime")}
    for _ in range(count):
        kube.wait(lambda: inventory(kube, name).get("lastPassTime") not in seen, 60, "the next inventory pass")
        seen.add(inventory(kube, name).get("lastPassTime"))


def books_counts(kube: Kube) -> dict[str, Any]:
    entry = next((c for c in inventory(kube).get("collections", []) if c["name"] == "books"), {})
    return {k: entry.get(k) for k in ("snapshots", "represented", "unrepresented", "outsideRetention")}


@pytest.mark.operator_env(MSO_RETENTION_INTERVAL_SECONDS="2")
def test_history_comes_back_joins_its_schedule_and_retention_prunes_it(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    # The first life of the namespace: a schedule keeping 2 (Retain), three runs, a snapshot made by hand.
    kube.apply(connection_with(milvus))
    kube.apply(schedule_manifest("books-daily", template=RETAIN, retention={"keepLast": 2}))
    runs = [run_once(kube, "books-daily", str(i)) for i in (1, 2, 3)]
    kube.wait(lambda: sorted(children(kube, "books-daily")) == runs[1:], 30, "retention keeps the last 2")
    kube.apply(snapshot_manifest("before-migration", deletionPolicy="Retain"))
    kube.wait_phase("MilvusSnapshot", "before-migration", "Ready")
    in_milvus = sorted([*(milvus_name(r) for r in runs), "before_migration"])
    assert sorted(books.list_snapshots(collection_name="books")) == in_milvus  # the first run was retained

    # Every resource goes (Retain: Milvus keeps its snapshots); GitOps re-applies the schedule only.
    kube.run("delete", "milvussnapshotschedules,milvussnapshots", "--all", "--wait=true", "--timeout=60s")
    assert sorted(books.list_snapshots(collection_name="books")) == in_milvus
    kube.apply(schedule_manifest("books-daily", template=RETAIN, retention={"keepLast": 2}))

    # Counting first: four snapshots nobody represents.
    kube.apply(connection_with(milvus, intervalSeconds=5))
    kube.wait(lambda: books_counts(kube)["unrepresented"] == 4, 60, "the inventory counts 4 unrepresented")
    assert imported(kube) == {} and inventory(kube)["pending"] == 0

    # Import on, from two connections to the same Milvus at once: each snapshot is imported once.
    spec = {"intervalSeconds": 5, "import": {"enabled": True}}
    kube.apply(connection_with(milvus, **spec) + "---\n" + connection_with(milvus, "milvus-again", **spec))
    expected = {*runs[1:], "before-migration"}
    kube.wait(lambda: set(imported(kube)) == expected, 60, f"{sorted(expected)} imported")
    for name in expected:
        status = kube.wait_phase("MilvusSnapshot", name, "Ready")
        assert status["adopted"] is True and status["deletionPolicy"] == "Retain"
    child = imported(kube)[runs[2]]
    assert child["metadata"]["labels"]["snapshot.milvus.io/schedule"] == "books-daily"
    schedule_uid = kube.get(SCHEDULE, "books-daily")["metadata"]["uid"]  # type: ignore[index]
    assert child["metadata"]["annotations"]["snapshot.milvus.io/schedule-uid"] == schedule_uid
    assert child["spec"]["snapshotName"] == milvus_name(runs[2])
    # the first run was pruned by the schedule before: importing it would only have it pruned again
    kube.wait(
        lambda: books_counts(kube) == {"snapshots": 4, "represented": 3, "unrepresented": 1, "outsideRetention": 1},
        60,
        "the inventory counts what the import left out",
    )
    assert books_counts(kube) == {"snapshots": 4, "represented": 3, "unrepresented": 1, "outsideRetention": 1}
    assert set(imported(kube)) == expected  # the second connection imported nothing again
    assert ("Normal", "SnapshotsImported") in typed_reasons(kube, "milvus") | typed_reasons(kube, "milvus-again")

    # Restores by reference work again: the old names are back.
    kube.apply(restore_manifest("from-hand", "before-migration", "books_before"))
    kube.apply(restore_manifest("from-run", runs[2], "books_latest"))
    kube.wait_phase("MilvusRestore", "from-hand", "Completed")
    kube.wait_phase("MilvusRestore", "from-run", "Completed")

    # The schedule goes on; retention counts the history and prunes it by its rules (keepLast 2).
    fourth = run_once(kube, "books-daily", "4")
    kube.wait(lambda: sorted(children(kube, "books-daily")) == [runs[2], fourth], 30, f"{runs[1]} pruned")
    assert milvus_name(runs[1]) in books.list_snapshots(collection_name="books")  # Retain: Milvus keeps it
    passes(kube, 2)
    assert sorted(children(kube, "books-daily")) == [runs[2], fourth]  # not imported again
    assert inventory(kube)["imported"] == 0
    assert books_counts(kube) == {"snapshots": 5, "represented": 3, "unrepresented": 2, "outsideRetention": 2}

    # The user's word twice (the schedule's template and the import say Delete): the pruned history is imported
    # once more, and retention drops it in Milvus this time.
    kube.apply(
        schedule_manifest("books-daily", template={**RETAIN, "deletionPolicy": "Delete"}, retention={"keepLast": 2})
    )
    time.sleep(1)  # the operator's index sees the template first
    delete = {"intervalSeconds": 5, "import": {"enabled": True, "deletionPolicy": "Delete"}}
    kube.apply(connection_with(milvus, **delete))
    kept = sorted([milvus_name(runs[2]), milvus_name(fourth), "before_migration"])
    kube.wait(lambda: sorted(books.list_snapshots(collection_name="books")) == kept, 60, "retention drops the rest")
    passes(kube, 2)
    assert sorted(children(kube, "books-daily")) == [runs[2], fourth]
    assert books_counts(kube) == {"snapshots": 3, "represented": 3, "unrepresented": 0, "outsideRetention": 0}
    assert sorted(books.list_snapshots(collection_name="books")) == kept

    # Import off before the teardown deletes everything (a pass would see the deleted ones as unrepresented).
    kube.apply(connection_with(milvus) + "---\n" + connection_with(milvus, "milvus-again"))
    kube.wait(lambda: "inventory" not in kube.status(CONNECTION, "milvus"), 30, "inventory status removed")
