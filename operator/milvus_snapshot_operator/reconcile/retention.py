"""Which of a schedule's snapshots to keep: restic's keep-last/hourly/daily/weekly/monthly/yearly union.

Only this schedule's own children are ever considered (the caller filters on ownership). Snapshots in
progress or being deleted are never pruned, nor one labelled to be kept, nor one a MilvusRestore still needs,
nor the newest Ready one. Failed snapshots are pruned beyond failedHistoryLimit (newest kept first).
Buckets (hour, day, ISO week, month, year) are in the schedule's time zone, so "daily" means the user's days.
"""

from __future__ import annotations

import dataclasses
import datetime
import zoneinfo
from collections.abc import Callable, Hashable, Iterable

from ..api.schedule import Retention
from ..api.snapshot import SnapshotPhase


@dataclasses.dataclass(frozen=True)
class Child:
    """What retention and scheduling need to know about one MilvusSnapshot of the schedule."""

    name: str
    time: datetime.datetime  # when its run was due (UTC); orders children and picks buckets
    phase: str | None = None
    keep: bool = False  # labelled snapshot.milvus.io/keep=true
    deleting: bool = False
    trigger: str | None = None  # value of the trigger annotation that started it
    message: str = ""  # the error message of a Failed snapshot
    schedule_uid: str | None = None  # the snapshot.milvus.io/schedule-uid annotation
    created_by_operator: bool = False  # created by the operator itself (managedFields), not a copied manifest
    referenced: bool = False  # an unfinished MilvusRestore restores (or will restore) it
    imported: bool = False  # made by a connection's inventory import (adopting history), not by a run

    def owned_by(self, uid: str) -> bool:
        """A run of the schedule with this UID: never a look-alike someone applied by hand."""
        return self.created_by_operator and self.schedule_uid == uid

    @property
    def finished(self) -> bool:
        return self.phase in (SnapshotPhase.READY, SnapshotPhase.FAILED)


@dataclasses.dataclass(frozen=True)
class Selection:
    keep: list[str]
    prune: list[str]


Bucket = Callable[[datetime.datetime], Hashable]
BUCKETS: tuple[tuple[str, Bucket], ...] = (
    ("keep_hourly", lambda t: (t.year, t.month, t.day, t.hour)),
    ("keep_daily", lambda t: (t.year, t.month, t.day)),
    ("keep_weekly", lambda t: t.isocalendar()[:2]),
    ("keep_monthly", lambda t: (t.year, t.month)),
    ("keep_yearly", lambda t: t.year),
)


def select(children: Iterable[Child], retention: Retention, zone: zoneinfo.ZoneInfo) -> Selection:
    live = sorted((c for c in children if not c.deleting), key=lambda c: (c.time, c.name), reverse=True)
    ready = [c for c in live if c.phase == SnapshotPhase.READY]
    failed = [c for c in live if c.phase == SnapshotPhase.FAILED]
    keep: set[str] = {c.name for c in live if not c.finished or c.keep or c.referenced}
    keep.update(c.name for c in failed[: retention.failed_history_limit])
    if ready:
        keep.add(ready[0].name)  # never the newest Ready one
    if _has_rules(retention):
        keep.update(c.name for c in ready[: retention.keep_last or 0])
        for field, bucket in BUCKETS:
            wanted = getattr(retention, field) or 0
            seen: list[Hashable] = []
            for child in ready:
                if len(seen) >= wanted:
                    break
                key = bucket(child.time.astimezone(zone))
                if key not in seen:
                    seen.append(key)
                    keep.add(child.name)
    else:
        keep.update(c.name for c in ready)  # no keep rule: Ready snapshots are not pruned at all
    return Selection(
        keep=[c.name for c in live if c.name in keep],
        prune=[c.name for c in live if c.name not in keep],
    )


def _has_rules(retention: Retention) -> bool:
    return retention.keep_last is not None or any(getattr(retention, f) is not None for f, _ in BUCKETS)
