"""Every manifest in examples/ is applied with kubectl and reaches the end state its `e2e-expect` lines document;
the restored collection then serves the same rows and search hits as the source."""

from __future__ import annotations

import re
from typing import Any

import pytest

from testbed import seed
from testbed.processes import REPO, MilvusServer, OperatorProcess

from .operator_fixtures import Kube, manifest, reasons, typed_reasons

pytestmark = pytest.mark.e2e
EXPECT = re.compile(r"^# e2e-expect: (\w+)/([\w-]+) (\S+)=(\S+)$", re.MULTILINE)


def expectations() -> list[tuple[str, str, str, str]]:
    found = []
    for path in sorted((REPO / "examples").glob("*.yaml")):
        found += EXPECT.findall(path.read_text())
    return found


def test_every_example_documents_its_end_state() -> None:
    documented = {path.name for path in (REPO / "examples").glob("*.yaml") if EXPECT.search(path.read_text())}
    assert documented == {path.name for path in (REPO / "examples").glob("*.yaml")}


def test_examples_reach_documented_end_state(
    kube: Kube, milvus: MilvusServer, books: Any, operator: OperatorProcess
) -> None:
    # Applied in reverse order on purpose: GitOps tools apply in any order, references are waited for.
    for path in sorted((REPO / "examples").glob("*.yaml"), reverse=True):
        kube.apply(manifest(path.read_text(), milvus))
    for kind, name, path, value in expectations():
        if path == "Ready":
            kube.wait(
                lambda k=kind, n=name, v=value: (kube.condition(k, n) or ("",))[0] == v,
                90,
                f"{kind}/{name} Ready={value}",
            )
        else:
            jsonpath = "{" + path + "}"
            kube.wait(
                lambda k=kind, n=name, j=jsonpath, v=value: kube.run("get", k, n, "-o", f"jsonpath={j}").stdout == v,
                90,
                f"{kind}/{name} {path}={value}",
            )
    restore = kube.status("MilvusRestore", "books-restore")
    assert restore["jobId"] > 0 and restore["state"] == "RestoreSnapshotCompleted"
    assert restore["targetRowCount"] == 300
    snapshot = kube.status("MilvusSnapshot", "books-nightly")
    assert snapshot["snapshotName"] == "books_nightly" and snapshot["sourceRowCount"] == 300
    assert snapshot["createTs"] >> 18 > 1_700_000_000_000 and snapshot["creationTime"].endswith("Z")
    expected = seed.hits(books, "books")
    for target in ("books_restored", "books_restored_by_name"):
        seed.load(books, target)
        assert seed.row_count(books, target) == 300
        assert seed.hits(books, target) == expected
    # The serving example: applications query the alias and get the restored data, already loaded.
    assert books.describe_alias("library")["collection_name"] == "books_serving"
    assert seed.row_count(books, "library") == 300 and seed.hits(books, "library") == expected
    assert {"RestoreStarted", "RestoreCompleted"} <= reasons(kube, "books-restore")
    assert ("Normal", "SnapshotCreated") in typed_reasons(kube, "books-nightly")
