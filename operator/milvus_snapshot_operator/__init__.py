"""Kubernetes operator for declarative Milvus 3.0 collection snapshots and restores."""

__version__ = "0.1.0"
