"""MilvusSnapshotSchedule planner with an injected clock: no run on create, one catch-up at most, deadlines,
suspend, triggers, concurrency policies, GitOps-safe children, retention and the status it reports."""

from __future__ import annotations

import datetime
from typing import Any

from milvus_snapshot_operator.api.schedule import MilvusSnapshotScheduleSpec, MilvusSnapshotScheduleStatus
from milvus_snapshot_operator.reconcile.retention import Child
from milvus_snapshot_operator.reconcile.schedule import (
    Plan,
    ScheduleInputs,
    child_labels,
    plan_schedule,
    record_prune_failures,
    run_failed,
)

UTC = datetime.UTC
CREATED = datetime.datetime(2026, 11, 25, 10, 20, 5, tzinfo=UTC)
TEMPLATE = {"connectionRef": {"name": "milvus"}, "collectionName": "books"}


def spec(**fields: Any) -> MilvusSnapshotScheduleSpec:
    return MilvusSnapshotScheduleSpec.model_validate({"schedule": "@hourly", "template": TEMPLATE, **fields})


def at(hh_mm_ss: str, day: int = 25) -> datetime.datetime:
    h, m, s = (int(x) for x in hh_mm_ss.split(":"))
    return datetime.datetime(2026, 11, day, h, m, s, tzinfo=UTC)


def step(
    now: datetime.datetime,
    status: MilvusSnapshotScheduleStatus | None = None,
    generation: int = 1,
    **kw: Any,
) -> Plan:
    fields = {"name": "books-hourly", "uid": "u-1", "generation": generation, "spec": spec(), "created_at": CREATED}
    return plan_schedule(
        ScheduleInputs(status=status or MilvusSnapshotScheduleStatus(), now=now, **(fields | kw))  # type: ignore[arg-type]
    )


def mine(name: str, time: datetime.datetime, **fields: Any) -> Child:
    """A child this schedule's daemon created (its UID annotation, the operator as creator)."""
    return Child(name, time, schedule_uid="u-1", created_by_operator=True, **fields)


def names(plan: Plan) -> list[str]:
    return [c.name for c in plan.create]


def conditions(status: MilvusSnapshotScheduleStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


def test_no_run_on_create_by_default_then_runs_at_the_tick() -> None:
    plan = step(at("10:20:06"))
    assert plan.create == [] and plan.delete == []
    assert plan.status.next_schedule_time == "2026-11-25T11:00:00Z"
    assert plan.wake_at == at("11:00:00")
    assert conditions(plan.status)["Ready"] == ("True", "Scheduled")
    assert conditions(plan.status)["LastSnapshotSucceeded"] == ("Unknown", "NoSnapshotYet")
    assert plan.status.observed_generation == 1
    early = step(at("10:59:59"), plan.status)
    assert early.create == [] and early.status.next_schedule_time == "2026-11-25T11:00:00Z"
    due = step(at("11:00:00"), plan.status)
    assert names(due) == ["books-hourly-20261125110000"]
    assert due.status.last_schedule_time == "2026-11-25T11:00:00Z"
    assert due.status.next_schedule_time == "2026-11-25T12:00:00Z"
    assert due.status.active == ["books-hourly-20261125110000"]
    assert step(at("11:00:01"), due.status).create == []  # once per tick


def test_run_on_create_runs_once_named_after_the_creation_time() -> None:
    plan = step(at("10:20:09"), spec=spec(runOnCreate=True))
    assert names(plan) == ["books-hourly-20261125102005"]
    assert step(at("10:20:10"), plan.status, spec=spec(runOnCreate=True)).create == []


def test_after_downtime_one_catch_up_run_for_the_latest_missed_tick() -> None:
    before = step(at("10:20:06")).status  # next run 11:00; the operator is then down until 15:10
    plan = step(at("15:10:00"), before)
    assert names(plan) == ["books-hourly-20261125150000"]  # not 11:00, 12:00, 13:00, 14:00 and 15:00
    assert plan.status.next_schedule_time == "2026-11-25T16:00:00Z"


def test_missed_run_beyond_the_starting_deadline_is_skipped() -> None:
    deadline = spec(startingDeadlineSeconds=300)
    before = step(at("10:20:06"), spec=deadline).status
    within = step(at("15:04:59"), before, spec=deadline)
    assert names(within) == ["books-hourly-20261125150000"]
    late = step(at("15:05:01"), before, spec=deadline)
    assert late.create == []
    assert late.status.last_skip_reason == "DeadlineMissed" and late.status.last_skipped_time == "2026-11-25T15:05:01Z"
    assert late.status.next_schedule_time == "2026-11-25T16:00:00Z"
    assert [(e.type, e.reason) for e in late.events] == [("Warning", "RunSkipped")]


def test_suspend_stops_runs_and_unsuspending_does_not_fire_missed_ones() -> None:
    before = step(at("10:20:06")).status
    suspended = step(at("12:30:00"), before, generation=2, spec=spec(suspend=True))
    assert suspended.create == [] and suspended.status.next_schedule_time is None
    assert conditions(suspended.status)["Ready"] == ("True", "Suspended")
    again = step(at("13:30:00"), suspended.status, generation=2, spec=spec(suspend=True), trigger="t1")
    assert again.create == [] and again.status.last_trigger == "t1"  # consumed: it does not fire on unpause
    assert again.status.last_skip_reason == "Suspended"
    resumed = step(at("14:30:00"), again.status, generation=3, trigger="t1")
    assert resumed.create == [] and resumed.status.next_schedule_time == "2026-11-25T15:00:00Z"


def test_spec_change_recomputes_the_next_run_from_now() -> None:
    before = step(at("10:20:06")).status
    changed = step(at("11:30:00"), before, generation=2, spec=spec(schedule="45 * * * *"))
    assert changed.create == [] and changed.status.next_schedule_time == "2026-11-25T11:45:00Z"
    sooner = step(at("10:30:00"), before, generation=2, spec=spec(schedule="45 * * * *"))
    assert sooner.status.next_schedule_time == "2026-11-25T10:45:00Z"  # not the old 11:00


def test_trigger_annotation_runs_once_per_value() -> None:
    before = step(at("10:20:06")).status
    plan = step(at("10:30:00"), before, trigger="2026-11-25T10:30")
    (body,) = [c.body for c in plan.create]
    assert body["metadata"]["name"] == "books-hourly-20261125103000"
    assert body["metadata"]["annotations"]["snapshot.milvus.io/trigger"] == "2026-11-25T10:30"
    assert plan.status.last_trigger == "2026-11-25T10:30"
    assert plan.status.next_schedule_time == "2026-11-25T11:00:00Z"  # the schedule itself is unchanged
    assert step(at("10:30:01"), plan.status, trigger="2026-11-25T10:30").create == []
    assert names(step(at("10:31:00"), plan.status, trigger="second")) == ["books-hourly-20261125103100"]


def test_trigger_started_before_a_crash_is_recorded_not_repeated() -> None:
    before = step(at("10:20:06")).status
    made = mine("books-hourly-20261125103000", at("10:30:00"), phase="Creating", trigger="t1")
    plan = step(at("10:30:09"), before, trigger="t1", children=[made])
    assert plan.create == [] and plan.status.last_trigger == "t1"


def test_scheduled_run_created_before_a_crash_is_not_created_again() -> None:
    before = step(at("10:20:06")).status
    made = mine("books-hourly-20261125110000", at("11:00:00"), phase="Creating")
    plan = step(at("11:00:03"), before, children=[made])
    assert plan.create == [] and plan.status.last_schedule_time == "2026-11-25T11:00:03Z"
    assert plan.status.next_schedule_time == "2026-11-25T12:00:00Z"


def test_concurrency_policies() -> None:
    before = step(at("10:20:06")).status
    running = [mine("books-hourly-20261125100000", at("10:00:00"), phase="Creating")]
    forbid = step(at("11:00:00"), before, children=running)
    assert forbid.create == [] and forbid.status.last_skip_reason == "ConcurrencyForbid"
    waiting = step(at("10:40:00"), before, children=running, trigger="t1")
    assert waiting.create == [] and waiting.status.last_trigger is None  # a manual run waits, it is not lost
    allow = step(at("11:00:00"), before, children=running, spec=spec(concurrencyPolicy="Allow"))
    assert names(allow) == ["books-hourly-20261125110000"] and allow.delete == []
    assert allow.status.active == ["books-hourly-20261125100000", "books-hourly-20261125110000"]
    replace = step(at("11:00:00"), before, children=running, spec=spec(concurrencyPolicy="Replace"))
    assert names(replace) == ["books-hourly-20261125110000"]
    assert replace.delete == ["books-hourly-20261125100000"]
    assert replace.status.active == ["books-hourly-20261125110000"]


def test_children_carry_no_gitops_tracking_and_no_owner_by_default() -> None:
    labels = {
        "team": "data",
        "app.kubernetes.io/instance": "prod-backups",
        "app.kubernetes.io/managed-by": "Helm",
        "argocd.argoproj.io/instance": "prod",
        "kustomize.toolkit.fluxcd.io/name": "backups",
        "helm.toolkit.fluxcd.io/name": "backups",
        "snapshot.milvus.io/keep": "true",
    }
    assert child_labels("books-hourly", labels) == {"team": "data", "snapshot.milvus.io/schedule": "books-hourly"}
    before = step(at("10:20:06")).status
    (body,) = [c.body for c in step(at("11:00:00"), before, labels=labels).create]
    assert body["metadata"]["labels"] == {"team": "data", "snapshot.milvus.io/schedule": "books-hourly"}
    assert body["metadata"]["annotations"] == {
        "snapshot.milvus.io/run-time": "2026-11-25T11:00:00Z",
        "snapshot.milvus.io/schedule-uid": "u-1",  # which schedule made it: retention prunes only its own
    }
    assert "ownerReferences" not in body["metadata"]
    assert body["spec"]["collectionName"] == "books" and "snapshotName" not in body["spec"]
    (owned,) = [c.body for c in step(at("11:00:00"), before, spec=spec(snapshotOwnerReference="Schedule")).create]
    assert owned["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "snapshot.milvus.io/v1alpha1",
            "kind": "MilvusSnapshotSchedule",
            "name": "books-hourly",
            "uid": "u-1",
            "controller": True,
        }
    ]


def test_invalid_schedule_or_time_zone_is_stalled_naming_the_field() -> None:
    plan = step(at("10:20:06"), spec=spec(schedule="0 0 * * * *"))
    assert conditions(plan.status)["Stalled"] == ("True", "InvalidSchedule")
    assert conditions(plan.status)["Ready"] == ("False", "InvalidSchedule")
    assert plan.status.error is not None and plan.status.error.message.startswith("spec.schedule: 6-field")
    assert plan.create == [] and plan.wake_at is None and [e.reason for e in plan.events] == ["InvalidSchedule"]
    assert step(at("10:21:00"), plan.status, spec=spec(schedule="0 0 * * * *")).events == []  # said once
    zone = step(at("10:20:06"), spec=spec(timeZone="Europe/Atlantis"))
    assert zone.status.error is not None and zone.status.error.message.startswith("spec.timeZone:")
    fixed = step(at("10:30:00"), zone.status, generation=2)
    assert conditions(fixed.status)["Ready"] == ("True", "Scheduled") and "Stalled" not in conditions(fixed.status)


def test_time_zone_applies_to_the_schedule() -> None:
    plan = step(at("10:20:06"), spec=spec(schedule="0 2 * * *", timeZone="Europe/Berlin"))
    assert plan.status.next_schedule_time == "2026-11-26T01:00:00Z"


def test_retention_prunes_after_success_and_reports_it() -> None:
    rules = spec(retention={"keepLast": 2})
    ready = [mine(f"books-hourly-2026112500{i}000", at(f"0{i}:00:00"), phase="Ready") for i in (1, 2, 3)]
    plan = step(at("03:10:00"), children=ready, spec=rules)
    assert plan.delete == ["books-hourly-20261125001000"]
    assert plan.status.retention is not None
    assert plan.status.retention.pruned == ["books-hourly-20261125001000"] and plan.status.retention.kept == 2
    assert plan.status.retention.last_run_time == "2026-11-25T03:10:00Z"
    assert ("Normal", "RetentionPruned") in [(e.type, e.reason) for e in plan.events]
    assert plan.status.last_successful_time == "2026-11-25T03:00:00Z"
    assert conditions(plan.status)["LastSnapshotSucceeded"] == ("True", "SnapshotSucceeded")
    # nothing left to prune and no new success: the status is left alone until the retention timer
    quiet = step(at("03:20:00"), plan.status, children=ready[1:], spec=rules)
    assert quiet.delete == [] and quiet.status.retention == plan.status.retention
    assert quiet.wake_at == at("04:00:00")  # next tick (04:00) before the retention timer (04:10)
    timer = step(at("04:10:00"), quiet.status, children=ready[1:], spec=rules)
    assert timer.status.retention is not None and timer.status.retention.last_run_time == "2026-11-25T04:10:00Z"
    assert timer.status.retention.pruned == []


def test_last_snapshot_failed_condition_and_times() -> None:
    children = [
        mine("books-hourly-20261125020000", at("02:00:00"), phase="Failed", message="collection not found"),
        mine("books-hourly-20261125010000", at("01:00:00"), phase="Ready"),
    ]
    plan = step(at("02:10:00"), children=children)
    assert conditions(plan.status)["LastSnapshotSucceeded"] == ("False", "SnapshotFailed")
    message = next(c.message for c in plan.status.conditions if c.type == "LastSnapshotSucceeded")
    assert message == "books-hourly-20261125020000: collection not found"
    assert plan.status.last_failed_time == "2026-11-25T02:00:00Z"
    assert plan.status.last_successful_time == "2026-11-25T01:00:00Z"
    # times survive the pruning of the snapshots they came from
    later = step(at("03:10:00"), plan.status, children=[])
    assert later.status.last_failed_time == "2026-11-25T02:00:00Z"
    assert conditions(later.status)["LastSnapshotSucceeded"] == ("False", "SnapshotFailed")


def test_retention_never_prunes_what_it_did_not_create() -> None:
    """A copied manifest with the schedule's label (applied by hand, or a re-created schedule's old runs)."""
    rules = spec(retention={"keepLast": 1})
    ready = [mine(f"books-hourly-2026112500{i}000", at(f"0{i}:00:00"), phase="Ready") for i in (1, 2)]
    copied = Child("books-hourly-20261125000000", at("00:00:00"), phase="Ready", schedule_uid="u-1")
    older_schedule = Child(
        "books-hourly-20261124000000", at("00:00:00", 24), phase="Ready", schedule_uid="u-0", created_by_operator=True
    )
    plan = step(at("03:10:00"), children=[*ready, copied, older_schedule], spec=rules)
    assert plan.delete == ["books-hourly-20261125001000"]


def test_retention_keeps_a_snapshot_an_unfinished_restore_needs() -> None:
    rules = spec(retention={"keepLast": 1})
    ready = [
        mine("books-hourly-20261125001000", at("01:00:00"), phase="Ready", referenced=True),
        mine("books-hourly-20261125002000", at("02:00:00"), phase="Ready"),
    ]
    assert step(at("03:10:00"), children=ready, spec=rules).delete == []


def test_allow_does_not_pile_up_runs_behind_a_pending_one() -> None:
    """With a broken connection every run stays Pending: Allow used to add one more each tick, forever."""
    allow = spec(concurrencyPolicy="Allow")
    before = step(at("10:20:06"), spec=allow).status
    pending = [mine("books-hourly-20261125110000", at("11:00:00"), phase="Pending")]
    plan = step(at("12:00:00"), before, children=pending, spec=allow)
    assert plan.create == [] and plan.status.last_skip_reason == "PreviousRunPending"
    assert plan.status.active == ["books-hourly-20261125110000"]
    creating = [mine("books-hourly-20261125110000", at("11:00:00"), phase="Creating")]
    assert names(step(at("12:00:00"), before, children=creating, spec=allow)) == ["books-hourly-20261125120000"]


def test_a_schedule_that_can_never_run_is_invalid_not_a_crash() -> None:
    plan = step(at("10:20:06"), spec=spec(schedule="0 0 30 2 *"))
    assert conditions(plan.status)["Ready"] == ("False", "InvalidSchedule")
    assert plan.status.next_schedule_time is None and plan.create == []
    assert plan.status.error is not None and "spec.schedule" in plan.status.error.message
    assert [e.reason for e in plan.events] == ["InvalidSchedule"]


def test_failed_prunes_and_runs_are_reported() -> None:
    rules = spec(retention={"keepLast": 1})
    ready = [mine(f"books-hourly-2026112500{i}000", at(f"0{i}:00:00"), phase="Ready") for i in (1, 2)]
    plan = step(at("03:10:00"), children=ready, spec=rules)
    failed = ["books-hourly-20261125001000: 403 Forbidden"]
    record_prune_failures(plan, failed, [])
    assert plan.status.retention is not None and plan.status.retention.errors == failed
    assert ("Warning", "RetentionFailed") in [(e.type, e.reason) for e in plan.events]
    again = step(at("03:20:00"), plan.status, children=ready, spec=rules)  # re-planned, the same failure
    record_prune_failures(again, failed, plan.status.retention.errors)
    assert again.status.retention is not None and again.status.retention.errors == failed
    assert "RetentionFailed" not in [e.reason for e in again.events], "the same failure is not posted again"
    due = step(at("11:00:00"), step(at("10:20:06")).status)
    event = run_failed(due.create[0], "500 Internal Server Error", 0)
    assert event is not None and (event.type, event.reason) == ("Warning", "RunFailed")
    assert "books-hourly-20261125110000" in event.message
    assert run_failed(due.create[0], "500 Internal Server Error", 1) is None, "a retry is not posted again"
