"""5-field cron in an IANA time zone, computed on wall-clock days so DST is handled explicitly.

A wall time that does not exist (spring forward) runs shifted by the gap, as Python's fold=0 maps it, so a
daily run is never lost; a wall time that happens twice (fall back) runs once, at its first occurrence.
Day-of-month and day-of-week are OR-ed when both are restricted (Vixie cron, Kubernetes CronJob).
"""

from __future__ import annotations

import dataclasses
import datetime
import zoneinfo

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
_NAMES = {
    3: {
        n: i + 1
        for i, n in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
    },
    4: {n: i for i, n in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
}
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_LABELS = ("minute", "hour", "day-of-month", "month", "day-of-week")
_SEARCH_DAYS = 366 * 8 + 2  # "29 2 *" on a Monday only recurs every few years; no valid expression needs more


class CronError(ValueError):
    """An invalid schedule or time zone; the message names the field."""


@dataclasses.dataclass(frozen=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    dom_any: bool
    dow_any: bool
    zone: zoneinfo.ZoneInfo

    def _day_matches(self, day: datetime.date) -> bool:
        if day.month not in self.months:
            return False
        dom, dow = day.day in self.days, (day.isoweekday() % 7) in self.weekdays
        if self.dom_any or self.dow_any:
            return dom and dow
        return dom or dow

    def _runs_on(self, day: datetime.date) -> list[datetime.datetime]:
        """The UTC instants of the runs on one local calendar day, ascending and distinct."""
        if not self._day_matches(day):
            return []
        out = set()
        for hour in self.hours:
            for minute in self.minutes:
                wall = datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.zone)
                out.add(wall.astimezone(datetime.UTC))
        return sorted(out)

    def next_after(self, moment: datetime.datetime) -> datetime.datetime:
        """The first run strictly after `moment`."""
        day = moment.astimezone(self.zone).date() - datetime.timedelta(days=1)  # a shifted run may cross midnight
        for _ in range(_SEARCH_DAYS):
            for run in self._runs_on(day):
                if run > moment:
                    return run
            day += datetime.timedelta(days=1)
        raise CronError(f"{FIELD}: the expression never matches a date")

    def latest_at_or_before(self, moment: datetime.datetime) -> datetime.datetime | None:
        """The last run at or before `moment` (within the search horizon)."""
        day = moment.astimezone(self.zone).date() + datetime.timedelta(days=1)
        for _ in range(_SEARCH_DAYS):
            earlier = [run for run in self._runs_on(day) if run <= moment]
            if earlier:
                return earlier[-1]
            day -= datetime.timedelta(days=1)
        return None


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
    values = [_field(f, i) for i, f in enumerate(fields)]
    weekdays = frozenset(d % 7 for d in values[4])
    return Cron(
        minutes=tuple(sorted(values[0])),
        hours=tuple(sorted(values[1])),
        days=frozenset(values[2]),
        months=frozenset(values[3]),
        weekdays=weekdays,
        dom_any=fields[2] in ("*", "?"),
        dow_any=fields[4] in ("*", "?"),
        zone=zone,
    )


def _field(text: str, index: int) -> set[int]:
    low, high = _RANGES[index]
    label = _LABELS[index]
    out: set[int] = set()
    for part in text.lower().split(","):
        base, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if base in ("*", "?"):
                start, end = low, high
            elif "-" in base:
                first, _, last = base.partition("-")
                start, end = _value(first, index), _value(last, index)
            else:
                start = _value(base, index)
                end = high if step_text else start
        except ValueError:
            raise CronError(f"{FIELD}: invalid {label} field {text!r}") from None
        if step < 1 or not low <= start <= end <= high:
            raise CronError(f"{FIELD}: {label} field {text!r} is out of range {low}-{high}")
        out.update(range(start, end + 1, step))
    return out


def _value(text: str, index: int) -> int:
    names = _NAMES.get(index, {})
    return names[text] if text in names else int(text)
