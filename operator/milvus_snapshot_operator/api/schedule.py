"""MilvusSnapshotSchedule: cron-driven MilvusSnapshots with GFS retention, safe under GitOps."""

from __future__ import annotations

import enum

from pydantic import ConfigDict, Field

from .common import ConditionedStatus, LocalObjectReference, Model
from .snapshot import MilvusSnapshotSpec

KIND = "MilvusSnapshotSchedule"
PLURAL = "milvussnapshotschedules"
# Children are named <schedule>-<yyyymmddhhmmss> and labelled with the schedule's name (a label value: <= 63).
NAME_MAX = 48
# 5 fields or a macro; field values are checked in full by the operator (Stalled naming spec.schedule).
SCHEDULE_PATTERN = r"^\s*(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[^\s@]+(\s+[^\s@]+){4})\s*$"
# Schedules that can never run, caught at apply time where a pattern can see it (a single impossible day in a
# single month); the operator rejects every other impossible combination (InvalidSchedule naming the field).
NEVER_IN_FEBRUARY = r"^\s*\S+\s+\S+\s+(30|31)\s+(2|[Ff][Ee][Bb])\s+\S+\s*$"
NEVER_IN_SHORT_MONTHS = r"^\s*\S+\s+\S+\s+31\s+(4|6|9|11|[Aa][Pp][Rr]|[Jj][Uu][Nn]|[Ss][Ee][Pp]|[Nn][Oo][Vv])\s+\S+\s*$"


def _cel(pattern: str) -> str:
    """A regex as a CEL string literal (backslashes doubled)."""
    return "'" + pattern.replace(chr(92), chr(92) * 2) + "'"


class ConcurrencyPolicy(enum.StrEnum):
    FORBID = "Forbid"
    ALLOW = "Allow"
    REPLACE = "Replace"


class SnapshotOwnerReference(enum.StrEnum):
    NONE = "None"
    SCHEDULE = "Schedule"


class SnapshotTemplate(MilvusSnapshotSpec):
    """The MilvusSnapshot spec each run uses; every run gets its own snapshot name."""

    model_config = MilvusSnapshotSpec.model_config | ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.snapshotName)",
                    "message": "spec.template.snapshotName must not be set: each run names its snapshot after itself",
                    "fieldPath": ".snapshotName",
                },
                {
                    "rule": "!self.adopt",
                    "message": "spec.template.adopt must be false: a schedule creates new snapshots",
                    "fieldPath": ".adopt",
                },
            ]
        }
    )


class Retention(Model):
    """restic semantics: a Ready snapshot is kept when any rule keeps it; the newest Ready one always is."""

    keep_last: int | None = Field(default=None, ge=0, description="Keep the newest N Ready snapshots.")
    keep_hourly: int | None = Field(default=None, ge=0, description="Keep the newest snapshot of each of N hours.")
    keep_daily: int | None = Field(default=None, ge=0, description="Keep the newest snapshot of each of N days.")
    keep_weekly: int | None = Field(default=None, ge=0, description="Keep the newest snapshot of each of N ISO weeks.")
    keep_monthly: int | None = Field(default=None, ge=0, description="Keep the newest snapshot of each of N months.")
    keep_yearly: int | None = Field(default=None, ge=0, description="Keep the newest snapshot of each of N years.")
    failed_history_limit: int = Field(default=1, ge=0, description="Failed snapshots to keep (the newest).")


class MilvusSnapshotScheduleSpec(Model):
    schedule: str = Field(
        max_length=100,
        description=(
            "5-field cron (minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly, "
            "@yearly; evaluated in timeZone. 6-field cron (with seconds) is not supported."
        ),
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"self.matches({_cel(SCHEDULE_PATTERN)})",
                    "message": (
                        "spec.schedule must be 5-field cron (minute hour day-of-month month day-of-week) or "
                        "@hourly/@daily/@weekly/@monthly/@yearly; 6-field cron with seconds is not supported"
                    ),
                },
                {
                    "rule": f"!self.matches({_cel(NEVER_IN_FEBRUARY)}) && !self.matches({_cel(NEVER_IN_SHORT_MONTHS)})",
                    "message": "spec.schedule never runs: that day-of-month does not occur in that month",
                },
            ]
        },
    )
    time_zone: str = Field(
        default="UTC", min_length=1, max_length=64, description="IANA time zone of the schedule, e.g. Europe/Berlin."
    )
    template: SnapshotTemplate = Field(description="The MilvusSnapshot spec of each run.")
    suspend: bool = Field(default=False, description="No runs (scheduled or triggered) while true.")
    concurrency_policy: ConcurrencyPolicy = Field(
        default=ConcurrencyPolicy.FORBID,
        description="When a run is due while another is in progress: Forbid (skip), Allow, Replace (delete it).",
    )
    starting_deadline_seconds: int | None = Field(
        default=None,
        ge=0,
        description="A run missed (e.g. operator down) by more than this is skipped; at most one catch-up run.",
    )
    run_on_create: bool = Field(default=False, description="Run once when the schedule is created.")
    retention: Retention | None = Field(default=None, description="Which of this schedule's snapshots to keep.")
    snapshot_owner_reference: SnapshotOwnerReference = Field(
        default=SnapshotOwnerReference.NONE,
        description=(
            "None: deleting or pruning the schedule never deletes its snapshots. "
            "Schedule: snapshots are owned by the schedule and garbage-collected with it."
        ),
    )


class RetentionStatus(Model):
    last_run_time: str | None = Field(default=None, description="When retention last ran (RFC 3339).")
    kept: int | None = Field(default=None, description="Snapshots of this schedule kept by the last run.")
    pruned: list[str] = Field(default_factory=list, description="MilvusSnapshots deleted by the last run.")
    errors: list[str] = Field(default_factory=list, description="Deletions that failed in the last run.")


class MilvusSnapshotScheduleStatus(ConditionedStatus):
    last_schedule_time: str | None = Field(default=None, description="When the last run was started (RFC 3339).")
    next_schedule_time: str | None = Field(default=None, description="When the next run is due (RFC 3339).")
    last_successful_time: str | None = Field(default=None, description="Creation time of the newest Ready snapshot.")
    last_failed_time: str | None = Field(default=None, description="When a run's snapshot last failed.")
    last_skipped_time: str | None = Field(default=None, description="When a run was last skipped.")
    last_skip_reason: str | None = Field(default=None, description="Why: Suspended, ConcurrencyForbid, DeadlineMissed.")
    last_trigger: str | None = Field(default=None, description="Last value of the trigger annotation handled.")
    active: list[str] = Field(default_factory=list, description="MilvusSnapshots of this schedule in progress.")
    retention: RetentionStatus | None = Field(default=None, description="The last retention run.")


__all__ = [
    "KIND",
    "PLURAL",
    "ConcurrencyPolicy",
    "LocalObjectReference",
    "MilvusSnapshotScheduleSpec",
    "MilvusSnapshotScheduleStatus",
    "Retention",
    "RetentionStatus",
    "SnapshotOwnerReference",
    "SnapshotTemplate",
]
