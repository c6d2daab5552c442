"""MilvusConnection: where a Milvus server is and how to authenticate to it."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from .common import ConditionedStatus, LocalObjectReference, MilvusName, Model, ObjectName

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

    @property
    def wants_tls(self) -> bool:
        """TLS was asked for: an https:// URI or a tls block."""
        return self.tls is not None or (self.uri or "").startswith("https://")


class MilvusConnectionStatus(ConditionedStatus):
    endpoint: str | None = Field(default=None, description="The resolved endpoint (no credentials).")
    server_version: str | None = Field(default=None, description="Version reported by the Milvus server.")
    last_probe_time: str | None = Field(default=None, description="When the server was last probed.")
