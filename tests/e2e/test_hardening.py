"""Defects found by using the operator as a new user would, each reproduced on the real stack (API server,
operator process, Milvus test server) and fixed: the database chosen before the connection exists, namespace
deletion hanging on its own finalizers, a deletion racing a create, schedules and URIs the CRD admitted but
the code could not use, endpoints only an admin should allow, a connection finalizer that spins."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from testbed import seed
from testbed.cluster import Cluster
from testbed.processes import MilvusServer, OperatorProcess

from .operator_fixtures import (
    TOKEN,
    Kube,
    connection_manifest,
    reasons,
    snapshot_manifest,
    wait_condition,
    wait_counter,
    wait_ready,
)

pytestmark = pytest.mark.e2e


def test_database_comes_from_the_connection_even_when_applied_after_the_snapshot(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    """GitOps order: the snapshot first, its connection (dbName: prod) later. The snapshot used to persist
    `default` at once and then snapshot a same-named collection in the wrong database."""
    books.create_database("prod")
    prod = seed.client(milvus.uri, TOKEN, db="prod")
    seed.create_books(prod, rows=120)
    kube.apply(snapshot_manifest("early"))
    wait_condition(kube, "MilvusSnapshot", "early", ("False", "ConnectionNotFound"), timeout=60)
    assert "dbName" not in kube.status("MilvusSnapshot", "early"), "nothing derived before the connection exists"
    kube.apply(connection_manifest(milvus).replace("dbName: default", "dbName: prod"))
    status = wait_ready(kube, "MilvusSnapshot", "early")
    assert status["dbName"] == "prod" and status["sourceRowCount"] == 120
    assert prod.list_snapshots(collection_name="books") == ["early"]
    assert books.list_snapshots(collection_name="books") == []
    prod.close()


def test_namespace_deletion_finishes_and_drops_the_snapshot(
    control_plane: Cluster, crds: Cluster, milvus: MilvusServer, books: Any, tmp_path: Any
) -> None:
    """`kubectl delete namespace` with a Ready snapshot (Delete), its connection and its Secret: the Secret
    goes first, and the snapshot's finalizer still drops the snapshot with the credentials last used."""
    from .conftest import _namespace_name

    namespace = _namespace_name("namespace-deletion")
    control_plane.kubectl("create", "namespace", namespace)
    kube = Kube(crds, namespace)
    proc = OperatorProcess(crds.kubeconfig, [namespace], tmp_path / "operator.log").start()
    try:
        kube.apply(connection_manifest(milvus))
        kube.apply(snapshot_manifest("doomed"))
        wait_ready(kube, "MilvusSnapshot", "doomed")
        control_plane.kubectl("delete", "namespace", namespace, "--wait=false")
        kube.wait(
            lambda: namespace not in control_plane.kubectl("get", "namespaces", "-o", "name").stdout,
            60,
            "the namespace to go",
        )
        assert books.list_snapshots(collection_name="books") == [], "dropped, not orphaned"
        assert milvus.counters().get("DropSnapshot", 0) == 1
    finally:
        proc.stop()
        print(proc.text()[-20000:])
    assert "Traceback" not in proc.text()


def test_snapshot_deleted_while_its_create_is_in_flight_leaves_no_orphan(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    kube.apply(connection_manifest(milvus))
    wait_ready(kube, "MilvusConnection", "milvus")
    milvus.faults(latency={"CreateSnapshot": 3})
    kube.apply(snapshot_manifest("racing"))
    wait_counter(milvus, "CreateSnapshot")  # the create is in flight now
    kube.run("delete", "milvussnapshot", "racing", "--wait=false")
    kube.wait(lambda: kube.get("MilvusSnapshot", "racing") is None, 60, "deletion to finish")
    assert books.list_snapshots(collection_name="books") == [], "the create landed after the drop: an orphan"
    assert milvus.counters()["DropSnapshot"] == 1


def test_a_deletion_that_beats_an_adoption_leaves_the_snapshot_it_never_adopted(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    """Deleted while the adoption's describe is in flight: Kopf cancels the step, nothing was adopted (an adoption
    records no intent), so the finalizer lets go and the snapshot someone else made stays in Milvus, even under
    deletionPolicy Delete."""
    kube.apply(connection_manifest(milvus))
    wait_ready(kube, "MilvusConnection", "milvus")
    books.create_snapshot("handmade", collection_name="books")
    milvus.faults(latency={"DescribeSnapshot": 3})
    before = milvus.counters().get("DescribeSnapshot", 0)
    kube.apply(snapshot_manifest("adopting", snapshotName="handmade", adopt=True, deletionPolicy="Delete"))
    wait_counter(milvus, "DescribeSnapshot", before + 1)  # the adoption's describe is in flight now
    kube.run("delete", "milvussnapshot", "adopting", "--wait=false")
    kube.wait(lambda: kube.get("MilvusSnapshot", "adopting") is None, 60, "deletion to finish")
    assert books.list_snapshots(collection_name="books") == ["handmade"]
    assert milvus.counters().get("DropSnapshot", 0) == 0


def test_a_schedule_that_can_never_run_is_reported_not_crashed(
    kube: Kube, milvus: MilvusServer, operator: OperatorProcess
) -> None:
    """`0 0 30 2 *` is refused at apply time (tests/e2e/invalid); a list CEL cannot see through is refused by
    the operator as InvalidSchedule naming the field. It used to crash the daemon on every attempt."""
    body = {
        "apiVersion": "snapshot.milvus.io/v1alpha1",
        "kind": "MilvusSnapshotSchedule",
        "metadata": {"name": "never"},
        "spec": {
            "schedule": "0 0 30,31 2 *",
            "template": {"connectionRef": {"name": "milvus"}, "collectionName": "books"},
        },
    }
    kube.apply(json.dumps(body))
    wait_condition(kube, "MilvusSnapshotSchedule", "never", ("False", "InvalidSchedule"), timeout=60)
    status = kube.status("MilvusSnapshotSchedule", "never")
    assert "spec.schedule" in status["error"]["message"] and "never matches" in status["error"]["message"]
    assert kube.condition("MilvusSnapshotSchedule", "never", "Stalled") == ("True", "InvalidSchedule")


@pytest.mark.operator_env(MSO_ALLOWED_ENDPOINTS="*.milvus.svc.cluster.local,10.20.0.0/16")
def test_endpoints_the_admin_does_not_allow_are_never_contacted(
    kube: Kube, milvus: MilvusServer, operator: OperatorProcess
) -> None:
    kube.apply(connection_manifest(milvus))
    kube.apply(snapshot_manifest("elsewhere"))
    wait_condition(kube, "MilvusConnection", "milvus", ("False", "EndpointNotAllowed"), timeout=60)
    assert kube.condition("MilvusConnection", "milvus", "Stalled") == ("True", "EndpointNotAllowed")
    wait_condition(kube, "MilvusSnapshot", "elsewhere", ("False", "EndpointNotAllowed"), timeout=60)
    message = kube.status("MilvusSnapshot", "elsewhere")["error"]["message"]
    assert "MilvusConnection 'milvus'" in message and "MSO_ALLOWED_ENDPOINTS" in message
    time.sleep(2)
    assert milvus.counters() == {}, "checked before any connection is opened"


def test_connection_deletion_waits_quietly_for_its_snapshots(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    """It used to retry every 2 s forever: a PATCH of its progress annotations and an ERROR line each time."""
    kube.apply(connection_manifest(milvus))
    kube.apply(snapshot_manifest("user"))
    wait_ready(kube, "MilvusSnapshot", "user")
    kube.run("delete", "milvusconnection", "milvus", "--wait=false")
    kube.wait(lambda: "DeletionWaiting" in reasons(kube, "milvus"), 30, "DeletionWaiting event")
    before = kube.get("MilvusConnection", "milvus")
    assert before is not None
    time.sleep(10)
    after = kube.get("MilvusConnection", "milvus")
    assert after is not None, "kept while the snapshot needs it"
    assert int(after["metadata"]["resourceVersion"]) - int(before["metadata"]["resourceVersion"]) <= 1
    assert [r for _, r, _ in kube.events("milvus")].count("DeletionWaiting") == 1
    kube.run("delete", "milvussnapshot", "user")
    kube.wait(lambda: kube.get("MilvusConnection", "milvus") is None, 30, "connection deleted after its user")
    assert books.list_snapshots(collection_name="books") == []
    loud = [line for line in operator.text().splitlines() if "ERROR" in line and "connection_deleted" in line]
    assert loud == [], loud[:3]


# ---- TLS: asked for means TLS or a named reason ------------------------------------------------------------


def _tls_connection(name: str, uri: str, ca: bytes, **tls: Any) -> str:
    import base64

    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{name}-ca"},
        "data": {"ca.crt": base64.b64encode(ca).decode()},
    }
    connection = {
        "apiVersion": "snapshot.milvus.io/v1alpha1",
        "kind": "MilvusConnection",
        "metadata": {"name": name},
        "spec": {
            "uri": uri,
            "credentialsSecretRef": {"name": "milvus-credentials"},
            "tls": {"caSecretRef": {"name": f"{name}-ca"}, **tls},
        },
    }
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [secret, connection]})


def test_tls_verified_or_a_named_reason(
    kube: Kube, milvus: MilvusServer, operator: OperatorProcess, tmp_path: Any
) -> None:
    from testbed.certs import ensure_serving_tls

    pki = ensure_serving_tls(tmp_path / "pki")
    tls = MilvusServer(tmp_path / "milvus-tls", "--user", TOKEN, tls=pki).start()
    try:
        books = seed.client(f"https://127.0.0.1:{tls.port}", TOKEN, ca=str(pki.ca_crt))
        seed.create_books(books, rows=50)
        kube.apply(connection_manifest(milvus))  # creates the credentials Secret too (plaintext server)
        # Verified TLS, with the tcp:// scheme: the tls block alone turns TLS on.
        kube.apply(_tls_connection("secure", f"tcp://127.0.0.1:{tls.port}", pki.ca_crt.read_bytes()))
        kube.apply(snapshot_manifest("over-tls").replace('"milvus"', '"secure"'))
        status = wait_ready(kube, "MilvusSnapshot", "over-tls")
        assert status["endpoint"] == f"127.0.0.1:{tls.port}" and books.list_snapshots(collection_name="books") == [
            "over_tls"
        ]
        # A CA that did not sign the server's certificate.
        kube.apply(_tls_connection("wrong-ca", f"https://127.0.0.1:{tls.port}", pki.other_ca_crt.read_bytes()))
        wait_condition(kube, "MilvusConnection", "wrong-ca", ("False", "TLSHandshakeFailed"), timeout=60)
        # TLS asked for, plaintext server: never falls back to plaintext (the token would go in clear).
        kube.apply(_tls_connection("to-plain", f"tcp://127.0.0.1:{milvus.port}", pki.ca_crt.read_bytes()))
        wait_condition(kube, "MilvusConnection", "to-plain", ("False", "TLSMismatch"), timeout=60)
        # Plaintext asked for, TLS-only server: named, not "Unreachable".
        plain = {
            "apiVersion": "snapshot.milvus.io/v1alpha1",
            "kind": "MilvusConnection",
            "metadata": {"name": "plain-to-tls"},
            "spec": {"uri": f"http://127.0.0.1:{tls.port}", "credentialsSecretRef": {"name": "milvus-credentials"}},
        }
        kube.apply(json.dumps(plain))
        wait_condition(kube, "MilvusConnection", "plain-to-tls", ("False", "TLSMismatch"), timeout=60)
        message = kube.status("MilvusConnection", "plain-to-tls")["error"]["message"]
        assert "speaks only TLS" in message and TOKEN not in message
        books.close()
    finally:
        kube.run("delete", "milvussnapshots,milvusconnections", "--all", "--wait=true", "--timeout=60s", check=False)
        tls.stop()


def test_restore_whose_reply_is_lost_adopts_the_job_pymilvus_resent(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    """Milvus runs RestoreSnapshot but the reply is lost (UNAVAILABLE): pymilvus re-sends it and gets
    "duplicate collection". That used to be TargetCollectionExists, Failed, with the first job running
    untracked; now the jobs are listed again and the running one adopted."""
    kube.apply(connection_manifest(milvus))
    kube.apply(snapshot_manifest("src"))
    wait_ready(kube, "MilvusSnapshot", "src")
    milvus.faults(lose_reply={"RestoreSnapshot": 1})
    kube.apply(
        json.dumps(
            {
                "apiVersion": "snapshot.milvus.io/v1alpha1",
                "kind": "MilvusRestore",
                "metadata": {"name": "lost-reply"},
                "spec": {"source": {"snapshotRef": {"name": "src"}}, "target": {"collectionName": "restored_lost"}},
            }
        )
    )
    status = kube.wait_phase("MilvusRestore", "lost-reply", "Completed", timeout=90)
    jobs = [job for job in books.list_restore_snapshot_jobs() if job.collection_name == "restored_lost"]
    assert [job.job_id for job in jobs] == [status["jobId"]], "one restore, one job, and it is the one followed"
    assert milvus.counters()["RestoreSnapshot"] >= 2  # the lost reply, and pymilvus's re-send
    assert status["targetRowCount"] == 300
