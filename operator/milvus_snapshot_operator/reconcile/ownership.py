"""Which Milvus snapshots are ours: an ownership marker written by the create call itself.

Milvus snapshot names are unique per collection and nothing else ties a snapshot to whoever made it, so two
MilvusSnapshots resolving to the same name (or a hand-made snapshot that takes the name between our intent
and our create) could each believe the snapshot is theirs, and either's deletion would drop the other's
data. The create call stores the resource's UID in the snapshot's description; ALREADY_EXISTS, a restart
after the intent, and every drop read it back. Adopted snapshots (spec.adopt) are recognised instead by the
creation timestamp recorded when they were adopted, so a same-named snapshot made later is never dropped.
"""

from __future__ import annotations

import re

from ..milvus.gateway import SnapshotInfo

_MARKER = re.compile(r"\[milvus-snapshot-operator uid=([0-9a-fA-F-]+)\]")


def marker(uid: str) -> str:
    return f"[milvus-snapshot-operator uid={uid}]"


def describe_with_marker(description: str, uid: str) -> str:
    """The description stored in Milvus: the user's text, then the marker."""
    return f"{description} {marker(uid)}" if description else marker(uid)


def owner(info: SnapshotInfo) -> str | None:
    """The UID of the MilvusSnapshot that created this snapshot, or None (made by someone else)."""
    found = _MARKER.search(info.description)
    return found.group(1) if found else None


def is_ours(info: SnapshotInfo, uid: str, adopted_create_ts: int | None = None) -> bool:
    """Created by this resource, or the very snapshot it adopted (same creation timestamp)."""
    if owner(info) == uid:
        return True
    return adopted_create_ts is not None and info.create_ts == adopted_create_ts
