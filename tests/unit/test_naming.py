"""Default Milvus snapshot names derived from Kubernetes names are deterministic and valid for Milvus."""

from __future__ import annotations

import random
import re
import string

import pytest

from milvus_snapshot_operator.reconcile.naming import snapshot_name_for

VALID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")


@pytest.mark.parametrize(
    ("k8s", "milvus"),
    [
        ("nightly", "nightly"),
        ("books-2026.11.25", "books_2026_11_25"),
        ("1st-backup", "s_1st_backup"),
        ("a.b-c", "a_b_c"),
    ],
)
def test_examples(k8s: str, milvus: str) -> None:
    assert snapshot_name_for(k8s) == milvus


def test_long_names_are_truncated_with_a_hash() -> None:
    long = "a" * 253
    first, second = snapshot_name_for(long), snapshot_name_for("a" * 252 + "b")
    assert VALID.match(first) and len(first) <= 255 and first != second


def test_every_dns_name_maps_to_a_valid_milvus_name() -> None:
    rng = random.Random(7)
    alphabet = string.ascii_lowercase + string.digits + "-."
    for _ in range(2000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 253)))
        derived = snapshot_name_for(name)
        assert VALID.match(derived), name
        assert snapshot_name_for(name) == derived
