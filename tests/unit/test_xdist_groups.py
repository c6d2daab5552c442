"""`make test` runs the tests in pytest-xdist workers with --dist loadgroup; the node tier's tests must share
one worker (one node per machine: a second worker's node would wait for the first one's lock). pytest 9.2
silently broke that grouping (pytest-dev/pytest-xdist#1386): this runs a tiny suite to prove it holds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GROUPED = """
import os
import pytest

pytestmark = [pytest.mark.xdist_group("node")]


@pytest.mark.parametrize("i", range(3))
def test_worker(i):
    print("WORKER", os.environ["PYTEST_XDIST_WORKER"])
"""


def test_a_group_runs_on_one_worker(tmp_path: Path) -> None:
    for name in ("test_a.py", "test_b.py"):
        (tmp_path / name).write_text(GROUPED)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not the project's options
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "3", "--dist", "loadgroup", "-p", "no:cacheprovider", "-rA"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    workers = {line.split()[1] for line in proc.stdout.splitlines() if line.startswith("WORKER ")}
    assert "6 passed" in proc.stdout
    assert len(workers) == 1, f"the group ran on {sorted(workers)}: --dist loadgroup no longer groups"
