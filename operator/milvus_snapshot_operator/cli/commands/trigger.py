"""`trigger SCHEDULE`: run a schedule now, as `kubectl annotate ... snapshot.milvus.io/trigger=$(date +%s)` does.

The operator starts the run with its own clock and names the MilvusSnapshot `<schedule>-<UTC yyyymmddhhmmss>`;
the run carries the trigger value as an annotation, which is how the run is found here.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import TextIO

from ...api import GROUP, SCHEDULE_LABEL, TRIGGER_ANNOTATION
from ..errors import CliError, TimedOut
from ..kinds import SCHEDULE, SNAPSHOT
from ..kube import Kube
from ..states import Obj, status_of
from ..waiting import deadline_after, follow

POLL_SECONDS = 0.5


def trigger_value(previous: str | None, now: float) -> str:
    """The current Unix time, made different from the previous value (the operator ignores a repeated one)."""
    value = int(now)
    if previous and previous.isdigit() and int(previous) >= value:
        value = int(previous) + 1
    return str(value)


def _run_of(kube: Kube, schedule: str, value: str) -> Obj | None:
    children = kube.items(SNAPSHOT, kube.namespace, label_selector=f"{SCHEDULE_LABEL}={schedule}")
    return next(
        (c for c in children if (c["metadata"].get("annotations") or {}).get(TRIGGER_ANNOTATION) == value), None
    )


def run(args: argparse.Namespace, connect: Callable[[], Kube], out: TextIO) -> int:
    kube = connect()
    deadline = deadline_after(args.timeout)
    name = args.schedule
    schedule = kube.require(SCHEDULE, name)
    spec, status = dict(schedule.get("spec") or {}), status_of(schedule)
    if spec.get("suspend"):
        raise CliError(
            f"error: {SCHEDULE.short}/{name} is suspended (spec.suspend: true): the operator ignores triggers"
        )
    previous = (schedule["metadata"].get("annotations") or {}).get(TRIGGER_ANNOTATION)
    value = trigger_value(previous, time.time())
    kube.merge_patch(SCHEDULE, name, {"metadata": {"annotations": {TRIGGER_ANNOTATION: value}}})
    out.write(f"{SCHEDULE.singular}.{GROUP}/{name} triggered ({TRIGGER_ANNOTATION}={value})\n")
    if status.get("active") and spec.get("concurrencyPolicy", "Forbid") == "Forbid":
        running = ", ".join(status["active"])
        out.write(f"note: {running} still running; with concurrencyPolicy Forbid this run starts after it\n")
    out.write(
        f"expecting {SNAPSHOT.short}/{name}-<UTC yyyymmddhhmmss of the run> "
        f"({SCHEDULE_LABEL}={name}, {TRIGGER_ANNOTATION}={value})\n"
    )
    out.flush()
    if args.wait is False:
        return 0
    while (child := _run_of(kube, name, value)) is None:
        if time.monotonic() >= deadline:
            raise TimedOut(f"error: timed out waiting for the run of {SCHEDULE.short}/{name}: no MilvusSnapshot yet")
        current = status_of(kube.require(SCHEDULE, name))
        if current.get("lastTrigger") == value and current.get("lastSkipReason") == "Suspended":
            raise CliError(f"error: {SCHEDULE.short}/{name} was suspended: the trigger was ignored")
        time.sleep(POLL_SECONDS)
    child_name = str(child["metadata"]["name"])
    out.write(f"{SNAPSHOT.singular}.{GROUP}/{child_name} created by the run\n")
    out.flush()
    if args.wait:
        follow(kube, SNAPSHOT, child_name, deadline, out, args.timeout)
    return 0
