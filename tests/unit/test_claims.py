"""Which unfinished restore claims a target first (README: two MilvusRestores into one target, the other waits
TargetClaimed), and which snapshots unfinished restores still need (retention and inventory keep them)."""

from __future__ import annotations

import datetime

from milvus_snapshot_operator.reconcile.claims import older_claimant, snapshots_needed
from milvus_snapshot_operator.reconcile.entries import RestoreEntry

T0 = datetime.datetime(2026, 11, 25, 10, tzinfo=datetime.UTC)


def restore(
    name: str,
    minutes: int = 0,
    target: str = "books_restored",
    db: str | None = "default",
    active: bool = True,
    snapshot: str | None = "nightly",
) -> RestoreEntry:
    return RestoreEntry(
        name=name,
        created=T0 + datetime.timedelta(minutes=minutes),
        connection="milvus",
        snapshot_ref=snapshot,
        schedule_ref=None,
        target_collection=target,
        target_db=db,
        active=active,
    )


def test_the_oldest_unfinished_restore_into_a_target_claims_it() -> None:
    first, second, third = restore("b-first", 0), restore("a-second", 1), restore("c-third", 2)
    everyone = [third, first, second]
    assert older_claimant(first, everyone) is None  # it starts
    assert older_claimant(second, everyone) == "b-first"
    assert older_claimant(third, everyone) == "b-first"  # the oldest, not the next older one


def test_the_same_creation_second_is_ordered_by_name() -> None:
    a, b = restore("a", 0), restore("b", 0)
    assert older_claimant(a, [a, b]) is None
    assert older_claimant(b, [a, b]) == "a"


def test_ended_restores_other_targets_and_other_databases_claim_nothing() -> None:
    me = restore("me", 5)
    others = [
        restore("done", 0, active=False),  # Completed, RolledBack or Failed
        restore("elsewhere", 0, target="other_collection"),
        restore("other-db", 0, db="analytics"),
    ]
    assert older_claimant(me, others) is None


def test_an_unresolved_database_claims_in_every_database() -> None:
    """A restore whose database is not known yet may restore into ours: wait rather than race it."""
    me = restore("me", 5, db="analytics")
    assert older_claimant(me, [restore("unknown-db", 0, db=None)]) == "unknown-db"
    assert older_claimant(restore("me", 5, db=None), [restore("other-db", 0, db="analytics")]) == "other-db"


def test_only_unfinished_restores_need_their_snapshot() -> None:
    restores = [
        restore("running", snapshot="nightly"),
        restore("done", snapshot="weekly", active=False),
        restore("by-schedule", snapshot=None),  # scheduleRef, not chosen yet
        restore("again", snapshot="nightly"),
    ]
    assert snapshots_needed(restores) == frozenset({"nightly"})
