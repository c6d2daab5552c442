"""The only package importing kopf: thin handlers that feed the reconcilers and apply their outcomes."""

from . import apisession, connection, restore, schedule, snapshot, startup, watches

__all__ = ["apisession", "connection", "restore", "schedule", "snapshot", "startup", "watches"]
