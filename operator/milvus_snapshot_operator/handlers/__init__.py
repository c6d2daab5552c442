"""The only package importing kopf: thin handlers that feed the reconcilers and apply their outcomes."""

from . import connection, restore, schedule, snapshot, startup, watches

__all__ = ["connection", "restore", "schedule", "snapshot", "startup", "watches"]
