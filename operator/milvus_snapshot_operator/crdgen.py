"""Generate the CRD manifests from the pydantic models, so the API has one source of truth.

Kubernetes wants structural schemas: no $ref, no anyOf-with-null, no titles. This module inlines the
pydantic JSON schema into that shape and adds what only CRDs have (CEL rules, printer columns,
subresources). `python -m milvus_snapshot_operator.crdgen DIR...` writes the files; `--check` fails
on drift.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys

import yaml
from pydantic import BaseModel

from .api import CATEGORY, GROUP, VERSION, connection, restore, schedule, snapshot
from .api.wire import Wire


@dataclasses.dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    short_names: tuple[str, ...]
    spec: type[BaseModel]
    status: type[BaseModel]
    description: str
    columns: tuple[dict[str, str | int], ...]
    validations: tuple[dict[str, str], ...] = ()  # CEL rules on the whole object (e.g. metadata.name)


READY = '.status.conditions[?(@.type=="Ready")]'
AGE: dict[str, str | int] = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}

KINDS: tuple[Kind, ...] = (
    Kind(
        kind=connection.KIND,
        plural=connection.PLURAL,
        short_names=("mconn",),
        spec=connection.MilvusConnectionSpec,
        status=connection.MilvusConnectionStatus,
        description="How to reach and authenticate to a Milvus server.",
        columns=(
            {"name": "Ready", "type": "string", "jsonPath": f"{READY}.status"},
            {"name": "Reason", "type": "string", "jsonPath": f"{READY}.reason"},
            {"name": "Endpoint", "type": "string", "jsonPath": ".status.endpoint"},
            {"name": "Version", "type": "string", "jsonPath": ".status.serverVersion"},
            AGE,
        ),
    ),
    Kind(
        kind=snapshot.KIND,
        plural=snapshot.PLURAL,
        short_names=("msnap", "msnaps"),
        spec=snapshot.MilvusSnapshotSpec,
        status=snapshot.MilvusSnapshotStatus,
        description="A snapshot of one Milvus collection, created or adopted, and dropped on deletion.",
        columns=(
            {"name": "Collection", "type": "string", "jsonPath": ".spec.collectionName"},
            {"name": "Snapshot", "type": "string", "jsonPath": ".status.snapshotName"},
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Ready", "type": "string", "jsonPath": f"{READY}.status"},
            {"name": "Reason", "type": "string", "jsonPath": f"{READY}.reason", "priority": 1},
            {"name": "Created", "type": "date", "jsonPath": ".status.creationTime"},
            AGE,
        ),
    ),
    Kind(
        kind=restore.KIND,
        plural=restore.PLURAL,
        short_names=("mrestore", "mrestores"),
        spec=restore.MilvusRestoreSpec,
        status=restore.MilvusRestoreStatus,
        description="A restore of a Milvus snapshot into a new collection, tracked through its restore job.",
        columns=(
            {"name": "Snapshot", "type": "string", "jsonPath": ".status.source.snapshotName"},
            {"name": "Target", "type": "string", "jsonPath": ".spec.target.collectionName"},
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Progress", "type": "integer", "jsonPath": ".status.progress"},
            {"name": "Job", "type": "string", "jsonPath": ".status.jobId", "priority": 1},
            {"name": "Reason", "type": "string", "jsonPath": f"{READY}.reason", "priority": 1},
            AGE,
        ),
    ),
    Kind(
        kind=schedule.KIND,
        plural=schedule.PLURAL,
        short_names=("msched", "mscheds"),
        spec=schedule.MilvusSnapshotScheduleSpec,
        status=schedule.MilvusSnapshotScheduleStatus,
        description="MilvusSnapshots on a cron schedule, with GFS retention; never cascades unless asked to.",
        columns=(
            {"name": "Schedule", "type": "string", "jsonPath": ".spec.schedule"},
            {"name": "Suspend", "type": "boolean", "jsonPath": ".spec.suspend"},
            {"name": "Ready", "type": "string", "jsonPath": f"{READY}.status"},
            {"name": "Last Success", "type": "date", "jsonPath": ".status.lastSuccessfulTime"},
            {"name": "Next", "type": "string", "jsonPath": ".status.nextScheduleTime"},
            {"name": "Active", "type": "string", "jsonPath": ".status.active", "priority": 1},
            AGE,
        ),
        validations=(
            {
                "rule": f"self.metadata.name.size() <= {schedule.NAME_MAX}",
                "message": (
                    f"metadata.name must be at most {schedule.NAME_MAX} characters: "
                    "snapshots are named <schedule>-<yyyymmddhhmmss> and labelled with it"
                ),
            },
        ),
    ),
)

_DROP = {"title", "$defs"}


def structural(schema: Wire, defs: Wire, *, keep_defaults: bool) -> Wire:
    """Inline $refs and rewrite pydantic's JSON schema into a Kubernetes structural schema."""
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return structural(merged, defs, keep_defaults=keep_defaults)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"unsupported union in schema: {schema}")
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        return structural({**options[0], **rest}, defs, keep_defaults=keep_defaults)
    out: Wire = {}
    for key, value in schema.items():
        if key in _DROP:
            continue
        if key == "default" and (value is None or not keep_defaults or value in ([], {})):
            continue
        if key == "properties":
            out[key] = {name: structural(sub, defs, keep_defaults=keep_defaults) for name, sub in value.items()}
        elif key == "items":
            out[key] = structural(value, defs, keep_defaults=keep_defaults)
        elif key == "additionalProperties" and value is False:
            continue  # structural schemas prune unknown fields anyway
        else:
            out[key] = value
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    return out


def model_schema(model: type[BaseModel], *, keep_defaults: bool) -> Wire:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return structural(raw, raw.get("$defs", {}), keep_defaults=keep_defaults)


def crd(kind: Kind) -> Wire:
    spec = model_schema(kind.spec, keep_defaults=True)
    spec["description"] = (kind.spec.__doc__ or "").strip() or f"Desired state of the {kind.kind}."
    status = model_schema(kind.status, keep_defaults=False)
    status["description"] = f"Observed state of the {kind.kind}, written by the operator only."
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.kind.lower(),
                "shortNames": list(kind.short_names),
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": list(kind.columns),
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": kind.description,
                            "required": ["spec"],
                            **({"x-kubernetes-validations": list(kind.validations)} if kind.validations else {}),
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Plain YAML without anchors: kubectl and humans read these files."""

    def ignore_aliases(self, data: object) -> bool:
        return True


HEADER = "# Generated by `python -m milvus_snapshot_operator.crdgen` from the pydantic models. Do not edit.\n"


def render() -> dict[str, str]:
    """File name -> YAML text for every CRD."""
    return {
        f"{GROUP}_{kind.plural}.yaml": HEADER + yaml.dump(crd(kind), Dumper=_Dumper, sort_keys=False, width=100)
        for kind in KINDS
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dirs", nargs="+", type=pathlib.Path, help="directories to write the CRDs into")
    parser.add_argument("--check", action="store_true", help="fail if the files differ instead of writing")
    args = parser.parse_args(argv)
    drift = []
    for directory in args.dirs:
        for name, text in render().items():
            path = directory / name
            if args.check:
                if not path.exists() or path.read_text() != text:
                    drift.append(str(path))
            else:
                directory.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    if drift:
        print("CRDs out of date, run `make crds`: " + ", ".join(drift), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
