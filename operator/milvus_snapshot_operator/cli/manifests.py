"""The MilvusSnapshot and MilvusRestore the commands create, built and validated with the API models (pure)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError

from ..api import API_VERSION
from ..api.common import LocalObjectReference
from ..api.restore import MilvusRestoreSpec, RestoreSource, RestoreTarget
from ..api.snapshot import MilvusSnapshotSpec
from ..api.wire import Wire as Obj
from .errors import UsageError
from .kinds import RESTORE, SNAPSHOT

T = TypeVar("T")
NAME_BASE_MAX = 48  # leaves room for -<yyyymmddhhmmss> and generateName's suffix within 63


def timestamped_name(base: str, now: datetime.datetime) -> str:
    """`<base>-<UTC yyyymmddhhmmss>` as schedules name their runs, with `base` made a valid Kubernetes name
    whose Milvus snapshot name (`-` becomes `_`) starts with a letter as Milvus requires."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:NAME_BASE_MAX].strip("-")
    if not cleaned[:1].isalpha():
        cleaned = f"m-{cleaned}".strip("-")
    return f"{cleaned}-{now.astimezone(datetime.UTC):%Y%m%d%H%M%S}"


def _checked(flag: str, value: object, build: Callable[[], T]) -> T:
    """Build one piece with the API models; a validation error is worded with the flag the user typed."""
    try:
        return build()
    except ValidationError as exc:
        reasons = "; ".join(str(error["msg"]) for error in exc.errors())
        raise UsageError(f"error: invalid {flag} {value!r}: {reasons}") from exc


def _optional(**values: str | None) -> dict[str, str]:
    return {key: value for key, value in values.items() if value}


def _wire(model: MilvusSnapshotSpec | MilvusRestoreSpec) -> Obj:
    """camelCase, only what was set: the API server applies the CRD's defaults, so the manifest stays short."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True)


def snapshot_manifest(name: str, collection: str, connection: str, db: str | None = None) -> Obj:
    ref = _checked("--connection", connection, lambda: LocalObjectReference(name=connection))
    _checked("COLLECTION", collection, lambda: MilvusSnapshotSpec(connection_ref=ref, collection_name=collection))
    spec = _checked(
        "--db", db, lambda: MilvusSnapshotSpec(connection_ref=ref, collection_name=collection, **_optional(db_name=db))
    )
    return {"apiVersion": API_VERSION, "kind": SNAPSHOT.kind, "metadata": {"name": name}, "spec": _wire(spec)}


def restore_manifest(
    name: str,
    target: str,
    from_schedule: str | None = None,
    from_snapshot: str | None = None,
    alias: str | None = None,
    target_db: str | None = None,
) -> Obj:
    if from_schedule:
        ref = _checked("--from-schedule", from_schedule, lambda: LocalObjectReference(name=from_schedule))
        source = RestoreSource(schedule_ref=ref)
    else:
        ref = _checked("--from-snapshot", from_snapshot, lambda: LocalObjectReference(name=str(from_snapshot)))
        source = RestoreSource(snapshot_ref=ref)
    _checked("--to", target, lambda: RestoreTarget(collection_name=target))
    into = _checked(
        "--target-db", target_db, lambda: RestoreTarget(collection_name=target, **_optional(db_name=target_db))
    )
    spec = _wire(MilvusRestoreSpec(source=source, target=into))
    if alias:
        spec["alias"] = alias  # validated by the API server (the CRD's pattern), like every other field
    return {"apiVersion": API_VERSION, "kind": RESTORE.kind, "metadata": {"name": name}, "spec": spec}
