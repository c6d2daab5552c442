"""The Helm chart without a cluster: lint, schema validation of every rendered object, RBAC, Deployment wiring."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from milvus_snapshot_operator import crdgen
from milvus_snapshot_operator.config import OperatorConfig
from testbed.tools import REPO_ROOT

from . import values_table
from .chart import CHART, K8S_VERSION, crd_files, find, helm, one, render, template, validate, values_file

FULLNAME = "mso-milvus-snapshot-operator"  # release "mso"
OUR_KINDS = ("milvusconnections", "milvussnapshots", "milvusrestores", "milvussnapshotschedules")
# Schedules create their runs' snapshots and delete what retention prunes.
SNAPSHOT_WRITES = {"create", "delete"}
EVERYTHING: dict[str, Any] = {
    "image": {"repository": "registry.example.com/mso", "tag": "ignored", "digest": "sha256:" + "a" * 64},
    "imagePullSecrets": [{"name": "regcred"}],
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}
                ]
            }
        }
    },
    "priorityClassName": "system-cluster-critical",
    "podAnnotations": {"example.com/team": "data"},
    "podLabels": {"team": "data"},
    "extraEnv": [
        {"name": "HTTPS_PROXY", "value": "http://proxy:3128"},
        {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "proxy", "key": "url"}}},
    ],
    "operator": {"logLevel": "debug", "logFormat": "json", "restorePollSeconds": 0.5, "driftCheckSeconds": 600},
    "allowedEndpoints": ["*.milvus.svc.cluster.local", "milvus.prod:19530", "10.20.0.0/16"],
    "health": {"port": 9000},
    "serviceAccount": {"annotations": {"iam.example.com/role": "mso"}},
    "metrics": {
        "enabled": True,
        "serviceMonitor": {"enabled": True, "labels": {"release": "prom"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "prom"}, "alertLabels": {"team": "data"}},
        "grafanaDashboard": {"enabled": True},
        "networkPolicy": {"enabled": True},
    },
}
VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "namespaced": {"watchNamespaces": ["team-a", "team-b"]},
    "ha": {"replicaCount": 3},
    "ha-namespaced": {"replicaCount": 2, "watchNamespaces": ["team-a"]},
    "everything": EVERYTHING,
    "podmonitor-no-metrics-service": {"metrics": {"podMonitor": {"enabled": True}}},
    "metrics-off": {"metrics": {"enabled": False}},
}
# The most the issue allows the operator: (apiGroup, resource) -> verbs. The chart grants a subset (checked exactly
# below); this list catches any rule added without a reason.
ALLOWED: dict[tuple[str, str], set[str]] = {
    **{("snapshot.milvus.io", kind): {"list", "watch", "patch"} for kind in OUR_KINDS},
    ("snapshot.milvus.io", "milvussnapshots"): {"list", "watch", "patch"} | SNAPSHOT_WRITES,
    **{("snapshot.milvus.io", f"{kind}/status"): {"patch"} for kind in OUR_KINDS},
    ("", "secrets"): {"get", "list", "watch"},
    ("", "events"): {"create", "patch"},
    ("", "namespaces"): {"get"},  # is a namespace being deleted (a finalizer then releases what it cannot reach)
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"list", "watch"},
    ("milvus.io", "milvuses"): {"get"},
    ("kopf.dev", "clusterkopfpeerings"): {"list", "watch", "patch"},
    ("kopf.dev", "kopfpeerings"): {"list", "watch", "patch"},
}
Grants = dict[tuple[str, str, tuple[str, ...]], set[str]]  # (apiGroup, resource, resourceNames) -> verbs
NAMESPACED_KINDS = {"ServiceAccount", "Deployment", "Role", "RoleBinding", "PodDisruptionBudget", "Service"}
NAMESPACED_KINDS |= {"ServiceMonitor", "PodMonitor", "PrometheusRule", "KopfPeering", "NetworkPolicy", "ConfigMap"}
UNCHECKED = {"everything": ["ServiceMonitor", "PrometheusRule"], "podmonitor-no-metrics-service": ["PodMonitor"]}


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[Any]]:
    return request.param, render(VALUE_SETS[request.param])


def grants(role: dict[str, Any]) -> Grants:
    """(apiGroup, resource, resourceNames) -> verbs of a Role/ClusterRole."""
    out: Grants = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                key = (group, resource, tuple(rule.get("resourceNames", ())))
                out.setdefault(key, set()).update(rule["verbs"])
    return out


def operator_roles(docs: list[Any]) -> list[Any]:
    """The Roles/ClusterRoles bound to the operator's ServiceAccount."""
    bound = {
        (b["roleRef"]["kind"], b["metadata"].get("namespace"), b["roleRef"]["name"])
        for b in docs
        if b["kind"] in ("RoleBinding", "ClusterRoleBinding")
        and any(s["kind"] == "ServiceAccount" and s["name"] == FULLNAME for s in b["subjects"])
    }
    return [r for r in docs if (r["kind"], r["metadata"].get("namespace"), r["metadata"]["name"]) in bound]


def deployment(docs: list[Any]) -> Any:
    return one(docs, "Deployment", FULLNAME)


def container(docs: list[Any]) -> Any:
    (only,) = deployment(docs)["spec"]["template"]["spec"]["containers"]
    return only


# ---- lint and schemas ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_helm_lint_strict(name: str) -> None:
    path = values_file(VALUE_SETS[name])
    try:
        proc = helm("lint", "--strict", str(CHART), "-f", str(path), "--kube-version", K8S_VERSION)
    finally:
        path.unlink()
    assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout


def test_rendered_objects_are_valid_kubernetes(rendered: tuple[str, list[Any]]) -> None:
    name, docs = rendered
    unchecked = []
    for doc in docs:
        if doc["kind"] in NAMESPACED_KINDS:
            assert doc["metadata"].get("namespace"), f"{doc['kind']} without explicit namespace"
        if doc["apiVersion"] == "monitoring.coreos.com/v1":  # prometheus-operator's schema is not shipped here
            unchecked.append(doc["kind"])
            continue
        validate(doc)
    assert sorted(unchecked) == sorted(UNCHECKED.get(name, []))


def test_validation_rejects_bad_objects() -> None:
    """The validators used above do fail: unknown fields, wrong types, CR fields unknown to the CRD."""
    docs = render()
    bad = json.loads(json.dumps(deployment(docs)))
    bad["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(bad)
    peering = one(render({"replicaCount": 2}), "ClusterKopfPeering")
    with pytest.raises(jsonschema.ValidationError):
        validate({**peering, "spec": {"unexpected": True}})


def test_crds_are_the_generated_ones_plus_kopf_peering() -> None:
    generated = crdgen.render()
    files = {path.name: path.read_text() for path in (CHART / "crds").glob("*.yaml")}
    assert set(files) == set(generated) | {"kopf.dev_peerings.yaml"}
    for name, text in generated.items():
        assert files[name] == text == (REPO_ROOT / "crds" / name).read_text()
    for docs in crd_files().values():
        for crd in docs:
            kubernetes_validate.validate(crd, K8S_VERSION, strict=True)
    peerings = {crd["spec"]["names"]["plural"]: crd["spec"]["scope"] for crd in crd_files()["kopf.dev_peerings.yaml"]}
    assert peerings == {"clusterkopfpeerings": "Cluster", "kopfpeerings": "Namespaced"}


def test_values_yaml_is_valid_and_fully_described() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.Draft7Validator(schema).validate(values)

    def walk(node: Any, sub: dict[str, Any], path: str) -> None:
        assert sub.get("description"), f"{path} has no description in values.schema.json"
        if isinstance(node, dict) and sub.get("additionalProperties") is False:
            for key, value in node.items():
                assert key in sub["properties"], f"{path}.{key} is not in values.schema.json"
                if "description" in sub["properties"][key]:
                    walk(value, sub["properties"][key], f"{path}.{key}")

    for key, value in values.items():
        walk(value, schema["properties"][key], key)


def test_values_table_in_chart_readme_is_current() -> None:
    assert values_table.main(["--check"]) == 0


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"replicaCount": 0}, "replicaCount"),
        ({"replicas": 2}, "replicas"),
        ({"watchNamespaces": ["Team_A"]}, "watchNamespaces"),
        ({"watchNamespaces": ["a", "a"]}, "watchNamespaces"),
        ({"operator": {"logLevel": "trace"}}, "logLevel"),
        ({"operator": {"restorePollSeconds": 0}}, "restorePollSeconds"),
        ({"operator": {"pollSeconds": 2}}, "pollSeconds"),
        ({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
        ({"image": {"digest": "latest"}}, "digest"),
        ({"health": {"port": 70000}}, "port"),
        ({"extraEnv": [{"value": "no name"}]}, "name"),
        ({"tolerations": [{"operator": "Maybe"}]}, "operator"),
        ({"metrics": {"serviceMonitor": {"interval": "soon"}}}, "interval"),
        ({"metrics": {"prometheusRule": {"overdueFactor": 1}}}, "overdueFactor"),
        ({"metrics": {"path": "/other"}}, "path"),
    ],
)
def test_schema_rejects_bad_values(values: dict[str, Any], complaint: str) -> None:
    proc = template(values, check=False)
    assert proc.returncode != 0, f"accepted {values}"
    assert "schema" in proc.stderr and complaint in proc.stderr, proc.stderr


@pytest.mark.parametrize("monitor", ["serviceMonitor", "podMonitor"])
def test_monitors_need_metrics(monitor: str) -> None:
    proc = template({"metrics": {"enabled": False, monitor: {"enabled": True}}}, check=False)
    assert proc.returncode != 0 and f"metrics.{monitor}.enabled needs metrics.enabled" in proc.stderr


def test_service_monitor_and_pod_monitor_exclude_each_other() -> None:
    both = {"serviceMonitor": {"enabled": True}, "podMonitor": {"enabled": True}}
    proc = template({"metrics": both}, check=False)
    assert proc.returncode != 0 and "choose one" in proc.stderr


# ---- RBAC ------------------------------------------------------------------------------------------------------


def test_no_wildcards_anywhere(rendered: tuple[str, list[Any]]) -> None:
    _, docs = rendered
    roles = [d for d in docs if d["kind"] in ("Role", "ClusterRole")]
    assert roles
    for role in roles:
        for rule in role["rules"]:
            assert "nonResourceURLs" not in rule
            for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert not any("*" in item for item in rule.get(field, [])), (role["metadata"]["name"], rule)


def test_operator_verbs_stay_within_the_allowed_list(rendered: tuple[str, list[Any]]) -> None:
    _, docs = rendered
    roles = operator_roles(docs)
    assert roles
    for role in roles:
        for (group, resource, _names), verbs in grants(role).items():
            assert (group, resource) in ALLOWED, f"{role['metadata']['name']} grants {group}/{resource}"
            assert verbs <= ALLOWED[group, resource], f"{group}/{resource}: {verbs - ALLOWED[group, resource]}"


def common_grants(peering: str | None) -> Grants:
    out: Grants = {
        **{("snapshot.milvus.io", kind, ()): {"list", "watch", "patch"} for kind in OUR_KINDS},
        ("snapshot.milvus.io", "milvussnapshots", ()): {"list", "watch", "patch"} | SNAPSHOT_WRITES,
        **{("snapshot.milvus.io", f"{kind}/status", ()): {"patch"} for kind in OUR_KINDS},
        ("", "secrets", ()): {"get", "list", "watch"},
        ("", "events", ()): {"create"},
        ("", "namespaces", ()): {"get"},
        ("milvus.io", "milvuses", ()): {"get"},
    }
    if peering:
        out[("kopf.dev", peering, ())] = {"list", "watch"}
        out[("kopf.dev", peering, (FULLNAME,))] = {"patch"}
    return out


def test_cluster_wide_grants_exactly_what_the_operator_uses() -> None:
    (role,) = operator_roles(render())
    assert role["kind"] == "ClusterRole"
    expected = common_grants(None) | {("apiextensions.k8s.io", "customresourcedefinitions", ()): {"list", "watch"}}
    assert grants(role) == expected
    (ha_role,) = operator_roles(render({"replicaCount": 2}))
    assert grants(ha_role) == expected | common_grants("clusterkopfpeerings")
    (no_milvus,) = operator_roles(render({"rbac": {"milvusOperator": False}}))
    assert ("milvus.io", "milvuses", ()) not in grants(no_milvus)


@pytest.mark.parametrize("replicas", [1, 2])
def test_namespaced_grants_nothing_cluster_wide(replicas: int) -> None:
    docs = render({"watchNamespaces": ["team-a", "team-b"], "replicaCount": replicas})
    roles = operator_roles(docs)
    assert sorted((r["kind"], r["metadata"]["namespace"]) for r in roles) == [("Role", "team-a"), ("Role", "team-b")]
    for role in roles:
        assert grants(role) == common_grants("kopfpeerings" if replicas > 1 else None)
    assert not find(docs, "ClusterRoleBinding")
    bindings = find(docs, "RoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    assert all(
        b["subjects"] == [{"kind": "ServiceAccount", "name": FULLNAME, "namespace": "mso-system"}] for b in bindings
    )
    # The only cluster-scoped objects are the unbound ClusterRoles for people (aggregation needs ClusterRoles);
    # switched off, a namespaced install has no cluster-scoped object at all.
    cluster_scoped = {(d["kind"], d["metadata"]["name"]) for d in docs if "namespace" not in d["metadata"]}
    assert cluster_scoped == {("ClusterRole", f"{FULLNAME}-{suffix}") for suffix in ("view", "edit", "restore-creator")}
    bare = render({"watchNamespaces": ["team-a"], "replicaCount": replicas, "rbac": {"userRoles": {"create": False}}})
    assert [d["kind"] for d in bare if "namespace" not in d["metadata"]] == []


def test_rbac_and_service_account_can_be_brought_by_the_user() -> None:
    docs = render({"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "existing"}})
    assert not [d for d in docs if d["kind"] in ("Role", "RoleBinding", "ClusterRoleBinding", "ServiceAccount")]
    assert [d["metadata"]["name"] for d in find(docs, "ClusterRole")] == [
        f"{FULLNAME}-{suffix}" for suffix in ("view", "edit", "restore-creator")
    ]
    assert deployment(docs)["spec"]["template"]["spec"]["serviceAccountName"] == "existing"
    proc = template({"serviceAccount": {"create": False}}, check=False)
    assert proc.returncode != 0 and "serviceAccount.name is required" in proc.stderr


def test_user_roles_aggregate_and_restores_are_granted_apart() -> None:
    docs = render()
    labels = "rbac.authorization.k8s.io/aggregate-to-"
    view, edit, creator = (one(docs, "ClusterRole", f"{FULLNAME}-{s}") for s in ("view", "edit", "restore-creator"))
    assert {k for k, v in view["metadata"]["labels"].items() if k.startswith(labels) and v == "true"} == {
        labels + "view",
        labels + "edit",
        labels + "admin",
    }
    assert {k for k in edit["metadata"]["labels"] if k.startswith(labels)} == {labels + "edit", labels + "admin"}
    assert {k for k in creator["metadata"]["labels"] if k.startswith(labels)} == {labels + "admin"}
    assert all(verbs == {"get", "list", "watch"} for verbs in grants(view).values())
    edit_grants = grants(edit)
    assert "create" in edit_grants["snapshot.milvus.io", "milvussnapshots", ()]
    assert "create" in edit_grants["snapshot.milvus.io", "milvussnapshotschedules", ()]
    assert ("snapshot.milvus.io", "milvussnapshotschedules", ()) in grants(view)
    assert "create" not in edit_grants["snapshot.milvus.io", "milvusrestores", ()]
    assert grants(creator) == {("snapshot.milvus.io", "milvusrestores", ()): {"get", "list", "watch", "create"}}
    apart = render({"rbac": {"userRoles": {"restoreCreatorToAdmin": False}}})
    assert not any(
        k.startswith(labels) for k in one(apart, "ClusterRole", f"{FULLNAME}-restore-creator")["metadata"]["labels"]
    )


# ---- Deployment ------------------------------------------------------------------------------------------------


def test_deployment_is_hardened(rendered: tuple[str, list[Any]]) -> None:
    _, docs = rendered
    pod = deployment(docs)["spec"]["template"]["spec"]
    ctr = container(docs)
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = ctr["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["privileged"] is False
    assert {"name": "tmp", "mountPath": "/tmp"} in ctr["volumeMounts"]  # the only writable path
    assert ctr["resources"]["limits"]["memory"] and ctr["resources"]["requests"]["cpu"]
    assert pod["serviceAccountName"] == FULLNAME


def operator_cli_accepts(args: list[str]) -> subprocess.CompletedProcess[str]:
    """argparse validates each option when it reaches it; a trailing --help then exits 0 without running Kopf."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "operator"), str(REPO_ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "milvus_snapshot_operator", *args, "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_operator_cli_check_detects_bad_arguments() -> None:
    assert operator_cli_accepts(["--log-format=full"]).returncode == 0
    assert operator_cli_accepts(["--log-format=xml"]).returncode != 0
    assert operator_cli_accepts(["--namespace=a", "--all-namespaces"]).returncode != 0


def test_deployment_args_match_scope_and_are_accepted_by_the_operator(rendered: tuple[str, list[Any]]) -> None:
    name, docs = rendered
    values = VALUE_SETS[name]
    args = container(docs)["args"]
    namespaces = values.get("watchNamespaces", [])
    if namespaces:
        assert [a for a in args if a.startswith("--namespace=")] == [f"--namespace={ns}" for ns in namespaces]
        assert "--all-namespaces" not in args
    else:
        assert "--all-namespaces" in args and not any(a.startswith("--namespace") for a in args)
    port = values.get("health", {}).get("port", 8080)
    assert f"--liveness=http://0.0.0.0:{port}/healthz" in args
    assert ("--verbose" in args) == (values.get("operator", {}).get("logLevel") == "debug")
    assert f"--log-format={values.get('operator', {}).get('logFormat', 'full')}" in args
    proc = operator_cli_accepts(args)
    assert proc.returncode == 0, proc.stderr


def test_probes_hit_the_kopf_health_endpoint(rendered: tuple[str, list[Any]]) -> None:
    name, docs = rendered
    ctr = container(docs)
    port = VALUE_SETS[name].get("health", {}).get("port", 8080)
    assert {"name": "health", "containerPort": port, "protocol": "TCP"} in ctr["ports"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert ctr[probe]["httpGet"] == {"path": "/healthz", "port": "health"}


def test_operator_settings_become_the_operators_environment(rendered: tuple[str, list[Any]]) -> None:
    name, docs = rendered
    env = {e["name"]: e for e in container(docs)["env"]}
    for var in ("POD_NAME", "POD_ID"):  # Event reporting instance; Kopf's peering identity
        assert env[var]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    settings = {k: v["value"] for k, v in env.items() if k.startswith("MSO_")}
    # Every setting the operator reads has a chart value, and nothing else is passed.
    assert set(settings) == {f"MSO_{field.upper()}" for field in OperatorConfig.model_fields}
    parsed = OperatorConfig.from_env(settings)
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())["operator"]
    chart_values |= VALUE_SETS[name].get("operator", {})
    allowed = VALUE_SETS[name].get("allowedEndpoints", [])
    assert parsed.allowed_endpoints == ",".join(allowed)
    for field in set(OperatorConfig.model_fields) - {"allowed_endpoints"}:
        camel = field.split("_")[0] + "".join(part.title() for part in field.split("_")[1:])
        assert getattr(parsed, field) == float(chart_values[camel]), field


def test_scheduling_and_pod_metadata_values_reach_the_pod() -> None:
    docs = render(EVERYTHING)
    template_ = deployment(docs)["spec"]["template"]
    pod, ctr = template_["spec"], container(docs)
    assert ctr["image"] == "registry.example.com/mso@sha256:" + "a" * 64
    assert container(render({"image": {"tag": "1.2.3"}}))["image"] == "milvus-snapshot-operator:1.2.3"
    assert container(render())["image"].endswith(":" + yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"])
    for key in ("nodeSelector", "tolerations", "affinity", "priorityClassName", "imagePullSecrets"):
        assert pod[key] == EVERYTHING[key], key
    assert template_["metadata"]["annotations"] == EVERYTHING["podAnnotations"]
    assert template_["metadata"]["labels"]["team"] == "data"
    assert [e for e in ctr["env"] if e["name"] in ("HTTPS_PROXY", "FROM_SECRET")] == EVERYTHING["extraEnv"]
    assert one(docs, "ServiceAccount")["metadata"]["annotations"] == EVERYTHING["serviceAccount"]["annotations"]


def test_metrics_are_served_by_default_and_can_be_switched_off() -> None:
    docs = render()
    assert "--metrics-bind-address=:9090" in container(docs)["args"]
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in container(docs)["ports"]
    assert one(docs, "Service")["spec"]["ports"][0]["port"] == 9090
    assert not find(docs, "ServiceMonitor") and not find(docs, "PrometheusRule") and not find(docs, "NetworkPolicy")
    off = render({"metrics": {"enabled": False}})
    assert "--metrics-bind-address=0" in container(off)["args"] and not find(off, "Service")
    assert [p["name"] for p in container(off)["ports"]] == ["health"]
    assert operator_cli_accepts(container(off)["args"]).returncode == 0


def test_network_policy_limits_metrics_to_the_given_peers_and_keeps_probes_open() -> None:
    docs = render(EVERYTHING)
    policy = one(docs, "NetworkPolicy")
    assert (
        policy["spec"]["podSelector"]["matchLabels"].items()
        <= deployment(docs)["spec"]["selector"]["matchLabels"].items()
    )
    assert policy["spec"]["policyTypes"] == ["Ingress"]  # the operator's egress is untouched
    health, metrics = policy["spec"]["ingress"]
    assert health == {"ports": [{"port": "health", "protocol": "TCP"}]}  # from anywhere: the kubelet probes
    assert metrics["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert metrics["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    assert {p["name"] for p in container(docs)["ports"]} >= {"health", "metrics"}


def test_pod_monitor_sets_the_job_the_alerts_select() -> None:
    docs = render(
        {
            "metrics": {
                "podMonitor": {"enabled": True, "labels": {"release": "prom"}},
                "prometheusRule": {"enabled": True},
            }
        }
    )
    monitor, rule = one(docs, "PodMonitor"), one(docs, "PrometheusRule")
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items()
        <= deployment(docs)["spec"]["template"]["metadata"]["labels"].items()
    )
    assert endpoint["port"] == "metrics" and endpoint["honorLabels"] is True
    assert endpoint["relabelings"] == [{"targetLabel": "job", "replacement": f"{FULLNAME}-metrics"}]
    exprs = [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert all(f'job="{FULLNAME}-metrics"' in expr for expr in exprs)


def test_prometheus_rule_values_reach_the_rules() -> None:
    values = {"overdueFactor": 3, "connectionNotReadySeconds": 600, "targetSelector": 'job="ops", cluster="c1"',
              "alertLabels": {"team": "data"}}  # fmt: skip
    rule = one(render({"metrics": {"prometheusRule": {"enabled": True, **values}}}), "PrometheusRule")
    rules = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert "3 * max by" in rules["MilvusSnapshotScheduleOverdue"]["expr"]
    assert "> 600)" in rules["MilvusConnectionNotReady"]["expr"]
    assert rules["MilvusSnapshotOperatorDown"]["expr"].strip() == 'absent(up{job="ops", cluster="c1"} == 1)'
    assert all(
        r["labels"]["team"] == "data" and r["labels"]["severity"] in ("warning", "critical") for r in rules.values()
    )


def test_metrics_service_and_service_monitor_select_the_operator() -> None:
    docs = render(EVERYTHING)
    service, monitor = one(docs, "Service"), one(docs, "ServiceMonitor")
    pod_labels = deployment(docs)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] in {p["name"] for p in container(docs)["ports"]}
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == port["name"]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True  # our `namespace` label is the resource's
    assert monitor["metadata"]["labels"]["release"] == "prom"


# ---- HA --------------------------------------------------------------------------------------------------------


def test_single_replica_is_standalone() -> None:
    docs = render()
    assert deployment(docs)["spec"]["strategy"] == {"type": "Recreate"}  # never two operators during a rollout
    assert not any(a.startswith("--peering") for a in container(docs)["args"])
    assert not find(docs, "PodDisruptionBudget") and not find(docs, "ClusterKopfPeering")


@pytest.mark.parametrize("namespaces", [[], ["team-a", "team-b"]])
def test_replicas_share_one_peering_object(namespaces: list[str]) -> None:
    docs = render({"replicaCount": 2, "watchNamespaces": namespaces, "peering": {"name": "mso-peers"}})
    assert "--peering=mso-peers" in container(docs)["args"]
    if namespaces:
        peerings = find(docs, "KopfPeering", "mso-peers")
        assert sorted(p["metadata"]["namespace"] for p in peerings) == namespaces
        assert not find(docs, "ClusterKopfPeering")
    else:
        one(docs, "ClusterKopfPeering", "mso-peers")
    for role in operator_roles(docs):
        patch = [names for (group, _, names), verbs in grants(role).items() if group == "kopf.dev" and "patch" in verbs]
        assert patch == [("mso-peers",)]
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"] == deployment(docs)["spec"]["selector"]
    assert deployment(docs)["spec"]["strategy"]["type"] == "RollingUpdate"


def test_notes_describe_scope_and_crd_upgrades() -> None:
    path = values_file({"replicaCount": 2, "watchNamespaces": ["team-a"]})
    try:
        proc = helm("install", "mso", str(CHART), "--dry-run=client", "-n", "mso-system", "-f", str(path))
    finally:
        path.unlink()
    notes = proc.stdout.split("NOTES:", 1)[1]
    assert "the namespaces team-a" in notes and "mso-milvus-snapshot-operator" in notes
    assert "kubectl apply --server-side -f" in notes and "never upgrades" in notes


def test_chart_version_files_agree() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert f'version = "{chart["appVersion"]}"' in pyproject
