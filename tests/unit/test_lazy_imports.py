"""The operator process imports pymilvus without pandas and without pyarrow, and pymilvus still works when it
needs pandas (against the pinned pymilvus and pandas).

Runs in a fresh interpreter: the placeholders live in sys.modules, which this test process shares."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

OPERATOR_SRC = Path(__file__).resolve().parents[2] / "operator"

SCRIPT = textwrap.dedent(
    """
    import sys
    from milvus_snapshot_operator.milvus import lazy_imports
    assert lazy_imports.install()
    import pymilvus
    from pymilvus.orm.schema import is_valid_insert_data
    from pymilvus.orm.types import infer_dtype_by_scalar_data
    from pymilvus import DataType
    assert not lazy_imports.loaded(), "importing pymilvus loaded pandas"
    assert is_valid_insert_data([{"id": 1}]) and not is_valid_insert_data(42)
    assert not lazy_imports.loaded(), "an isinstance check against DataFrame loaded pandas"
    assert infer_dtype_by_scalar_data(1.5) == DataType.DOUBLE  # calls pandas.api.types.is_float
    assert lazy_imports.loaded()
    import pandas
    assert is_valid_insert_data(pandas.DataFrame({"id": [1]}))
    assert pandas.api.types.is_scalar(1)
    print("ok")
    """
)


def run_fresh(script: str) -> str:
    """stdout of `script` in a new interpreter that sees only the operator package; fails on an error."""
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": str(OPERATOR_SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip()


def test_pymilvus_imports_without_pandas_and_loads_it_on_first_use() -> None:
    assert run_fresh(SCRIPT) == "ok"


def test_pyarrow_is_kept_out_and_pymilvus_still_works() -> None:
    script = (
        "import sys\n"
        "from milvus_snapshot_operator.milvus import lazy_imports\n"
        "lazy_imports.block_pyarrow()\n"
        "import pandas, pymilvus\n"
        "from pymilvus import MilvusClient, DataType\n"
        "assert sys.modules['pyarrow'] is None\n"
        "assert pandas.DataFrame({'id': [1]}).shape == (1, 1)\n"
        "print('ok')"
    )
    assert run_fresh(script) == "ok"


def test_install_is_a_no_op_when_pandas_is_already_loaded() -> None:
    script = "import pandas\nfrom milvus_snapshot_operator.milvus import lazy_imports\nprint(lazy_imports.install())"
    assert run_fresh(script) == "False"
