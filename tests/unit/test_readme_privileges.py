"""The Milvus role in the README names privileges that exist (pymilvus 3.0.2's ObjectPrivilege)."""

from __future__ import annotations

import re
from pathlib import Path

from pymilvus.grpc_gen import common_pb2

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_privilege_in_the_readme_role_exists() -> None:
    block = README.read_text().split("PRIVILEGES = [", 1)[1].split("]", 1)[0]
    names = re.findall(r'"([A-Za-z]+)"', block)
    assert len(names) >= 15
    known = set(common_pb2.ObjectPrivilege.keys())
    assert [n for n in names if f"Privilege{n}" not in known] == []
