"""The chaos soak, short: about ten snapshot -> restore -> delete lifecycles with a schedule running, while
the operator is SIGKILLed, Milvus restarted and kube-apiserver restarted once; every invariant must hold
(testbed/soak.py; `make soak` runs 100). The seed is printed: a failure can be replayed with it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from testbed import soak
from testbed.cluster import Cluster

pytestmark = pytest.mark.e2e


def test_short_soak_holds_every_invariant(control_plane: Cluster, tmp_path: Path) -> None:
    # `control_plane` only proves the binaries exist (CI fails otherwise); the soak runs its own, because it
    # restarts kube-apiserver.
    seed = int(os.environ["MSO_SOAK_SEED"]) if "MSO_SOAK_SEED" in os.environ else None
    report = soak.run(tmp_path, lifecycles=int(os.environ.get("MSO_SOAK_LIFECYCLES", "10")), seed_value=seed)
    assert report.completed == report.lifecycles, report.lines()
    assert report.operator_kills >= 1 and report.milvus_restarts >= 1 and report.apiserver_restarts == 1, report.lines()
    assert not report.violations, "\n".join(report.lines())
