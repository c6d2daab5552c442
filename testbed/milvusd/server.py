"""Assemble and run milvusd: milvus-lite engine + catalog + snapshot servicer + gate + admin endpoint.

`serve()` is the in-process API (tests may also use it directly); `python -m testbed.milvusd` wraps it.
Binds 127.0.0.1 only.
"""

from __future__ import annotations

import logging
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from milvus_lite.db import MilvusLite
from pymilvus.grpc_gen import milvus_pb2_grpc

from .admin import AdminServer
from .aliases import AliasService
from .auth import Authenticator
from .catalog import Catalog
from .faults import Counters, Faults
from .gate import Gate
from .jobs import RestoreJobs
from .loads import LoadService
from .servicer import MilvusdServicer
from .snapshots import SnapshotService

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
_MAX_MESSAGE_SIZE = 256 * 1024 * 1024


@dataclass
class ServerOptions:
    credentials: list[str] = field(default_factory=list)  # raw tokens: API keys or "user:password"
    admin_port: int | None = None  # None = no admin endpoint, 0 = any free port
    faults: dict[str, Any] = field(default_factory=dict)  # initial Faults.update() values
    max_workers: int = 16
    # PEM files for server-side TLS (Milvus `tls.serverPemPath`/`serverKeyPath`, `tlsMode: 1`); None = plaintext.
    tls_cert: str | None = None
    tls_key: str | None = None


class MilvusdHandle:
    """A running server. `port`/`admin_port` are the bound ports; `faults`/`counters` are live."""

    def __init__(
        self,
        server: grpc.Server,
        port: int,
        db: MilvusLite,
        service: SnapshotService,
        jobs: RestoreJobs,
        faults: Faults,
        counters: Counters,
        admin: AdminServer | None,
    ) -> None:
        self._server = server
        self.port = port
        self._db = db
        self._service = service
        self._jobs = jobs
        self.faults = faults
        self.counters = counters
        self._admin = admin
        self.admin_port = admin.port if admin else None

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def stop(self, grace: float = 2.0) -> None:
        if self._admin is not None:
            self._admin.stop()
        self._server.stop(grace).wait()
        self._jobs.stop_checker()
        self._service.catalog.close()
        self._db.close()


def serve(port: int, data_dir: str, options: ServerOptions | None = None) -> MilvusdHandle:
    """Start serving on 127.0.0.1:`port` (0 = any free port) with data in `data_dir`; returns at once."""
    opts = options or ServerOptions()
    faults, counters = Faults(), Counters()
    faults.update(opts.faults)
    db = MilvusLite(data_dir)
    try:
        service = SnapshotService(db, Catalog(data_dir))
        aliases = AliasService(service)
        jobs = RestoreJobs(service, aliases, faults)
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=opts.max_workers, thread_name_prefix="milvusd-rpc"),
            interceptors=[Gate(faults, counters, Authenticator(opts.credentials))],
            options=[
                ("grpc.max_receive_message_length", _MAX_MESSAGE_SIZE),
                ("grpc.max_send_message_length", _MAX_MESSAGE_SIZE),
                ("grpc.so_reuseport", 0),
                # pymilvus pings every 10 s even when idle; Milvus's server accepts that. gRPC's default
                # policy answers GOAWAY "too_many_pings", which would make idle clients reconnect.
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.min_recv_ping_interval_without_data_ms", 5000),
                ("grpc.http2.max_ping_strikes", 0),
            ],
        )
        milvus_pb2_grpc.add_MilvusServiceServicer_to_server(
            MilvusdServicer(db, service, aliases, LoadService(service, faults), jobs), server
        )
        bound = _bind(server, f"{HOST}:{port}", opts)
        if bound == 0:
            raise OSError(f"cannot bind {HOST}:{port}")
        admin = AdminServer(faults, counters, opts.admin_port) if opts.admin_port is not None else None
    except BaseException:
        db.close()
        raise
    server.start()
    jobs.start_checker()
    if admin is not None:
        admin.start()
    logger.info(
        "milvusd serving on %s:%d (data=%s, auth=%s, tls=%s)",
        HOST,
        bound,
        data_dir,
        bool(opts.credentials),
        opts.tls_cert is not None,
    )
    return MilvusdHandle(server, bound, db, service, jobs, faults, counters, admin)


def _bind(server: grpc.Server, address: str, opts: ServerOptions) -> int:
    """Plaintext, or one-way TLS with the given key pair (no client certificates asked for)."""
    if (opts.tls_cert is None) != (opts.tls_key is None):
        raise ValueError("TLS needs both a certificate and a key")
    if opts.tls_cert is None or opts.tls_key is None:
        return int(server.add_insecure_port(address))
    with open(opts.tls_key, "rb") as key, open(opts.tls_cert, "rb") as cert:
        credentials = grpc.ssl_server_credentials([(key.read(), cert.read())])
    return int(server.add_secure_port(address, credentials))
