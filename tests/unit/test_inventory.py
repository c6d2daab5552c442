"""A connection's inventory, decided without servers: counts, names, joining schedules, the bound per pass,
idempotent passes, and the rule that keeps import and retention from undoing each other forever."""

from __future__ import annotations

import dataclasses
import datetime
import random
import re
import time
import types
from typing import Any

import kopf
import pytest

from milvus_snapshot_operator.api.connection import Inventory, InventoryStatus, MilvusConnectionSpec
from milvus_snapshot_operator.api.schedule import MilvusSnapshotScheduleSpec, MilvusSnapshotScheduleStatus, Retention
from milvus_snapshot_operator.api.snapshot import DeletionPolicy
from milvus_snapshot_operator.handlers import indexes
from milvus_snapshot_operator.handlers import inventory as handler
from milvus_snapshot_operator.reconcile import retention
from milvus_snapshot_operator.reconcile.entries import ScheduleEntry, SnapshotEntry
from milvus_snapshot_operator.reconcile.inventory import (
    CONTINUE_SECONDS,
    Identity,
    InventoryInputs,
    InventoryPlan,
    Listing,
    due_at,
    failure_event,
    hashed_name,
    identity_text,
    parse_identity,
    plain_name,
    plan_inventory,
    record,
    run_time,
)
from milvus_snapshot_operator.reconcile.retention import Child
from milvus_snapshot_operator.reconcile.schedule import ScheduleInputs, plan_schedule

UTC = datetime.UTC
NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EP = "m:19530"
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def importing(**fields: Any) -> Inventory:
    return Inventory.model_validate({"import": {"enabled": True, **fields}})


def schedule(name: str = "books-daily", **fields: Any) -> ScheduleEntry:
    defaults: dict[str, Any] = {
        "name": name,
        "uid": f"uid-{name}",
        "connection": "milvus",
        "collection": "books",
        "db": None,
        "time_zone": "UTC",
        "retention": None,
        "deletion_policy": DeletionPolicy.DELETE,
        "owner_reference": False,
    }
    return ScheduleEntry(**(defaults | fields))


def run(schedule_name: str, day: int, hour: int = 2) -> str:
    """The Milvus snapshot name of a schedule's run on 2026-11-<day> at <hour>:00 UTC."""
    return f"{schedule_name.replace('-', '_').replace('.', '_')}_202611{day:02d}{hour:02d}0000"


def at(day: int, hour: int = 2) -> datetime.datetime:
    return datetime.datetime(2026, 11, day, hour, tzinfo=UTC)


def ident(snapshot: str, collection: str = "books") -> Identity:
    return (EP, "default", collection, snapshot)


def plan(snapshots: dict[str, list[str]], spec: Inventory | None = None, **fields: Any) -> InventoryPlan:
    listing = fields.pop("listing", None) or Listing(snapshots=snapshots)
    return plan_inventory(
        InventoryInputs(
            namespace="team-a",
            connection="milvus",
            endpoint=EP,
            db="default",
            spec=spec or importing(),
            generation=3,
            listing=listing,
            now=NOW,
            **fields,
        )
    )


def created(p: InventoryPlan) -> list[str]:
    return [new.name for new in p.create]


def meta(body: dict[str, Any]) -> dict[str, Any]:
    return dict(body["metadata"])


# ---- counts ------------------------------------------------------------------------------------------


def test_counts_per_collection_what_no_resource_represents_here() -> None:
    represented = frozenset(
        {
            ident("a"),
            ("other:19530", "default", "books", "b"),  # another Milvus
            (EP, "prod", "books", "b"),  # another database
            ident("x", "movies"),
        }
    )
    listing = Listing(
        snapshots={"books": ["a", "b", "c"], "movies": ["x"], "empty": []},
        errors={"gone": "collection not found[database=default][collection=gone] (code 100)"},
    )
    p = plan({}, Inventory(), listing=listing, represented=represented)
    status = p.status
    assert (status.snapshots, status.represented, status.unrepresented) == (4, 2, 2)
    assert status.collections_listed == 3 and status.imported == 0 and status.pending == 0
    assert [(c.name, c.snapshots, c.represented, c.unrepresented) for c in status.collections] == [
        ("books", 3, 1, 2),
        ("empty", 0, 0, 0),
        ("gone", 0, 0, 0),
        ("movies", 1, 1, 0),
    ]
    assert status.collections[2].error == listing.errors["gone"]
    assert all(c.outside_retention is None for c in status.collections)  # import is off: not judged
    assert status.errors == [f"listing the snapshots of 'gone': {listing.errors['gone']}"]
    assert p.create == []  # counting only
    assert status.last_pass_time == "2026-11-25T12:00:00Z" and status.observed_generation == 3


def test_import_off_only_counts() -> None:
    off = Inventory.model_validate({"import": {"enabled": False, "deletionPolicy": "Delete"}})
    p = plan({"books": ["a", "b"]}, off)
    assert p.create == [] and p.status.unrepresented == 2 and p.status.pending == 0


def test_a_failed_collection_listing_is_reported_and_nothing_else_is_decided() -> None:
    p = plan({}, listing=Listing(error="database not found[database=default] (code 800)"))
    assert p.create == [] and p.status.snapshots == 0
    assert p.status.errors == [
        "listing the collections of database 'default': database not found[database=default] (code 800)"
    ]


# ---- names ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snapshot", "name"),
    [
        ("books_before_v2", "books-before-v2"),
        ("books_20261129234804", "books-20261129234804"),  # what `kubectl milvus-snapshot snapshot` names
        ("nightly", "nightly"),
        ("a__b", "a--b"),
        ("Nightly", None),  # upper case would not map back
        ("_tmp", None),
        ("tmp_", None),
        ("s_" + "x" * 260, None),  # longer than an object name
    ],
)
def test_plain_names_map_back_exactly(snapshot: str, name: str | None) -> None:
    assert plain_name(snapshot) == name


def test_hashed_names_are_valid_deterministic_and_per_identity() -> None:
    first = hashed_name(ident("Nightly"))
    assert first == hashed_name(ident("Nightly")) and first.startswith("nightly-") and DNS1123.match(first)
    others = {hashed_name(("other:1", "default", "books", "Nightly")), hashed_name(ident("Nightly", "movies"))}
    assert first not in others and len(others) == 2
    long = hashed_name(ident("__" + "X" * 255))
    assert DNS1123.match(long) and len(long) <= 63
    assert parse_identity(identity_text(ident("a"))) == ident("a")
    assert parse_identity("[::1]:19530/default/books/a") == ("[::1]:19530", "default", "books", "a")
    assert parse_identity("no/identity") is None and parse_identity(None) is None


def test_imports_adopt_with_retain_and_are_labelled() -> None:
    p = plan({"books": ["books_before_v2", "Nightly"], "movies": ["books_before_v2"]})
    by_name = {new.name: new for new in p.create}
    plain = by_name["books-before-v2"].body
    assert plain["spec"] == {
        "connectionRef": {"name": "milvus"},
        "collectionName": "books",
        "dbName": "default",
        "snapshotName": "books_before_v2",
        "adopt": True,
        "deletionPolicy": "Retain",
    }
    assert meta(plain)["labels"] == {"snapshot.milvus.io/imported": "true"}
    assert meta(plain)["annotations"] == {"snapshot.milvus.io/imported-from": "m:19530/default/books/books_before_v2"}
    assert plain["apiVersion"] == "snapshot.milvus.io/v1alpha1" and plain["kind"] == "MilvusSnapshot"
    # the same snapshot name on another collection, and a name that does not map back: hashed, still unique
    others = sorted(set(by_name) - {"books-before-v2"})
    assert len(others) == 2 and all(DNS1123.match(n) for n in others)
    assert {by_name[n].identity for n in others} == {ident("Nightly"), ident("books_before_v2", "movies")}
    # a name some other MilvusSnapshot of the namespace already has is never reused
    taken = plan({"books": ["books_before_v2"]}, names_taken=frozenset({"books-before-v2"}))
    assert created(taken) == [hashed_name(ident("books_before_v2"))]


def test_delete_is_the_users_word() -> None:
    p = plan({"books": ["old"]}, importing(deletionPolicy="Delete"))
    assert p.create[0].body["spec"]["deletionPolicy"] == "Delete"  # type: ignore[index]


# ---- schedules ----------------------------------------------------------------------------------------


def test_run_times_are_read_only_from_the_schedules_own_names() -> None:
    assert run_time("books_daily_20261120020000", "books-daily") == at(20)
    assert run_time("books_daily_20261120020000", "books.daily") == at(20)
    assert run_time("s_1_daily_20261120020000", "1-daily") == at(20)  # a digit first gets the s_ prefix
    assert run_time("books_daily_20261320020000", "books-daily") is None  # month 13
    assert run_time("books_daily_2026112002000", "books-daily") is None  # 13 digits
    assert run_time("books_daily_extra_20261120020000", "books-daily") is None
    assert run_time("books_20261120020000", "books-daily") is None


def test_a_schedules_runs_join_it_with_its_labels_and_uid() -> None:
    daily = schedule(labels={"team": "data", "argocd.argoproj.io/instance": "prod", "app.kubernetes.io/instance": "x"})
    snaps = [
        run("books-daily", 20),
        run("books-daily", 21),
        "books_daily_20261320020000",
        "books_weekly_20261120020000",
    ]
    p = plan({"books": snaps, "movies": [run("books-daily", 20)]}, schedules=(daily,))
    names = created(p)
    # the history first (newest first), then everything else
    assert names[:2] == ["books-daily-20261121020000", "books-daily-20261120020000"]
    joined = p.create[0]
    assert joined.schedule == "books-daily"
    assert meta(joined.body)["labels"] == {
        "snapshot.milvus.io/schedule": "books-daily",
        "team": "data",
        "snapshot.milvus.io/imported": "true",
    }
    assert meta(joined.body)["annotations"] == {
        "snapshot.milvus.io/imported-from": f"{EP}/default/books/{run('books-daily', 21)}",
        "snapshot.milvus.io/run-time": "2026-11-21T02:00:00Z",
        "snapshot.milvus.io/schedule-uid": "uid-books-daily",
    }
    assert "ownerReferences" not in meta(joined.body)
    # the template's Delete is not enough: the import's own policy (Retain by default) decides
    assert joined.body["spec"]["deletionPolicy"] == "Retain"  # type: ignore[index]
    rest = {new.identity: new for new in p.create[2:]}
    assert all(new.schedule is None for new in rest.values())
    assert rest[ident("books_daily_20261320020000")].name == "books-daily-20261320020000"
    # the same run name on a collection the schedule does not snapshot: not its run, and the name is taken
    assert rest[ident(run("books-daily", 20), "movies")].name == hashed_name(ident(run("books-daily", 20), "movies"))


def test_joined_runs_carry_the_owner_reference_a_schedule_asks_for_and_its_connection() -> None:
    owned = schedule(owner_reference=True, connection="milvus-rw")
    p = plan({"books": [run("books-daily", 20)]}, schedules=(owned,))
    body = p.create[0].body
    assert meta(body)["ownerReferences"] == [
        {
            "apiVersion": "snapshot.milvus.io/v1alpha1",
            "kind": "MilvusSnapshotSchedule",
            "name": "books-daily",
            "uid": "uid-books-daily",
            "controller": True,
        }
    ]
    assert body["spec"]["connectionRef"] == {"name": "milvus-rw"}  # type: ignore[index]


def test_a_run_two_schedules_could_have_named_joins_neither() -> None:
    p = plan({"books": ["a_b_20261120020000"]}, schedules=(schedule("a-b"), schedule("a.b")))
    assert [new.schedule for new in p.create] == [None]
    assert p.status.errors == [
        "snapshot 'a_b_20261120020000' matches the runs of several schedules (a-b, a.b): not joined"
    ]


# ---- bounds and idempotence ---------------------------------------------------------------------------------


def test_at_most_max_per_pass_then_the_rest_in_the_next_passes() -> None:
    names = [f"snap_{i:03d}" for i in range(250)]
    spec = importing(maxPerPass=100)
    represented: frozenset[Identity] = frozenset()
    made: list[str] = []
    for expected_pending in (150, 50, 0):
        p = plan({"books": names}, spec, represented=represented)
        assert len(p.create) == min(100, 250 - len(made)) and p.status.pending == expected_pending
        made.extend(created(p))
        # what the watch shows after the creations: the imports, annotated with what they represent
        represented = represented | {new.identity for new in p.create}
    assert sorted(made) == sorted(n.replace("_", "-") for n in names)  # each once
    assert plan({"books": names}, spec, represented=represented).create == []


def test_a_repeated_pass_plans_the_same_names() -> None:
    """A pass whose creations the watch has not shown yet (or whose status patch was lost) is repeated with
    the same names: the API server answers 409 and nothing is created twice."""
    snaps = {"books": ["Nightly", run("books-daily", 20), "before_v2"], "movies": ["before_v2"]}
    first = plan(snaps, schedules=(schedule(),))
    second = plan(snaps, schedules=(schedule(),))
    assert created(first) == created(second) and len(set(created(first))) == 4


def test_the_next_pass_comes_sooner_while_imports_are_pending() -> None:
    spec = importing()
    done = InventoryStatus(last_pass_time="2026-11-25T12:00:00Z", observed_generation=3)
    assert due_at(spec, done, 3) == NOW + datetime.timedelta(seconds=3600)
    assert due_at(spec, done.model_copy(update={"pending": 5}), 3) == NOW + datetime.timedelta(seconds=CONTINUE_SECONDS)
    assert due_at(spec, done, 4) is None  # the connection's spec changed: now
    assert due_at(spec, None, 3) is None


def test_record_counts_what_the_api_server_did() -> None:
    p = plan({"books": ["a", "b", "c", "d"]})
    events = record(p, created=["a"], existed=["b"], failed=["creating MilvusSnapshot 'c': 403 Forbidden"])
    assert p.status.imported == 1
    assert p.status.pending == 2  # c was refused, d never tried: both are for the next pass
    assert p.status.errors == ["creating MilvusSnapshot 'c': 403 Forbidden"]
    assert [(e.type, e.reason) for e in events] == [("Normal", "SnapshotsImported")]
    assert events[0].message == "imported 1 snapshot(s) from Milvus as MilvusSnapshots: a"
    many = plan({"books": [f"s{i}" for i in range(12)]})
    message = record(many, created=created(many), existed=[], failed=[])[0].message
    assert message.endswith("s6, s7 and 2 more")


def test_failures_are_an_event_when_they_change_only() -> None:
    failing = InventoryStatus(errors=["listing the snapshots of 'x': boom"])
    assert [e.reason for e in failure_event(None, failing)] == ["InventoryFailed"]
    assert failure_event(failing, failing.model_copy()) == []
    assert failure_event(failing, InventoryStatus()) == []


# ---- retention and the no-loop rule ----------------------------------------------------------------------------


def keep_last(n: int) -> Retention:
    return Retention(keep_last=n)


def test_with_retain_only_what_retention_keeps_is_imported() -> None:
    daily = schedule(retention=keep_last(2))
    snaps = [run("books-daily", d) for d in (18, 19, 20, 21)]
    p = plan({"books": snaps}, schedules=(daily,))
    assert created(p) == ["books-daily-20261121020000", "books-daily-20261120020000"]
    books = p.status.collections[0]
    assert (books.unrepresented, books.outside_retention) == (4, 2) and p.status.pending == 0


def test_the_schedules_own_runs_count_and_only_its_own() -> None:
    daily = schedule(retention=keep_last(2))
    own = [
        Child(f"books-daily-2026112{d}020000", at(20 + d), "Ready", schedule_uid=daily.uid, created_by_operator=True)
        for d in (2, 3)
    ]
    copied = Child("books-daily-20261124020000", at(24), "Ready", schedule_uid=daily.uid)  # applied by hand
    p = plan({"books": [run("books-daily", 20)]}, schedules=(daily,), children={daily.name: [*own, copied]})
    assert p.create == [] and p.status.collections[0].outside_retention == 1
    # a restore waiting for that very run keeps it, as retention keeps a run a restore needs
    needed = plan(
        {"books": [run("books-daily", 20)]},
        schedules=(daily,),
        children={daily.name: own},
        needed=frozenset({"books-daily-20261120020000"}),
    )
    assert created(needed) == ["books-daily-20261120020000"]


def test_delete_needs_both_the_import_and_the_schedule() -> None:
    snaps = [run("books-daily", d) for d in (18, 19, 20, 21)]
    both = plan({"books": snaps}, importing(deletionPolicy="Delete"), schedules=(schedule(retention=keep_last(2)),))
    # every run is imported, those retention keeps first; retention then drops the others in Milvus
    assert created(both) == [f"books-daily-202611{d}020000" for d in (21, 20, 18, 19)]
    assert {new.body["spec"]["deletionPolicy"] for new in both.create} == {"Delete"}  # type: ignore[index]
    assert both.status.collections[0].outside_retention == 0
    retained = schedule(retention=keep_last(2), deletion_policy=DeletionPolicy.RETAIN)
    one = plan({"books": snaps}, importing(deletionPolicy="Delete"), schedules=(retained,))
    assert created(one) == [f"books-daily-202611{d}020000" for d in (21, 20)]
    assert {new.body["spec"]["deletionPolicy"] for new in one.create} == {"Retain"}  # type: ignore[index]


def test_without_retention_or_with_an_unknown_zone_every_run_is_imported() -> None:
    snaps = [run("books-daily", d) for d in (18, 19, 20)]
    assert len(plan({"books": snaps}, schedules=(schedule(),)).create) == 3
    stalled = schedule(retention=keep_last(1), time_zone="Mars/Olympus")  # its retention does not run
    assert len(plan({"books": snaps}, schedules=(stalled,)).create) == 3


@dataclasses.dataclass(frozen=True)
class Resource:
    snapshot: str
    child: Child
    policy: str  # spec.deletionPolicy


@dataclasses.dataclass
class World:
    """Milvus and the namespace, stepped through inventory passes, schedule runs and retention."""

    template: DeletionPolicy
    spec: Inventory
    rules: Retention
    milvus: set[str] = dataclasses.field(default_factory=set)  # snapshot names on `books`
    resources: dict[str, Resource] = dataclasses.field(default_factory=dict)  # MilvusSnapshots by name
    imports: list[str] = dataclasses.field(default_factory=list)  # snapshot names, once per import

    @property
    def entry(self) -> ScheduleEntry:
        return schedule(retention=self.rules, deletion_policy=self.template)

    def inventory_pass(self) -> None:
        p = plan(
            {"books": sorted(self.milvus)},
            self.spec,
            represented=frozenset(ident(r.snapshot) for r in self.resources.values()),
            names_taken=frozenset(self.resources),
            schedules=(self.entry,),
            children={"books-daily": [r.child for r in self.resources.values()]},
        )
        for new in p.create:
            assert new.name not in self.resources
            snapshot = new.identity[3]
            self.imports.append(snapshot)
            when = run_time(snapshot, "books-daily")
            uid = meta(new.body)["annotations"].get("snapshot.milvus.io/schedule-uid")
            child = Child(new.name, when or NOW, "Ready", schedule_uid=uid, created_by_operator=True, imported=True)
            self.resources[new.name] = Resource(snapshot, child, new.body["spec"]["deletionPolicy"])  # type: ignore[index]

    def new_run(self, when: datetime.datetime) -> None:
        name = f"books-daily-{when:%Y%m%d%H%M%S}"
        snapshot = run("books-daily", when.day, when.hour)
        self.milvus.add(snapshot)
        child = Child(name, when, "Ready", schedule_uid=self.entry.uid, created_by_operator=True)
        self.resources[name] = Resource(snapshot, child, self.template)

    def retention_run(self) -> None:
        owned = [r.child for r in self.resources.values() if r.child.owned_by(self.entry.uid)]
        for name in retention.select(owned, self.rules, datetime.UTC).prune:
            pruned = self.resources.pop(name)
            if pruned.policy == DeletionPolicy.DELETE:  # the finalizer drops it (an adopted one: create_ts matches)
                self.milvus.discard(pruned.snapshot)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize(
    ("template", "imported"), [("Retain", "Retain"), ("Delete", "Retain"), ("Delete", "Delete"), ("Retain", "Delete")]
)
def test_import_and_retention_never_undo_each_other(seed: int, template: str, imported: str) -> None:
    """The loop the no-loop rule prevents: retention prunes an import with Retain (the resource only), the
    next pass finds the snapshot unrepresented and imports it again, and so on. Random histories, passes, runs
    and retention runs in random order: no snapshot is ever imported twice, and what retention keeps of the
    history is represented in the end."""
    rng = random.Random(seed)
    rules = Retention(keep_last=rng.choice([None, 1, 2, 3]), keep_daily=rng.choice([None, 2, 4]))
    world = World(
        DeletionPolicy(template), importing(deletionPolicy=imported, maxPerPass=rng.choice([1, 2, 50])), rules
    )
    world.milvus.update(run("books-daily", d, h) for d in range(1, 11) for h in (2, 14) if rng.random() < 0.6)
    world.milvus.update({"by_hand", "Other"})
    day = 11
    for _ in range(40):
        action = rng.random()
        if action < 0.5:
            world.inventory_pass()
        elif action < 0.75:
            world.new_run(at(day, rng.choice([2, 14])))
            day += 1 if rng.random() < 0.5 else 0
        else:
            world.retention_run()
    assert len(world.imports) == len(set(world.imports)), f"imported more than once: {world.imports}"
    for _ in range(10):  # settle: retention and passes until nothing changes
        world.retention_run()
        world.inventory_pass()
    world.retention_run()
    assert len(world.imports) == len(set(world.imports))
    assert {"by_hand", "Other"} <= {r.snapshot for r in world.resources.values()}
    owned = [r.child for r in world.resources.values() if r.child.owned_by(world.entry.uid)]
    assert retention.select(owned, rules, datetime.UTC).prune == []  # stable: nothing left to prune


# ---- the handler's facts -----------------------------------------------------------------------------------------


def entry(name: str, **fields: Any) -> SnapshotEntry:
    defaults: dict[str, Any] = {
        "name": name,
        "connection": "milvus",
        "collection_name": "books",
        "phase": "Ready",
        "snapshot_name": name.replace("-", "_"),
        "db_name": "default",
        "endpoint": EP,
    }
    return SnapshotEntry(**(defaults | fields))


def test_what_represents_a_snapshot_in_any_namespace() -> None:
    runtime = types.SimpleNamespace(recent_imports={ident("claimed"): time.monotonic() + 60, ident("old"): 0.0})
    index = {
        ("team-a", "ready"): [entry("ready")],
        ("team-b", "elsewhere"): [entry("elsewhere")],  # another namespace: still represented
        ("team-a", "taken"): [entry("taken", phase="Failed")],  # SnapshotExists: it holds nothing
        ("team-a", "pending"): [
            entry(
                "pending",
                phase=None,
                snapshot_name=None,
                db_name=None,
                endpoint=None,
                imported_from=f"{EP}/default/books/adopt_me",
            )
        ],
        ("team-a", "new"): [entry("new", phase=None, snapshot_name=None, db_name=None, endpoint=None)],
    }
    represented, taken = handler._represented(runtime, "team-a", index)  # type: ignore[arg-type]
    assert represented == {ident("ready"), ident("elsewhere"), ident("adopt_me"), ident("claimed")}
    assert taken == {"ready", "taken", "pending", "new"}
    assert runtime.recent_imports == {ident("claimed"): runtime.recent_imports[ident("claimed")]}  # expired: gone


def test_connections_reach_the_same_milvus() -> None:
    def conn(**fields: Any) -> MilvusConnectionSpec:
        return MilvusConnectionSpec.model_validate(fields)

    assert handler.same_milvus(conn(uri="http://m:19530"), conn(uri="tcp://M:19530/", dbName="prod"))
    assert handler.same_milvus(conn(uri="https://m"), conn(uri="tcp://m:443", tls={}))
    assert not handler.same_milvus(conn(uri="http://m:19530"), conn(uri="http://m:19531"))
    assert handler.same_milvus(conn(milvusRef={"name": "a"}), conn(milvusRef={"name": "a"}))
    assert not handler.same_milvus(conn(milvusRef={"name": "a"}), conn(uri="http://a:19530"))


# ---- what the indexes and the schedule planner know of imports ---------------------------------------------------------


async def test_indexes_carry_what_inventory_and_schedules_need() -> None:
    annotations = {"snapshot.milvus.io/imported-from": f"{EP}/default/books/x"}
    body = {
        "metadata": {
            "annotations": annotations,
            "labels": {"snapshot.milvus.io/schedule": "s", "snapshot.milvus.io/imported": "true"},
        }
    }
    found = await indexes.snapshots(
        namespace="team-a",
        name="x",
        spec={"connectionRef": {"name": "milvus"}, "collectionName": "books", "snapshotName": "x", "adopt": True},
        status={},
        meta=kopf.Meta(kopf.Body(body)),
    )
    assert found[("team-a", "x")].imported_from == f"{EP}/default/books/x"
    child = await indexes.schedule_children(namespace="team-a", name="x", meta=kopf.Meta(kopf.Body(body)), status={})
    assert child[("team-a", "s")].imported
    spec = {
        "schedule": "@daily",
        "timeZone": "Europe/Berlin",
        "template": {"connectionRef": {"name": "milvus"}, "collectionName": "books", "dbName": "prod"},
        "retention": {"keepLast": 3},
        "snapshotOwnerReference": "Schedule",
    }
    schedules = await handler.inventory_schedules(
        namespace="team-a",
        name="daily",
        uid="u-9",
        spec=spec,
        meta=kopf.Meta(kopf.Body({"metadata": {"labels": {"team": "x"}}})),
    )
    assert schedules == {
        "team-a": ScheduleEntry(
            name="daily",
            uid="u-9",
            connection="milvus",
            collection="books",
            db="prod",
            time_zone="Europe/Berlin",
            retention=Retention(keep_last=3),
            deletion_policy=DeletionPolicy.DELETE,
            owner_reference=True,
            labels={"team": "x"},
        )
    }


def test_an_import_adopting_history_never_holds_back_a_run() -> None:
    """Forbid skips a run while another is in progress; an import still adopting (or stuck Pending because the
    snapshot went away) is not a run."""
    spec = MilvusSnapshotScheduleSpec.model_validate(
        {"schedule": "@hourly", "template": {"connectionRef": {"name": "milvus"}, "collectionName": "books"}}
    )
    status = MilvusSnapshotScheduleStatus(observed_generation=1, next_schedule_time="2026-11-25T12:00:00Z")
    adopting = Child(
        "books-hourly-20261120020000", at(20), "Pending", schedule_uid="u-1", created_by_operator=True, imported=True
    )
    p = plan_schedule(ScheduleInputs("books-hourly", "u-1", 1, spec, status, NOW, children=[adopting]))
    assert [c.name for c in p.create] == ["books-hourly-20261125120000"]
    assert p.status.active == ["books-hourly-20261125120000"]


def test_the_plugins_status_line_sums_up_the_inventory() -> None:
    from milvus_snapshot_operator.cli import tree

    conn = {
        "metadata": {"name": "milvus", "namespace": "play"},
        "spec": {"uri": "http://m:19530"},
        "status": {
            "endpoint": "http://m:19530",
            "conditions": [{"type": "Ready", "status": "True", "reason": "Connected"}],
            "inventory": {"lastPassTime": "2026-11-25T12:00:00Z", "snapshots": 12, "unrepresented": 3, "pending": 2},
        },
    }
    node = tree.connection_node(conn)
    assert node.details == "http://m:19530, inventory 12 snapshots, 3 unrepresented, 2 to import"
    del conn["status"]["inventory"]["pending"]  # type: ignore[attr-defined]
    assert tree.connection_node(conn).details.endswith("inventory 12 snapshots, 3 unrepresented")
