"""`operator/` is a source folder, never a package: a package named `operator` shadows the stdlib."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_operator_folder_has_no_init() -> None:
    assert (ROOT / "operator" / "milvus_snapshot_operator" / "__init__.py").is_file()
    assert not (ROOT / "operator" / "__init__.py").exists()


def test_stdlib_operator_wins_and_package_runs_as_module() -> None:
    code = "import operator, milvus_snapshot_operator; print(operator.__file__); print(operator.itemgetter)"
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", f"import sys; sys.path[:0] = ['{ROOT / 'operator'}', '{ROOT}']; {code}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert "/operator/" not in out.splitlines()[0].replace(str(ROOT), "")  # the stdlib module, not our folder
    help_text = subprocess.run(
        [sys.executable, "-m", "milvus_snapshot_operator", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "operator"), "PATH": ""},
    ).stdout
    assert "--all-namespaces" in help_text and "--peering" in help_text
