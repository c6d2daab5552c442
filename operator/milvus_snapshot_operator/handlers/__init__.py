"""The only package importing kopf: thin handlers that gather facts for the reconcilers and apply their
outcomes."""

from . import apisession, connection, indexes, inventory, metrics, restore, schedule, snapshot, startup, watches

__all__ = [
    "apisession",
    "connection",
    "indexes",
    "inventory",
    "metrics",
    "restore",
    "schedule",
    "snapshot",
    "startup",
    "watches",
]
