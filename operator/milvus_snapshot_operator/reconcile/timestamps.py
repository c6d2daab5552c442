"""Milvus hybrid timestamps: physical milliseconds shifted left by 18 logical bits."""

from __future__ import annotations

import datetime

LOGICAL_BITS = 18


def hybrid_ts_to_datetime(ts: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp((ts >> LOGICAL_BITS) / 1000, tz=datetime.UTC)


def ms_to_datetime(ms: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
