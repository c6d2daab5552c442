"""Prometheus metrics (prometheus-client, no kopf): one registry for the process.

State gauges are derived at scrape time from the resources' status (state.py), so they survive restarts and
vanish with their objects; counters and histograms count what this process saw happen (events.py). The
handlers serve REGISTRY on Kopf's event loop (handlers/metrics.py) and feed STATE its source.
"""

from __future__ import annotations

from .events import EventMetrics
from .registry import EVENTS, REGISTRY, STATE, observe_status_change, reconcile_error, rpc

__all__ = ["EVENTS", "REGISTRY", "STATE", "EventMetrics", "observe_status_change", "reconcile_error", "rpc"]
