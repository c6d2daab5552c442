"""pymilvus reads a CA bundle only from a file path (`server_pem_path`), never from bytes: keep one file per
distinct bundle, written atomically so a concurrent reader never sees half a certificate."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def ca_file(pem: bytes, directory: str | None = None) -> str:
    """The path of a file holding `pem` (named by its digest: a rotated CA gets a new file, hence a new client)."""
    base = Path(directory or tempfile.gettempdir())
    path = base / f"milvus-snapshot-operator-ca-{hashlib.sha256(pem).hexdigest()[:16]}.pem"
    if path.exists() and path.read_bytes() == pem:
        return str(path)
    fd, partial = tempfile.mkstemp(dir=base, prefix=".ca-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        os.replace(partial, path)  # atomic on POSIX: readers see the old file or the whole new one
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return str(path)
