"""What unfinished MilvusRestores hold on to: the target collection one of them claims first, and the
MilvusSnapshots they still restore from (retention and the inventory keep those)."""

from __future__ import annotations

from collections.abc import Iterable

from .entries import RestoreEntry


def older_claimant(me: RestoreEntry, others: Iterable[RestoreEntry]) -> str | None:
    """The oldest other unfinished restore into the same target collection (and database, where both are
    known), created before `me`: Milvus refuses an existing target, so only one of them may start."""
    rivals = [
        other
        for other in others
        if other.name != me.name
        and other.active
        and other.target_collection == me.target_collection
        and (other.target_db is None or me.target_db is None or other.target_db == me.target_db)
        and (other.created, other.name) < (me.created, me.name)
    ]
    return min(rivals, key=lambda r: (r.created, r.name)).name if rivals else None


def snapshots_needed(restores: Iterable[RestoreEntry]) -> frozenset[str]:
    """MilvusSnapshots an unfinished restore restores from (scheduleRef restores that have not chosen yet are
    covered by retention's "never the newest Ready one")."""
    return frozenset(entry.snapshot_ref for entry in restores if entry.active and entry.snapshot_ref)
