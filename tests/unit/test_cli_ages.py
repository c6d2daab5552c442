"""Ages as kubectl prints them: the boundary table of apimachinery's duration_test.go (v0.33.13)."""

from __future__ import annotations

import datetime

import pytest

from milvus_snapshot_operator.cli import ages

S, M, H, D = 1.0, 60.0, 3600.0, 86400.0
MS = 0.001


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (1 * S, "1s"),
        (70 * S, "70s"),
        (190 * S, "3m10s"),
        (70 * M, "70m"),
        (47 * H, "47h"),
        (49 * H, "2d1h"),
        ((8 * 24 + 2) * H, "8d"),
        (367 * D, "367d"),
        (365 * 2 * D + 25 * H, "2y1d"),
        (365 * 8 * D + 2 * H, "8y"),
        (-2 * S, "<invalid>"),
        (-2 * S + MS, "0s"),
        (0, "0s"),
        (S - MS, "0s"),
        (2 * M - MS, "119s"),
        (2 * M, "2m"),
        (2 * M + S, "2m1s"),
        (10 * M - MS, "9m59s"),
        (10 * M, "10m"),
        (10 * M + S, "10m"),
        (3 * H - MS, "179m"),
        (3 * H, "3h"),
        (3 * H + M, "3h1m"),
        (8 * H - MS, "7h59m"),
        (8 * H, "8h"),
        (8 * H + 59 * M, "8h"),
        (2 * D - MS, "47h"),
        (2 * D, "2d"),
        (2 * D + H, "2d1h"),
        (8 * D - MS, "7d23h"),
        (8 * D, "8d"),
        (8 * D + 23 * H, "8d"),
        (2 * 365 * D - MS, "729d"),
        (2 * 365 * D, "2y"),
        (2 * 365 * D + 23 * H + 59 * M, "2y"),
        (2 * 365 * D + D, "2y1d"),
        (7 * 365 * D, "7y"),
        (8 * 365 * D - MS, "7y364d"),
        (8 * 365 * D, "8y"),
        (9 * 365 * D, "9y"),
    ],
)
def test_human_duration_matches_kubectl(seconds: float, expected: str) -> None:
    assert ages.human_duration(seconds) == expected


def test_relative_times_point_both_ways() -> None:
    now = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
    assert ages.relative("2026-01-01T11:55:00Z", now) == "5m ago"
    assert ages.relative("2026-01-02T00:00:00Z", now) == "in 12h"
    assert ages.relative(None, now) == "-"
    assert ages.age("2025-12-29T12:00:00Z", now) == "3d"


def test_event_time_takes_the_most_precise_latest_stamp() -> None:
    event = {
        "lastTimestamp": "2026-11-29T23:38:55Z",
        "eventTime": "2026-11-29T23:38:55.300573Z",
        "metadata": {"creationTimestamp": "2026-11-29T23:38:55Z"},
    }
    assert ages.event_time(event) == datetime.datetime(2026, 11, 29, 23, 38, 55, 300573, tzinfo=datetime.UTC)
    assert ages.event_time({"metadata": {}}) == ages.EPOCH
