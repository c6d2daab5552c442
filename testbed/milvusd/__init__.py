"""milvusd: a Milvus 3.0 test server with collection snapshots, built on milvus-lite 3.2.2.

milvus-lite serves the Milvus gRPC protocol but not the snapshot RPCs; milvusd adds them (with the semantics
and error codes of Milvus 3.0's proxy and datacoord snapshot code), plus token auth and fault injection, so the
real pymilvus client can be tested against snapshot/restore over loopback gRPC. See README.md (Testbed choices).
"""

from .server import MilvusdHandle, ServerOptions, serve

__all__ = ["MilvusdHandle", "ServerOptions", "serve"]
