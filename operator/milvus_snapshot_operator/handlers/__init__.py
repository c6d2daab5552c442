"""The only package importing kopf: thin handlers that feed the reconcilers and apply their outcomes."""

from . import connection, restore, snapshot, startup, watches

__all__ = ["connection", "restore", "snapshot", "startup", "watches"]
