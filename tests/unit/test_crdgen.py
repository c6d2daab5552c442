"""CRDs are generated from the models; the committed copies (top level and chart) must not drift."""

from __future__ import annotations

import json
import pathlib

import yaml

from milvus_snapshot_operator import crdgen
from milvus_snapshot_operator.api import restore as restore_api

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_committed_crds_match_models() -> None:
    assert crdgen.main(["--check", str(ROOT / "crds"), str(ROOT / "charts/milvus-snapshot-operator/crds")]) == 0


def test_drift_is_detected(tmp_path: pathlib.Path) -> None:
    crdgen.main([str(tmp_path)])
    victim = next(tmp_path.iterdir())
    victim.write_text(victim.read_text().replace("maxLength: 255", "maxLength: 254", 1))
    assert crdgen.main(["--check", str(tmp_path)]) == 1


def test_schemas_are_structural() -> None:
    for text in crdgen.render().values():
        doc = yaml.safe_load(text)
        flat = json.dumps(doc)
        assert "$ref" not in flat and "anyOf" not in flat and '"title"' not in flat and "null" not in flat
        version = doc["spec"]["versions"][0]
        assert version["subresources"] == {"status": {}}
        assert doc["spec"]["names"]["categories"] == ["milvus-snapshots"]
        spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
        _all_described(spec, "spec")


def _all_described(schema: dict[str, object], path: str) -> None:
    """Every field has a description, so `kubectl explain` helps."""
    props = schema.get("properties") or {}
    assert isinstance(props, dict)
    for name, sub in props.items():
        assert isinstance(sub, dict) and sub.get("description"), f"{path}.{name} has no description"
        _all_described(sub, f"{path}.{name}")


def test_cel_rules_present() -> None:
    docs = {name: yaml.safe_load(text) for name, text in crdgen.render().items()}
    snap = docs["snapshot.milvus.io_milvussnapshots.yaml"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    rules = [r["rule"] for r in snap["properties"]["spec"]["x-kubernetes-validations"]]
    assert "self == oldSelf" in rules
    restore = docs["snapshot.milvus.io_milvusrestores.yaml"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    source_rules = restore["properties"]["spec"]["properties"]["source"]["x-kubernetes-validations"]
    assert any(r["rule"] == restore_api.EXACTLY_ONE_SOURCE for r in source_rules)
