"""Data shapes of the custom resources: pydantic v2 models, no I/O, no kopf, no pymilvus."""

GROUP = "snapshot.milvus.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "milvus-snapshots"
