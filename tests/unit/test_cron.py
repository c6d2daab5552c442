"""Cron and time zone math (over cronsim): DST gaps and overlaps, month ends, macros, catch-up lookups, and
rejected input naming the field, including expressions that can never run."""

from __future__ import annotations

import datetime

import pytest

from milvus_snapshot_operator.reconcile.cron import CronError, parse

UTC = datetime.UTC


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).astimezone(UTC)


def runs(expression: str, zone: str, after: str, count: int) -> list[str]:
    cron, moment, out = parse(expression, zone), at(after), []
    for _ in range(count):
        moment = cron.next_after(moment)
        out.append(moment.strftime("%Y-%m-%dT%H:%MZ"))
    return out


@pytest.mark.parametrize(
    ("expression", "zone", "after", "expected"),
    [
        ("@hourly", "UTC", "2026-11-25T10:15:00+00:00", ["2026-11-25T11:00Z", "2026-11-25T12:00Z"]),
        ("@daily", "UTC", "2026-12-31T23:59:59+00:00", ["2027-01-01T00:00Z", "2027-01-02T00:00Z"]),
        ("@weekly", "UTC", "2026-11-25T00:00:00+00:00", ["2026-11-29T00:00Z", "2026-12-06T00:00Z"]),  # Sundays
        ("@monthly", "UTC", "2026-01-31T00:00:01+00:00", ["2026-02-01T00:00Z", "2026-03-01T00:00Z"]),
        ("@yearly", "UTC", "2026-06-01T00:00:00+00:00", ["2027-01-01T00:00Z", "2028-01-01T00:00Z"]),
        # month ends: the 31st only in months that have one; 29 February only in leap years
        ("0 0 31 * *", "UTC", "2026-01-31T00:00:00+00:00", ["2026-03-31T00:00Z", "2026-05-31T00:00Z"]),
        ("0 0 29 2 *", "UTC", "2026-01-01T00:00:00+00:00", ["2028-02-29T00:00Z", "2032-02-29T00:00Z"]),
        # day-of-month and day-of-week restricted together: either matches (13th, or a Friday)
        ("0 12 13 * fri", "UTC", "2026-11-10T00:00:00+00:00", ["2026-11-13T12:00Z", "2026-11-20T12:00Z"]),
        ("*/20 9-10 * * mon-fri", "UTC", "2026-11-27T10:30:00+00:00", ["2026-11-27T10:40Z", "2026-11-30T09:00Z"]),
        ("0 0 * * 7", "UTC", "2026-11-25T00:00:00+00:00", ["2026-11-29T00:00Z"]),  # 7 is Sunday too
        ("0 0 1 jan,jul *", "UTC", "2026-02-01T00:00:00+00:00", ["2026-07-01T00:00Z", "2027-01-01T00:00Z"]),
        # time zones: 02:00 in New York is 07:00 UTC in winter, 06:00 in summer
        ("0 2 * * *", "America/New_York", "2026-03-07T12:00:00+00:00", ["2026-03-08T07:00Z", "2026-03-09T06:00Z"]),
        # Berlin spring forward (29 March 2026, 02:00 -> 03:00): 02:30 does not exist and runs once, right when
        # the gap ends (03:00 CEST = 01:00Z; Debian cron's rule), the next day at 02:30 CEST again
        ("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00+00:00", ["2026-03-29T01:00Z", "2026-03-30T00:30Z"]),
        # Berlin fall back (25 October 2026, 03:00 -> 02:00): 02:30 happens twice and runs once, the first time
        ("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00+00:00", ["2026-10-25T00:30Z", "2026-10-26T01:30Z"]),
        # hourly across fall back: every real hour runs, the repeated wall hour 02:00 included (CEST, then CET)
        (
            "0 * * * *",
            "Europe/Berlin",
            "2026-10-24T23:30:00+00:00",
            ["2026-10-25T00:00Z", "2026-10-25T01:00Z", "2026-10-25T02:00Z"],
        ),
        # a midnight run in Berlin is the previous UTC day
        ("@daily", "Europe/Berlin", "2026-11-25T12:00:00+00:00", ["2026-11-25T23:00Z", "2026-11-26T23:00Z"]),
    ],
)
def test_next_runs(expression: str, zone: str, after: str, expected: list[str]) -> None:
    assert runs(expression, zone, after, len(expected)) == expected


def test_gap_runs_once_and_never_reorders_runs() -> None:
    # 02:00 and 02:30 fall in the gap: they run once at 03:00 CEST, the same instant as 03:00 itself; 03:30 follows
    assert runs("0,30 2-3 * * *", "Europe/Berlin", "2026-03-28T23:00:00+00:00", 4) == [
        "2026-03-29T01:00Z",
        "2026-03-29T01:30Z",
        "2026-03-30T00:00Z",
        "2026-03-30T00:30Z",
    ]


@pytest.mark.parametrize(
    ("expression", "zone", "moment", "expected"),
    [
        ("@hourly", "UTC", "2026-11-25T10:59:59+00:00", "2026-11-25T10:00:00+00:00"),
        ("@hourly", "UTC", "2026-11-25T11:00:00+00:00", "2026-11-25T11:00:00+00:00"),  # inclusive
        ("@monthly", "UTC", "2026-03-15T00:00:00+00:00", "2026-03-01T00:00:00+00:00"),
        ("0 0 31 * *", "UTC", "2026-03-15T00:00:00+00:00", "2026-01-31T00:00:00+00:00"),
        ("30 2 * * *", "Europe/Berlin", "2026-03-29T02:00:00+00:00", "2026-03-29T01:00:00+00:00"),
    ],
)
def test_latest_at_or_before(expression: str, zone: str, moment: str, expected: str) -> None:
    assert parse(expression, zone).latest_at_or_before(at(moment)) == at(expected)


@pytest.mark.parametrize(
    ("expression", "zone", "message"),
    [
        ("0 0 * * * *", "UTC", "spec.schedule: 6-field cron (with seconds) is not supported"),
        ("0 0 * *", "UTC", "spec.schedule: expected 5 fields"),
        ("60 * * * *", "UTC", "spec.schedule: invalid minute field '60' (allowed: 0-59"),
        ("* 24 * * *", "UTC", "spec.schedule: invalid hour field '24' (allowed: 0-23"),
        ("0 0 0 * *", "UTC", "spec.schedule: invalid day-of-month field '0' (allowed: 1-31"),
        ("0 0 * 13 *", "UTC", "spec.schedule: invalid month field '13' (allowed: 1-12"),
        ("0 0 * * 8", "UTC", "spec.schedule: invalid day-of-week field '8' (allowed: 0-7"),
        ("*/0 * * * *", "UTC", "spec.schedule: invalid minute field '*/0'"),
        ("5-1 * * * *", "UTC", "spec.schedule: invalid minute field '5-1'"),
        ("x * * * *", "UTC", "spec.schedule: invalid minute field 'x'"),
        ("@every 5m", "UTC", "spec.schedule: unknown macro"),
        ("@daily", "Mars/Olympus", "spec.timeZone: unknown IANA time zone 'Mars/Olympus'"),
        ("@daily", "../etc/passwd", "spec.timeZone: unknown IANA time zone"),
        # never runs: refused when parsed, not when first due (it used to crash the schedule's daemon)
        ("0 0 31 2 *", "UTC", "spec.schedule: the expression never matches a date: day-of-month '31' does not occur"),
        ("0 0 30 2 *", "UTC", "spec.schedule: the expression never matches a date: day-of-month '30' does not occur"),
        ("0 0 31 4,6 *", "UTC", "spec.schedule: the expression never matches a date"),
    ],
)
def test_rejected_naming_the_field(expression: str, zone: str, message: str) -> None:
    with pytest.raises(CronError) as caught:
        parse(expression, zone)
    assert str(caught.value).startswith(message)
