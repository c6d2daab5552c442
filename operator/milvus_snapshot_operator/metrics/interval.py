"""A schedule's interval, for the per-schedule "no good snapshot within N x interval" alert.

The gap between the next two runs is wrong for crons like "0 2 * * 1-5": on a Tuesday it is one day, but
Friday's snapshot has to last until Monday. So the interval is the longest gap between consecutive runs over
the coming week (at least two runs, at most 64 looked at), computed once per schedule and day.
"""

from __future__ import annotations

import datetime
import functools
import itertools

from ..reconcile import cron

HORIZON = datetime.timedelta(days=8)
MAX_RUNS = 64


def interval_seconds(expression: str, time_zone: str, now: datetime.datetime) -> float | None:
    """Longest gap between runs in the week after `now`; None when the schedule is invalid."""
    day = now.astimezone(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return _interval(expression, time_zone, day)  # one computation per schedule and day


@functools.lru_cache(maxsize=1024)
def _interval(expression: str, time_zone: str, start: datetime.datetime) -> float | None:
    try:
        schedule = cron.parse(expression, time_zone)
        runs = [schedule.next_after(start)]
        while len(runs) < MAX_RUNS and (len(runs) < 2 or runs[-1] - runs[0] < HORIZON):
            runs.append(schedule.next_after(runs[-1]))
    except cron.CronError:
        return None
    return max((b - a).total_seconds() for a, b in itertools.pairwise(runs))
