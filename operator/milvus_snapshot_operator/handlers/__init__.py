"""The only package importing kopf: thin handlers that feed the reconcilers and apply their outcomes."""

from . import apisession, connection, metrics, restore, schedule, snapshot, startup, watches

__all__ = ["apisession", "connection", "metrics", "restore", "schedule", "snapshot", "startup", "watches"]
