"""The testbed is a real control plane: the behaviours the operator's e2e tests rely on actually happen.

Each test names the component it proves: kube-apiserver (version, RBAC, CRD schemas, status subresource)
or kube-controller-manager (namespace deletion, garbage collection, default ServiceAccount).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from testbed.cluster import Cluster, wait_until
from testbed.tools import K8S_VERSION

from .conftest import await_deleted_namespaces, delete_namespace

pytestmark = pytest.mark.e2e

CONTROLLER_TIMEOUT = 60.0  # generous: 2 cores, and the GC resyncs its informers at start-up


def _manifest(obj: Mapping[str, object]) -> str:
    return json.dumps(obj)


def _configmap(name: str, **metadata: object) -> str:
    return _manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **metadata}})


def _gone(cluster: Cluster, *args: str, namespace: str | None = None) -> bool:
    proc = cluster.kubectl("get", *args, namespace=namespace, check=False)
    return proc.returncode != 0 and "NotFound" in proc.stderr


# -- kube-apiserver ------------------------------------------------------------------------------------


def test_version_is_the_pinned_build(control_plane: Cluster) -> None:
    if os.environ.get("MSO_E2E_USE_EXISTING") == "1":
        pytest.skip("an existing cluster runs its own version")
    version = json.loads(control_plane.kubectl("get", "--raw", "/version").stdout)
    assert version["gitVersion"] == K8S_VERSION
    assert (version["major"], version["minor"]) == ("1", K8S_VERSION.split(".")[1])


def test_rbac_denies_a_serviceaccount_until_bound(control_plane: Cluster, namespace: str, tmp_path: Path) -> None:
    control_plane.kubectl("create", "serviceaccount", "reader", namespace=namespace)
    token = control_plane.kubectl("create", "token", "reader", "--duration=10m", namespace=namespace).stdout.strip()
    reader = control_plane.as_token(token, tmp_path / "reader.kubeconfig")
    user = f"system:serviceaccount:{namespace}:reader"
    assert reader.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").stdout == user

    denied = reader.kubectl("get", "secrets", namespace=namespace, check=False)
    assert denied.returncode != 0
    assert "Forbidden" in denied.stderr, denied.stderr

    control_plane.kubectl(
        "create", "role", "secret-reader", "--verb=get,list", "--resource=secrets", namespace=namespace
    )
    control_plane.kubectl(
        "create", "rolebinding", "reader", "--role=secret-reader", f"--serviceaccount={namespace}:reader",
        namespace=namespace,
    )  # fmt: skip
    wait_until(
        lambda: reader.kubectl("get", "secrets", namespace=namespace, check=False).returncode == 0,
        10,
        "the RoleBinding to take effect",
    )
    # Still only what the Role grants: other namespaces and other verbs stay forbidden.
    assert "Forbidden" in reader.kubectl("get", "secrets", "-n", "default", check=False).stderr
    assert "Forbidden" in reader.kubectl("delete", "secret", "x", namespace=namespace, check=False).stderr


GROUP = "e2e.testbed.example.com"


@pytest.fixture(scope="module")
def widget_crd(control_plane: Cluster) -> Iterator[str]:
    """A namespaced CRD with a structural schema, an enum and a status subresource; yields its plural.

    The plural is random because CRDs are cluster-scoped and the session cluster may be an existing one.
    """
    plural = f"widgets{secrets.token_hex(3)}"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "plural": plural,
                "singular": plural[:-1],
                "kind": f"W{plural[1:-1]}",
                "listKind": f"W{plural[1:-1]}List",
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "size": {"type": "string", "enum": ["small", "large"]},
                                        "replicas": {"type": "integer", "minimum": 0},
                                    },
                                },
                                "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                            },
                        }
                    },
                }
            ],
        },
    }
    control_plane.kubectl("apply", "-f", "-", input=_manifest(crd))
    control_plane.kubectl("wait", "--for=condition=Established", f"crd/{plural}.{GROUP}", "--timeout=30s")
    yield plural
    control_plane.kubectl("delete", "crd", f"{plural}.{GROUP}", "--wait=false")


def _widget(plural: str, name: str, spec: dict[str, object], **extra: object) -> str:
    kind = f"W{plural[1:-1]}"
    return _manifest({"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": {"name": name}, "spec": spec, **extra})


def test_crd_schema_prunes_unknown_fields_and_rejects_bad_enum(
    control_plane: Cluster, namespace: str, widget_crd: str
) -> None:
    sloppy = _widget(widget_crd, "w1", {"size": "small", "colour": "red"}, extraTopLevel=1)
    # kubectl's default (server-side strict field validation) rejects unknown fields outright...
    strict = control_plane.kubectl("create", "-f", "-", input=sloppy, namespace=namespace, check=False)
    assert strict.returncode != 0
    assert "unknown field" in strict.stderr, strict.stderr
    # ...and without validation the apiserver silently prunes them, as it does for the operator's clients.
    control_plane.kubectl("create", "--validate=false", "-f", "-", input=sloppy, namespace=namespace)
    stored = control_plane.get_json(f"{widget_crd}/w1", namespace=namespace)
    assert stored["spec"] == {"size": "small"}
    assert "extraTopLevel" not in stored

    bad = control_plane.kubectl(
        "create", "-f", "-", input=_widget(widget_crd, "w2", {"size": "huge"}), namespace=namespace, check=False
    )
    assert bad.returncode != 0
    assert 'Unsupported value: "huge"' in bad.stderr, bad.stderr
    assert _gone(control_plane, f"{widget_crd}/w2", namespace=namespace)


def test_status_subresource_separates_spec_and_status(control_plane: Cluster, namespace: str, widget_crd: str) -> None:
    res = f"{widget_crd}/w"
    manifest = _widget(widget_crd, "w", {"replicas": 1}, status={"phase": "Forged"})
    control_plane.kubectl("create", "-f", "-", input=manifest, namespace=namespace)
    created = control_plane.get_json(res, namespace=namespace)
    assert "status" not in created  # status is ignored on create
    generation = created["metadata"]["generation"]

    def patch(body: dict[str, object], *flags: str) -> None:
        control_plane.kubectl("patch", res, "--type=merge", "-p", json.dumps(body), *flags, namespace=namespace)

    patch({"status": {"phase": "Ready"}, "spec": {"replicas": 9}}, "--subresource=status")
    after_status = control_plane.get_json(res, namespace=namespace)
    assert after_status["status"] == {"phase": "Ready"}
    assert after_status["spec"] == {"replicas": 1}  # spec changes through /status are ignored
    assert after_status["metadata"]["generation"] == generation  # status writes do not bump generation

    patch({"status": {"phase": "Hacked"}, "spec": {"replicas": 2}})
    after_spec = control_plane.get_json(res, namespace=namespace)
    assert after_spec["spec"] == {"replicas": 2}
    assert after_spec["status"] == {"phase": "Ready"}  # status changes through the main resource are ignored
    assert after_spec["metadata"]["generation"] == generation + 1


# -- kube-controller-manager ---------------------------------------------------------------------------


def _require_controller_manager(cluster: Cluster) -> None:
    """Fail (never skip) at once on a degraded testbed: these behaviours need kube-controller-manager."""
    if cluster.degraded:
        pytest.fail("degraded testbed: kube-controller-manager is not running (build it: testbed/build-k8s.sh)")


def test_namespace_deletion_completes(control_plane: Cluster) -> None:
    _require_controller_manager(control_plane)
    name = f"t-nsdel-{secrets.token_hex(3)}"
    control_plane.kubectl("create", "namespace", name)
    control_plane.kubectl("create", "-f", "-", input=_configmap("content"), namespace=name)
    control_plane.kubectl("delete", "namespace", name, "--wait=false")
    # Without the namespace controller it would stay Terminating forever (envtest's known limitation).
    wait_until(lambda: _gone(control_plane, "namespace", name), CONTROLLER_TIMEOUT, f"namespace {name} to go")


def test_a_namespace_held_by_a_finalizer_fails_the_teardown_check_naming_it(control_plane: Cluster) -> None:
    """The check every e2e test's namespace goes through at the end of the session can fail."""
    _require_controller_manager(control_plane)
    name = f"t-held-{secrets.token_hex(3)}"
    control_plane.kubectl("create", "namespace", name)
    control_plane.kubectl(
        "create", "-f", "-", input=_configmap("held", finalizers=["example.com/held"]), namespace=name
    )
    delete_namespace(control_plane, name)
    with pytest.raises(
        pytest.fail.Exception, match=rf"{name}: objects with finalizers: \[.ConfigMap/held \['example.com/held'\]"
    ):
        await_deleted_namespaces(control_plane, 3, names=[name])
    # This test's own fixture object, not an operator bug: release it and see the namespace go.
    patch = '{"metadata": {"finalizers": null}}'
    control_plane.kubectl("patch", "configmap", "held", "--type=merge", "-p", patch, namespace=name)
    await_deleted_namespaces(control_plane, CONTROLLER_TIMEOUT, names=[name])


@pytest.mark.parametrize("cascade", ["background", "foreground"])
def test_garbage_collector_deletes_dependents(control_plane: Cluster, namespace: str, cascade: str) -> None:
    _require_controller_manager(control_plane)
    control_plane.kubectl("create", "-f", "-", input=_configmap("owner"), namespace=namespace)
    uid = control_plane.get_json("configmap/owner", namespace=namespace)["metadata"]["uid"]
    owner_ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid, "blockOwnerDeletion": True}
    control_plane.kubectl(
        "create", "-f", "-", input=_configmap("dependent", ownerReferences=[owner_ref]), namespace=namespace
    )

    control_plane.kubectl("delete", "configmap", "owner", f"--cascade={cascade}", "--wait=false", namespace=namespace)
    # Foreground: the owner waits (finalizer foregroundDeletion) until the GC has deleted the dependent.
    wait_until(
        lambda: _gone(control_plane, "configmap", "dependent", namespace=namespace),
        CONTROLLER_TIMEOUT,
        "the garbage collector to delete the dependent",
    )
    wait_until(lambda: _gone(control_plane, "configmap", "owner", namespace=namespace), CONTROLLER_TIMEOUT, "owner")


def test_new_namespace_gets_default_serviceaccount(control_plane: Cluster, namespace: str) -> None:
    _require_controller_manager(control_plane)
    wait_until(
        lambda: (
            control_plane.kubectl("get", "serviceaccount", "default", namespace=namespace, check=False).returncode == 0
        ),
        CONTROLLER_TIMEOUT,
        "the default ServiceAccount",
    )
    # With it, the ServiceAccount admission plugin (kept on) admits Pods and mounts the token volume.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "example.invalid/never-pulled"}]},
    }
    control_plane.kubectl("create", "-f", "-", input=_manifest(pod), namespace=namespace)
    stored = control_plane.get_json("pod/p", namespace=namespace)
    assert stored["spec"]["serviceAccountName"] == "default"
    assert any(v["name"].startswith("kube-api-access-") for v in stored["spec"]["volumes"])
