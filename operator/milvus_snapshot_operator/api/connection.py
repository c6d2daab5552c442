"""MilvusConnection: where a Milvus server is and how to authenticate to it."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from .common import MILVUS_NAME_MAX, ConditionedStatus, LocalObjectReference, MilvusName, Model, ObjectName
from .snapshot import DeletionPolicy

KIND = "MilvusConnection"
PLURAL = "milvusconnections"


class MilvusReference(Model):
    """A milvus-operator `Milvus` resource (milvus.io/v1beta1) in the same namespace."""

    name: ObjectName = Field(description="Name of the Milvus resource; its status.endpoint is used.")


class SecretKeyReference(Model):
    """A key of a Secret in the same namespace."""

    name: ObjectName = Field(description="Name of the Secret, in the same namespace.")
    key: str = Field(
        default="ca.crt",
        min_length=1,
        max_length=253,
        pattern=r"^[-._a-zA-Z0-9]+$",
        description="Key within the Secret holding the PEM data.",
    )


class TLSConfig(Model):
    """One-way TLS towards Milvus. Set (even empty) it means TLS or a named error, never plaintext."""

    ca_secret_ref: SecretKeyReference | None = Field(
        default=None, description="CA bundle (PEM) to verify the server with; system roots when unset."
    )
    server_name: str | None = Field(
        default=None, max_length=253, description="Overrides the TLS server name (SNI and verification)."
    )


# What pymilvus 3.0.2 accepts (ConnectionConfig: http, https or tcp; a port urllib can parse), so that the API
# server refuses at apply time what the client would refuse later. The operator checks again (InvalidURI).
URI_PATTERN = r"^(https?|tcp)://([A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?/?$"
_PORT = "int(self.substring(self.lastIndexOf(':') + 1).replace('/', ''))"
PORT_IN_RANGE = f"!self.matches(':[0-9]+/?$') || ({_PORT} >= 1 && {_PORT} <= 65535)"
TLS_NEEDS_SECURE_URI = "!has(self.tls) || !has(self.uri) || !self.uri.startsWith('http://')"


ALL_COLLECTIONS = "*"
COLLECTION_OR_ALL = r"^(\*|[A-Za-z_][A-Za-z0-9_]*)$"
MAX_INVENTORY_COLLECTIONS = 256  # entries in spec.inventory.collections and in status.inventory.collections


class InventoryImport(Model):
    """Represent each snapshot no resource represents as a MilvusSnapshot that adopts it."""

    enabled: bool = Field(
        description=(
            "Create the MilvusSnapshots. Required, so that `import: {}` is never mistaken for on or off; "
            "false keeps the settings and only counts."
        )
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.RETAIN,
        description=(
            "deletionPolicy of the MilvusSnapshots created. Retain (default): deleting them, or a schedule's "
            "retention pruning them, never drops the snapshot in Milvus. Delete: it does (a snapshot joining a "
            "schedule gets Delete only when the schedule's template says Delete too)."
        ),
    )
    max_per_pass: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="At most this many MilvusSnapshots created per pass; the rest follow in the next passes.",
    )


class Inventory(Model):
    """Which snapshots Milvus holds in this connection's database, and which no resource represents."""

    collections: list[str] = Field(
        default=[ALL_COLLECTIONS],
        min_length=1,
        max_length=MAX_INVENTORY_COLLECTIONS,
        description=(
            'Collections to inventory; "*" (the default, alone) is every collection of the database, '
            "listed again at each pass."
        ),
        json_schema_extra={
            "items": {"type": "string", "pattern": COLLECTION_OR_ALL, "maxLength": MILVUS_NAME_MAX},
            "x-kubernetes-validations": [
                {
                    "rule": "!self.exists(c, c == '*') || self.size() == 1",
                    "message": 'spec.inventory.collections: "*" already means every collection: list it alone',
                }
            ],
        },
    )
    interval_seconds: int = Field(
        default=3600,
        ge=5,
        le=604800,
        description="Time between passes (a spec change starts one at once; an import cut short resumes sooner).",
    )
    import_: InventoryImport | None = Field(
        default=None,
        alias="import",
        description="Opt-in: represent each unrepresented snapshot as a MilvusSnapshot labelled as imported.",
    )


class MilvusConnectionSpec(Model):
    model_config = Model.model_config | ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.uri) != has(self.milvusRef)",
                    "message": "exactly one of spec.uri or spec.milvusRef must be set",
                },
                {
                    "rule": TLS_NEEDS_SECURE_URI,
                    "message": (
                        "spec.tls is set but spec.uri is http:// (plaintext): use https:// (or tcp://) so that "
                        "TLS is really used"
                    ),
                    "fieldPath": ".uri",
                },
            ]
        }
    )

    uri: str | None = Field(
        default=None,
        max_length=2048,
        pattern=URI_PATTERN,
        description=(
            "Milvus endpoint: http://host:19530 (plaintext), https://host[:443] (TLS), or tcp://host:port "
            "(TLS when spec.tls is set). Credentials never go in the URI: use credentialsSecretRef."
        ),
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": PORT_IN_RANGE,
                    "message": "spec.uri: the port must be between 1 and 65535",
                }
            ]
        },
    )
    milvus_ref: MilvusReference | None = Field(
        default=None, description="Use the endpoint of a milvus-operator Milvus resource instead of uri."
    )
    db_name: MilvusName = Field(
        default="default", description="Default database for snapshots and restores using this connection."
    )
    credentials_secret_ref: LocalObjectReference | None = Field(
        default=None,
        description=(
            "Secret in the same namespace with key `token`, or keys `username` and `password`. "
            "Its values never appear in logs, events or status."
        ),
    )
    tls: TLSConfig | None = Field(
        default=None,
        description=(
            "TLS towards Milvus. When set (even as `tls: {}`), the connection uses TLS whatever the URI's "
            "scheme (milvusRef endpoints included) and fails with a named reason rather than fall back to "
            "plaintext."
        ),
    )
    timeout_seconds: int = Field(
        default=30, ge=1, le=600, description="Timeout of each Milvus call made through this connection."
    )
    inventory: Inventory | None = Field(
        default=None,
        description=(
            "List what Milvus holds in dbName: snapshots per collection and how many no MilvusSnapshot "
            "represents (status.inventory); optionally import them."
        ),
    )


class CollectionInventory(Model):
    name: str = Field(description="The collection.")
    snapshots: int = Field(description="Snapshots Milvus holds on it.")
    represented: int = Field(description="Of those, snapshots some MilvusSnapshot represents.")
    unrepresented: int = Field(description="Snapshots no MilvusSnapshot represents.")
    outside_retention: int | None = Field(
        default=None,
        description=(
            "Unrepresented snapshots of a schedule that its retention would prune at once and that would be "
            "retained in Milvus: never imported (they would be pruned and imported again, pass after pass)."
        ),
    )
    error: str | None = Field(default=None, description="Why this collection could not be listed.")


class InventoryStatus(Model):
    last_pass_time: str | None = Field(default=None, description="When the last pass ended (RFC 3339).")
    observed_generation: int | None = Field(default=None, description="metadata.generation of the last pass.")
    collections_listed: int = Field(default=0, description="Collections the last pass listed.")
    snapshots: int = Field(default=0, description="Snapshots Milvus holds on them.")
    represented: int = Field(default=0, description="Snapshots some MilvusSnapshot represents.")
    unrepresented: int = Field(default=0, description="Snapshots no MilvusSnapshot represents.")
    imported: int = Field(default=0, description="MilvusSnapshots the last pass created.")
    pending: int = Field(default=0, description="Snapshots import will still create (the next passes).")
    collections: list[CollectionInventory] = Field(
        default_factory=list,
        description=(
            f"Per collection, those with the most unrepresented snapshots first (at most "
            f"{MAX_INVENTORY_COLLECTIONS}; the totals count all)."
        ),
    )
    errors: list[str] = Field(default_factory=list, description="What the last pass could not do.")


class MilvusConnectionStatus(ConditionedStatus):
    endpoint: str | None = Field(default=None, description="The resolved endpoint (no credentials).")
    server_version: str | None = Field(default=None, description="Version reported by the Milvus server.")
    last_probe_time: str | None = Field(default=None, description="When the server was last probed.")
    inventory: InventoryStatus | None = Field(default=None, description="The last inventory pass (spec.inventory).")
