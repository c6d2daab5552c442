"""pymilvus's CA-file quirk: one file per distinct bundle, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

from milvus_snapshot_operator.milvus.cafile import ca_file

PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_one_file_per_bundle_and_no_leftovers(tmp_path: Path) -> None:
    first = ca_file(PEM, str(tmp_path))
    assert Path(first).read_bytes() == PEM and ca_file(PEM, str(tmp_path)) == first
    rotated = ca_file(PEM + b"\n", str(tmp_path))
    assert rotated != first  # a rotated CA gets its own file, hence a new client
    assert sorted(os.listdir(tmp_path)) == sorted([Path(first).name, Path(rotated).name])  # no temp files


def test_a_torn_file_is_rewritten(tmp_path: Path) -> None:
    path = Path(ca_file(PEM, str(tmp_path)))
    path.write_bytes(PEM[:10])  # e.g. a crash of an older, non-atomic writer
    assert Path(ca_file(PEM, str(tmp_path))).read_bytes() == PEM
