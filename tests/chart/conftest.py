"""The e2e fixtures of tests/e2e (control plane, namespace, CRDs, Milvus test server), reused by the chart's e2e tests."""

from tests.e2e.conftest import control_plane, namespace  # noqa: F401
from tests.e2e.operator_fixtures import books, crds, milvus  # noqa: F401
