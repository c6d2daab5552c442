"""The only package importing kopf: thin handlers that gather facts for the reconcilers and apply their
outcomes."""

from . import apisession, connection, drift, indexes, inventory, metrics, restore, schedule, snapshot, startup, watches

__all__ = [
    "apisession",
    "connection",
    "drift",
    "indexes",
    "inventory",
    "metrics",
    "restore",
    "schedule",
    "snapshot",
    "startup",
    "watches",
]
