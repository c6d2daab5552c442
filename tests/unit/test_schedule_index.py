"""The index that gives each schedule its own children (and nothing else), and scheduleRef's choice."""

from __future__ import annotations

from typing import Any

from milvus_snapshot_operator.handlers.restore import newest_ready
from milvus_snapshot_operator.handlers.schedule import _child
from milvus_snapshot_operator.handlers.watches import schedule_children


def entry(name: str, schedule: str, phase: str | None, run_time: str, **meta: Any) -> dict[tuple[str, str], Any]:
    labels = {"snapshot.milvus.io/schedule": schedule, **meta.pop("labels", {})}
    annotations = {"snapshot.milvus.io/run-time": run_time}
    return schedule_children(
        namespace="team-a",
        name=name,
        meta={"labels": labels, "annotations": annotations, "creationTimestamp": "2026-01-01T00:00:00Z", **meta},
        status={"phase": phase} if phase else {},
    )


def test_children_are_keyed_by_their_schedule_label() -> None:
    assert list(entry("a-1", "a", "Ready", "2026-11-25T10:00:00Z")) == [("team-a", "a")]
    assert list(entry("b-1", "b", "Ready", "2026-11-25T10:00:00Z")) == [("team-a", "b")]
    (value,) = entry("a-2", "a", None, "2026-11-25T11:00:00Z", labels={"snapshot.milvus.io/keep": "true"}).values()
    child = _child(value)
    assert child.keep and child.phase is None and not child.deleting and child.time.hour == 11
    (gone,) = entry("a-3", "a", "Ready", "2026-11-25T12:00:00Z", deletionTimestamp="2026-11-25T13:00:00Z").values()
    assert _child(gone).deleting


def test_schedule_ref_picks_the_newest_ready_child() -> None:
    children = [
        *entry("a-1", "a", "Ready", "2026-11-25T10:00:00Z").values(),
        *entry("a-2", "a", "Ready", "2026-11-25T11:00:00Z").values(),
        *entry("a-3", "a", "Creating", "2026-11-25T12:00:00Z").values(),
        *entry("a-4", "a", "Failed", "2026-11-25T13:00:00Z").values(),
        *entry("a-5", "a", "Ready", "2026-11-25T14:00:00Z", deletionTimestamp="2026-11-25T15:00:00Z").values(),
    ]
    assert newest_ready(children) == "a-2"
    assert newest_ready(children[2:4]) is None
