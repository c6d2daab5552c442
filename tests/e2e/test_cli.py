"""The kubectl plugin (`kubectl-milvus_snapshot`, the console script the package installs) against the real
testbed, the operator process and the Milvus test server: exit codes and what it prints."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from testbed.cluster import Cluster
from testbed.processes import MilvusServer, OperatorProcess, child_env

from .operator_fixtures import Kube, connection_manifest

pytestmark = pytest.mark.e2e
PLUGIN = Path(sys.executable).parent / "kubectl-milvus_snapshot"
NEVER = "0 0 1 1 *"  # a schedule that never ticks during a test


def plugin(
    kube: Kube | None, *argv: str, kubeconfig: Path | None = None, timeout: float = 180, use_kubectl: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the installed console script (or `kubectl milvus-snapshot`) as a user would, in the test namespace."""
    assert PLUGIN.is_file(), f"{PLUGIN} missing: the console script comes with `pip install -e .` (make venv)"
    config = kubeconfig or (kube.cluster.kubeconfig if kube else None)
    env = child_env({"KUBECONFIG": str(config), "HOME": str(Path(str(config)).parent), "PATH": str(PLUGIN.parent)})
    namespace = ["-n", kube.namespace] if kube else []
    if use_kubectl:
        assert kube is not None
        argv_ = [str(kube.cluster.kubectl_path), "milvus-snapshot", *argv, *namespace]
    else:
        argv_ = [str(PLUGIN), *argv, *namespace]
    proc = subprocess.run(argv_, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    print(f"$ {' '.join(argv_)}  (exit {proc.returncode})\n{proc.stdout}{proc.stderr}")  # shown on failure
    return proc


def created_name(stdout: str, kind: str) -> str:
    match = re.search(rf"^{kind}\.snapshot\.milvus\.io/(\S+) created", stdout, re.M)
    assert match, stdout
    return match.group(1)


def row(stdout: str, ref: str) -> list[str]:
    """The cells after the tree drawing of the `status` line for `ref` (e.g. msnap/x)."""
    for line in stdout.splitlines():
        if re.search(rf"(^|\s){re.escape(ref)}\s", line):
            return line[line.index(ref) :].split()
    raise AssertionError(f"no line for {ref} in:\n{stdout}")


def schedule_manifest(name: str) -> str:
    return json.dumps(
        {
            "apiVersion": "snapshot.milvus.io/v1alpha1",
            "kind": "MilvusSnapshotSchedule",
            "metadata": {"name": name},
            "spec": {"schedule": NEVER, "template": {"connectionRef": {"name": "milvus"}, "collectionName": "books"}},
        }
    )


def test_snapshot_restore_status_and_explain(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    kube.apply(connection_manifest(milvus))

    proc = plugin(kube, "snapshot", "books", "--connection", "milvus")
    assert proc.returncode == 0, proc.stderr
    snap = created_name(proc.stdout, "milvussnapshot")
    assert re.fullmatch(r"books-\d{14}", snap)
    last = proc.stdout.splitlines()[-1]
    assert last.startswith(f"msnap/{snap}  Ready  SnapshotReady: ") and last.endswith("300 rows"), last
    assert kube.status("MilvusSnapshot", snap)["phase"] == "Ready"

    proc = plugin(kube, "restore", "--from-snapshot", snap, "--to", "books_cli", "--name", "books-cli")
    assert proc.returncode == 0, proc.stderr
    assert "milvusrestore.snapshot.milvus.io/books-cli created" in proc.stdout
    last = proc.stdout.splitlines()[-1]
    assert re.match(
        r"mrestore/books-cli  Completed  RestoreSnapshotCompleted  \[#{20}\] 100%  RestoreCompleted: ", last
    )
    assert last.endswith("300 rows"), last
    assert kube.status("MilvusRestore", "books-cli")["phase"] == "Completed"
    assert books.has_collection("books_cli")

    proc = plugin(kube, "restore", "--from-snapshot", snap, "--to", "books", "--name", "onto-books")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: mrestore/onto-books failed: TargetCollectionExists: "), proc.stderr

    proc = plugin(kube, "status")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "AGE", "DETAILS"]
    assert lines[1].startswith("mconn/milvus ")
    assert row(proc.stdout, "mconn/milvus")[1:3] == ["True", "Connected"]
    assert milvus.uri in lines[1]
    assert lines[2].startswith(f"└─ msnap/{snap} ") and row(proc.stdout, f"msnap/{snap}")[1:3] == ["True", "Ready"]
    assert f"books -> {snap.replace('-', '_')}, 300 rows" in lines[2]
    assert lines[3].startswith("   ├─ mrestore/books-cli ")
    assert row(proc.stdout, "mrestore/books-cli")[1:3] == ["True", "Completed"]
    assert "-> books_cli, RestoreSnapshotCompleted 100%, 300 rows" in lines[3]
    assert lines[4].startswith("   └─ mrestore/onto-books ") and "TargetCollectionExists" in lines[4]
    assert len(lines) == 5

    as_json = json.loads(plugin(kube, "status", "-o", "json").stdout)["items"]
    assert [(n["name"], n["ready"]) for n in as_json] == [("milvus", "True")]
    assert [c["name"] for c in as_json[0]["children"][0]["children"]] == ["books-cli", "onto-books"]

    proc = plugin(kube, "explain", "mrestore/books-cli")
    assert proc.returncode == 0, proc.stderr
    job = kube.status("MilvusRestore", "books-cli")["jobId"]
    assert f"Milvus job:   {job}  RestoreSnapshotCompleted  [####################] 100%" in proc.stdout
    assert f"  source snapshot: msnap/{snap}  Ready  Ready=True SnapshotReady" in proc.stdout
    assert re.search(r"Normal\s+RestoreCompleted\s+restore job", proc.stdout)


def test_failures_waits_and_explain(kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess) -> None:
    kube.apply(connection_manifest(milvus))

    proc = plugin(kube, "snapshot", "nonexistent", "--connection", "milvus", "--name", "no-such")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: msnap/no-such failed: CollectionNotFound: "), proc.stderr
    assert "nonexistent" in proc.stderr and "(Milvus code 100)" in proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("msnap/no-such  Failed  CollectionNotFound: ")

    proc = plugin(kube, "snapshot", "books", "--connection", "missing", "--name", "orphan", "--timeout", "4s")
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr == (
        "error: timed out after 4s waiting for msnap/orphan: still Pending, "
        f"ConnectionNotFound: MilvusConnection 'missing' not found in namespace '{kube.namespace}'\n"
    )
    proc = plugin(kube, "explain", "msnap", "orphan")
    assert proc.returncode == 0, proc.stderr
    assert (
        f"Verdict:      Waiting: ConnectionNotFound: MilvusConnection 'missing' not found in namespace '{kube.namespace}'"
        in proc.stdout
    )
    assert "  connection: mconn/missing  NotFound: MilvusConnection 'missing' does not exist" in proc.stdout
    assert re.search(r"  Ready\s+False\s+ConnectionNotFound\s+\d+s\s+MilvusConnection 'missing'", proc.stdout)

    proc = plugin(kube, "explain", "msnap/absent")
    assert proc.returncode == 1
    assert proc.stderr == 'Error from server (NotFound): milvussnapshots.snapshot.milvus.io "absent" not found\n'
    assert plugin(kube, "explain", "pods/x").returncode == 2


def test_trigger_then_restore_from_the_schedule(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    kube.apply(connection_manifest(milvus))
    kube.apply(schedule_manifest("nightly"))
    kube.wait(lambda: kube.condition("MilvusSnapshotSchedule", "nightly") == ("True", "Scheduled"), 60, "Ready")

    proc = plugin(kube, "trigger", "nightly", "--wait")
    assert proc.returncode == 0, proc.stderr
    value = re.search(r"triggered \(snapshot\.milvus\.io/trigger=(\d+)\)", proc.stdout)
    assert value, proc.stdout
    assert f"snapshot.milvus.io/schedule=nightly, snapshot.milvus.io/trigger={value.group(1)}" in proc.stdout
    child = re.search(r"^milvussnapshot\.snapshot\.milvus\.io/(nightly-\d{14}) created by the run$", proc.stdout, re.M)
    assert child, proc.stdout
    assert proc.stdout.splitlines()[-1].startswith(f"msnap/{child.group(1)}  Ready  SnapshotReady")
    labelled = kube.run("get", "msnap", "-l", "snapshot.milvus.io/schedule=nightly", "-o", "name").stdout.split()
    assert labelled == [f"milvussnapshot.snapshot.milvus.io/{child.group(1)}"]

    proc = plugin(kube, "restore", "--from-schedule", "nightly", "--to", "books_latest", "--name", "latest")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("mrestore/latest  Completed  RestoreSnapshotCompleted")
    assert kube.status("MilvusRestore", "latest")["source"]["snapshotRef"] == child.group(1)

    status = plugin(kube, "status").stdout
    assert row(status, "msched/nightly")[1:3] == ["True", "Scheduled"]
    assert f"1 snapshot, newest Ready {child.group(1)}" in status
    assert row(status, "mrestore/latest")[1:3] == ["True", "Completed"]

    kube.run("patch", "msched", "nightly", "--type=merge", "-p", '{"spec":{"suspend":true}}')
    proc = plugin(kube, "trigger", "nightly")
    assert (proc.returncode, proc.stderr) == (
        1,
        "error: msched/nightly is suspended (spec.suspend: true): the operator ignores triggers\n",
    )


def test_kubeconfig_context_and_namespace_like_kubectl(kube: Kube, tmp_path: Path) -> None:
    """No operator needed: configuration errors, the context's namespace, and kubectl finding the plugin."""
    proc = plugin(kube, "--context", "nope", "status")
    expected = "Error in configuration: context was not found for specified context: nope"
    assert (proc.returncode, proc.stderr) == (2, expected + "\n")
    kubectl = kube.cluster.kubectl("--context", "nope", "get", "namespaces", check=False)
    assert expected in kubectl.stderr  # the same words as kubectl's

    config = yaml.safe_load(kube.cluster.kubeconfig.read_text())
    for context in config["contexts"]:
        context["context"]["namespace"] = kube.namespace
    own = tmp_path / "kubeconfig"
    own.write_text(yaml.safe_dump(config))
    kube.apply(schedule_manifest("by-context"))
    proc = plugin(None, "status", kubeconfig=own)  # no -n: the context's namespace
    assert proc.returncode == 0, proc.stderr
    assert row(proc.stdout, "mconn/milvus")[1:3] == ["-", "NotFound"]
    assert "msched/by-context" in proc.stdout

    proc = plugin(kube, "status", use_kubectl=True)  # kubectl finds kubectl-milvus_snapshot on PATH
    assert proc.returncode == 0, proc.stderr
    assert "msched/by-context" in proc.stdout

    empty = Cluster(own, kube.cluster.server, kube.cluster.kubectl_path)
    proc = plugin(Kube(empty, "default"), "status")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "No resources found in default namespace.\n")
