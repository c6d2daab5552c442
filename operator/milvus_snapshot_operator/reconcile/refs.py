"""What a reconcile step is given about the objects a resource refers to: usable, or why not.

The handler gathers the facts (indexes, Secrets, the client pool); these types carry the verdict, so a state
machine never receives half-resolved inputs and never persists anything derived from a reference that did
not resolve (a default database, say, before the connection that defines it exists).
"""

from __future__ import annotations

import dataclasses
import enum

from ..milvus.gateway import MilvusGateway


class Missing(enum.StrEnum):
    """Which reference a Blocked resource waits for; decides e.g. a restore's phase."""

    CONNECTION = "Connection"  # the MilvusConnection does not exist, or is not usable (invalid, not allowed)
    SECRET = "Secret"  # its credentials or CA Secret is missing or incomplete
    MILVUS = "Milvus"  # its milvus-operator Milvus resource, or that resource's endpoint
    SNAPSHOT = "Snapshot"  # a restore's source snapshot: absent, not Ready yet, or none Ready in a schedule
    TARGET = "Target"  # another, older MilvusRestore is restoring into the same target collection


@dataclasses.dataclass(frozen=True)
class Blocked:
    """A referenced object is missing or not usable yet: wait for it (GitOps applies in any order)."""

    missing: Missing
    reason: str  # the Ready condition's reason, e.g. ConnectionNotFound
    message: str  # names the object and what is wrong with it
    wake: str  # wake-up key of the object waited for: its change retries at once


@dataclasses.dataclass(frozen=True)
class Invalid:
    """A MilvusConnection's own spec cannot be used (InvalidURI, InvalidTLSConfig, EndpointNotAllowed):
    nothing is tried until the spec (or the operator's allowed endpoints) changes."""

    reason: str
    message: str


@dataclasses.dataclass(frozen=True)
class SourceFailed:
    """A restore's source MilvusSnapshot failed: the restore can never run."""

    message: str


@dataclasses.dataclass(frozen=True)
class Connected:
    """A usable MilvusConnection: a client, the connection's default database, and where it points."""

    gateway: MilvusGateway
    db_name: str
    endpoint: str  # host:port: where snapshots made through it live (a change of scheme does not move them)
    uri: str = ""  # the URI the client uses, without credentials (shown in the connection's status)
