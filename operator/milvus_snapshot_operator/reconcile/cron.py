"""5-field cron in an IANA time zone, over the maintained `cronsim` library (healthchecks.io's).

cronsim rejects what can never run (`0 0 30 2 *`: day 30 of February) when parsing, not on first use, and
handles DST the way Debian's cron does: a wall time in the spring-forward gap runs once, right after the gap;
a wall time repeated at fall-back runs once, at its first occurrence. Day-of-month and day-of-week are OR-ed
when both are restricted (Vixie cron, Kubernetes CronJob). What this module adds: the @macros, the refusal
of 6-field cron, and error messages that name the field (spec.schedule / spec.timeZone).
"""

from __future__ import annotations

import dataclasses
import datetime
import zoneinfo

from cronsim import CronSim, CronSimError

FIELD = "spec.schedule"
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_ONE_MINUTE = datetime.timedelta(minutes=1)
_LABELS = ("minute", "hour", "day-of-month", "month", "day-of-week")
_RANGES = ("0-59", "0-23", "1-31", "1-12 or jan-dec", "0-7 or sun-sat")


class CronError(ValueError):
    """An invalid schedule or time zone; the message names the field."""


@dataclasses.dataclass(frozen=True)
class Cron:
    expression: str  # 5 fields, macros expanded
    zone: zoneinfo.ZoneInfo

    def next_after(self, moment: datetime.datetime) -> datetime.datetime:
        """The first run strictly after `moment`, in UTC."""
        start = moment.astimezone(self.zone)
        return next(CronSim(self.expression, start)).astimezone(datetime.UTC)

    def latest_at_or_before(self, moment: datetime.datetime) -> datetime.datetime:
        """The last run at or before `moment`, in UTC."""
        # cronsim's reverse iteration starts strictly before its start, at minute granularity.
        start = (moment.astimezone(self.zone) + _ONE_MINUTE).replace(second=0, microsecond=0)
        return next(CronSim(self.expression, start, reverse=True)).astimezone(datetime.UTC)


def parse(expression: str, time_zone: str = "UTC") -> Cron:
    """Parse `expression` in `time_zone`; raises CronError naming spec.schedule or spec.timeZone."""
    try:
        zone = zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise CronError(f"spec.timeZone: unknown IANA time zone {time_zone!r}") from exc
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise CronError(f"{FIELD}: unknown macro {text!r} (use @hourly, @daily, @weekly, @monthly or @yearly)")
        text = MACROS[text.lower()]
    fields = text.split()
    if len(fields) == 6:
        raise CronError(f"{FIELD}: 6-field cron (with seconds) is not supported; use 5 fields: {expression!r}")
    if len(fields) != 5:
        raise CronError(f"{FIELD}: expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}")
    normalized = " ".join(fields)
    try:
        CronSim(normalized, datetime.datetime(2000, 1, 1, tzinfo=zone))  # validates, days that never occur too
    except CronSimError as exc:
        raise CronError(_explain(fields, str(exc))) from None
    return Cron(normalized, zone)


def _explain(fields: list[str], problem: str) -> str:
    """cronsim says "Bad day-of-month"; say which text, the allowed range, or why it can never run."""
    index = next((i for i, label in enumerate(_LABELS) if label in problem.lower()), None)
    if index is None:
        return f"{FIELD}: {problem}"
    if index == 2 and _valid(["0", "0", fields[2], "*", "*"]):  # a valid day, but not in those months
        return (
            f"{FIELD}: the expression never matches a date: day-of-month {fields[2]!r} does not occur in "
            f"month {fields[3]!r}"
        )
    return f"{FIELD}: invalid {_LABELS[index]} field {fields[index]!r} (allowed: {_RANGES[index]}, lists, ranges, */N)"


def _valid(fields: list[str]) -> bool:
    try:
        CronSim(" ".join(fields), datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
    except CronSimError:
        return False
    return True
