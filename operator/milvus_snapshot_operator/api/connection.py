"""MilvusConnection: where a Milvus server is and how to authenticate to it."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from .common import MILVUS_NAME_MAX, MILVUS_NAME_PATTERN, Condition, LocalObjectReference, Model

KIND = "MilvusConnection"
PLURAL = "milvusconnections"


class MilvusReference(Model):
    """A milvus-operator `Milvus` resource (milvus.io/v1beta1) in the same namespace."""

    name: str = Field(
        min_length=1, max_length=253, description="Name of the Milvus resource; its status.endpoint is used."
    )


class SecretKeyReference(Model):
    """A key of a Secret in the same namespace."""

    name: str = Field(min_length=1, max_length=253, description="Name of the Secret, in the same namespace.")
    key: str = Field(default="ca.crt", min_length=1, description="Key within the Secret holding the PEM data.")


class TLSConfig(Model):
    """One-way TLS towards Milvus (https:// URIs)."""

    ca_secret_ref: SecretKeyReference | None = Field(
        default=None, description="CA bundle (PEM) to verify the server with; system roots when unset."
    )
    server_name: str | None = Field(
        default=None, max_length=253, description="Overrides the TLS server name (SNI and verification)."
    )


class MilvusConnectionSpec(Model):
    model_config = Model.model_config | ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.uri) != has(self.milvusRef)",
                    "message": "exactly one of spec.uri or spec.milvusRef must be set",
                }
            ]
        }
    )

    uri: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^(https?|tcp|grpcs?)://[^\s/@]+(:[0-9]+)?/?$",
        description=(
            "Milvus endpoint such as http://milvus.milvus.svc:19530 or https://host:443. "
            "Credentials never go in the URI: use credentialsSecretRef."
        ),
    )
    milvus_ref: MilvusReference | None = Field(
        default=None, description="Use the endpoint of a milvus-operator Milvus resource instead of uri."
    )
    db_name: str = Field(
        default="default",
        pattern=MILVUS_NAME_PATTERN,
        max_length=MILVUS_NAME_MAX,
        description="Default database for snapshots and restores using this connection.",
    )
    credentials_secret_ref: LocalObjectReference | None = Field(
        default=None,
        description=(
            "Secret in the same namespace with key `token`, or keys `username` and `password`. "
            "Its values never appear in logs, events or status."
        ),
    )
    tls: TLSConfig | None = Field(default=None, description="TLS settings for https:// endpoints.")
    timeout_seconds: int = Field(
        default=30, ge=1, le=600, description="Timeout of each Milvus call made through this connection."
    )


class MilvusConnectionStatus(Model):
    observed_generation: int | None = Field(default=None, description="Last metadata.generation probed.")
    conditions: list[Condition] = Field(default_factory=list, description="Ready (Connected or why not).")
    endpoint: str | None = Field(default=None, description="The resolved endpoint (no credentials).")
    server_version: str | None = Field(default=None, description="Version reported by the Milvus server.")
    last_probe_time: str | None = Field(default=None, description="When the server was last probed.")
