"""Retention selection, table-driven: restic's keep rules as a union, and what is never pruned."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest

from milvus_snapshot_operator.api.schedule import Retention
from milvus_snapshot_operator.reconcile.retention import Child, select

UTC = zoneinfo.ZoneInfo("UTC")


def child(name: str, when: str, phase: str | None = "Ready", **kw: object) -> Child:
    return Child(name=name, time=datetime.datetime.fromisoformat(when).astimezone(datetime.UTC), phase=phase, **kw)  # type: ignore[arg-type]


# Six-hourly Ready snapshots over five days (20 of them), newest first: d5-18 ... d1-00.
SIX_HOURLY = [
    child(f"d{d}-{h:02d}", f"2026-11-{20 + d:02d}T{h:02d}:00:00+00:00") for d in range(1, 6) for h in (0, 6, 12, 18)
]


def pruned(children: list[Child], zone: zoneinfo.ZoneInfo = UTC, **rules: int) -> set[str]:
    selection = select(children, Retention(**rules), zone)
    assert set(selection.keep) | set(selection.prune) == {c.name for c in children if not c.deleting}
    return set(selection.prune)


def kept(children: list[Child], zone: zoneinfo.ZoneInfo = UTC, **rules: int) -> set[str]:
    return set(select(children, Retention(**rules), zone).keep)


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ({"keep_last": 3}, {"d5-18", "d5-12", "d5-06"}),
        ({"keep_last": 0}, {"d5-18"}),  # the newest Ready one is never pruned
        ({"keep_hourly": 2}, {"d5-18", "d5-12"}),
        ({"keep_daily": 3}, {"d5-18", "d4-18", "d3-18"}),  # the newest of each of the 3 newest days
        ({"keep_daily": 10}, {f"d{d}-18" for d in range(1, 6)}),  # fewer days than asked: all days
        ({"keep_weekly": 2}, {"d5-18", "d2-18"}),  # Sunday 22 Nov 2026 (d2) ends ISO week 47
        ({"keep_monthly": 1}, {"d5-18"}),
        ({"keep_yearly": 5}, {"d5-18"}),
        ({"keep_last": 2, "keep_daily": 2}, {"d5-18", "d5-12", "d4-18"}),  # union
        ({"keep_last": 1, "keep_daily": 1, "keep_weekly": 2, "keep_monthly": 1}, {"d5-18", "d2-18"}),
    ],
)
def test_keep_rules(rules: dict[str, int], expected: set[str]) -> None:
    assert kept(SIX_HOURLY, **rules) == expected


def test_daily_buckets_follow_the_schedule_time_zone() -> None:
    late, early = child("late", "2026-11-24T23:30:00+00:00"), child("early", "2026-11-25T00:30:00+00:00")
    # two UTC days, but the same day in Berlin (00:30 and 01:30 on 25 November)
    assert kept([late, early], keep_daily=2) == {"late", "early"}
    assert kept([late, early], zoneinfo.ZoneInfo("Europe/Berlin"), keep_daily=2) == {"early"}


def test_keep_label_exempts_from_pruning() -> None:
    children = [*SIX_HOURLY[:-1], child("pinned", "2026-11-01T00:00:00+00:00", keep=True)]
    assert "pinned" not in pruned(children, keep_last=1)
    assert "pinned" in pruned([*SIX_HOURLY[:-1], child("pinned", "2026-11-01T00:00:00+00:00")], keep_last=1)


def test_in_progress_and_deleting_snapshots_are_left_alone() -> None:
    children = [
        child("new", "2026-11-26T00:00:00+00:00", phase="Creating"),
        child("pending", "2026-11-26T01:00:00+00:00", phase=None),
        child("ready", "2026-11-25T00:00:00+00:00"),
        child("old", "2026-11-24T00:00:00+00:00"),
        child("going", "2026-11-23T00:00:00+00:00", deleting=True),
    ]
    assert pruned(children, keep_last=1) == {"old"}  # not "going": already being deleted, not asked twice


def test_newest_ready_is_kept_even_when_newer_ones_failed() -> None:
    children = [
        child("f1", "2026-11-25T03:00:00+00:00", phase="Failed"),
        child("f2", "2026-11-25T02:00:00+00:00", phase="Failed"),
        child("r1", "2026-11-25T01:00:00+00:00"),
        child("r2", "2026-11-25T00:00:00+00:00"),
    ]
    assert pruned(children, keep_last=0, failed_history_limit=0) == {"f1", "f2", "r2"}


@pytest.mark.parametrize(("limit", "expected"), [(0, {"f1", "f2", "f3"}), (1, {"f2", "f3"}), (5, set())])
def test_failed_history_limit(limit: int, expected: set[str]) -> None:
    children = [child(f"f{i}", f"2026-11-25T0{9 - i}:00:00+00:00", phase="Failed") for i in (1, 2, 3)]
    children.append(child("ready", "2026-11-24T00:00:00+00:00"))
    assert pruned(children, keep_last=1, failed_history_limit=limit) == expected


def test_without_keep_rules_only_failed_ones_are_pruned() -> None:
    children = [*SIX_HOURLY, child("f1", "2026-11-26T00:00:00+00:00", phase="Failed")]
    assert pruned(children, failed_history_limit=0) == {"f1"}
    assert pruned(children) == set()  # failedHistoryLimit defaults to 1
