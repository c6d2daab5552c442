"""Bad input is rejected by the real API server (OpenAPI + CEL from the generated CRDs) with a message that
names the field, and nothing is created. One test case per manifest in tests/e2e/invalid/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from .operator_fixtures import Kube

pytestmark = pytest.mark.e2e
CORPUS = sorted((Path(__file__).parent / "invalid").glob("*.yaml"))


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 25


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_rejected_with_field_named(shared_kube: Kube, path: Path) -> None:
    kube = shared_kube
    text = path.read_text()
    field = text.splitlines()[0].removeprefix("# expect: ").strip()
    proc = kube.run("apply", "-f", "-", input=text, check=False)
    assert proc.returncode != 0, f"accepted: {proc.stdout}"
    assert field in proc.stderr, f"error does not name {field!r}: {proc.stderr}"
    doc = yaml.safe_load(text)
    assert kube.get(doc["kind"], doc["metadata"]["name"]) is None


SNAPSHOT = {
    "apiVersion": "snapshot.milvus.io/v1alpha1",
    "kind": "MilvusSnapshot",
    "metadata": {"name": "frozen"},
    "spec": {"connectionRef": {"name": "milvus"}, "collectionName": "books"},
}
RESTORE = {
    "apiVersion": "snapshot.milvus.io/v1alpha1",
    "kind": "MilvusRestore",
    "metadata": {"name": "frozen"},
    "spec": {"source": {"snapshotRef": {"name": "s"}}, "target": {"collectionName": "books_restored"}},
}


@pytest.mark.parametrize(
    ("base", "path", "value"),
    [
        (SNAPSHOT, ("collectionName",), "movies"),
        (SNAPSHOT, ("deletionPolicy",), "Retain"),
        (SNAPSHOT, ("snapshotName",), "renamed"),
        (RESTORE, ("target", "collectionName"), "elsewhere"),
        (RESTORE, ("source", "snapshotRef", "name"), "other"),
    ],
    ids=["snapshot-collection", "snapshot-policy", "snapshot-name", "restore-target", "restore-source"],
)
def test_spec_is_immutable(shared_kube: Kube, base: dict[str, object], path: tuple[str, ...], value: str) -> None:
    kube = shared_kube
    kube.apply(json.dumps(base))
    changed = json.loads(json.dumps(base))
    node = changed["spec"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    proc = kube.run("apply", "-f", "-", input=json.dumps(changed), check=False)
    assert proc.returncode != 0 and "spec is immutable" in proc.stderr, proc.stderr
    kind = str(base["kind"])
    live = kube.get(kind, "frozen")
    assert live is not None and live["metadata"]["generation"] == 1
    kube.run("delete", kind, "frozen")
