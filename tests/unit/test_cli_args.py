"""The plugin's command line, names, manifests and kubeconfig resolution (no cluster needed)."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import pytest
import yaml

from milvus_snapshot_operator import crdgen
from milvus_snapshot_operator.api.restore import MilvusRestoreSpec
from milvus_snapshot_operator.api.snapshot import MilvusSnapshotSpec
from milvus_snapshot_operator.cli import args, kinds, kubeconfig, manifests
from milvus_snapshot_operator.cli.commands.trigger import trigger_value
from milvus_snapshot_operator.cli.errors import UsageError

NOW = datetime.datetime(2026, 3, 4, 5, 6, 7, tzinfo=datetime.UTC)


# ---- arguments -------------------------------------------------------------------------------------------


def test_cluster_flags_go_before_or_after_the_command() -> None:
    before = args.parse(["--context", "kind", "-n", "a", "status"])
    after = args.parse(["status", "--context", "kind", "-n", "a"])
    assert (before.context, before.namespace) == (after.context, after.namespace) == ("kind", "a")
    assert args.parse(["status", "prod"]).namespace == "prod"
    assert args.parse(["status"]).namespace is None and args.parse(["status", "-A"]).all_namespaces


def test_restore_takes_exactly_one_source(capsys: pytest.CaptureFixture[str]) -> None:
    parsed = args.parse(["restore", "--from-schedule", "nightly", "--to", "books_copy", "--alias", "books"])
    assert (parsed.from_schedule, parsed.from_snapshot, parsed.to, parsed.alias) == (
        "nightly",
        None,
        "books_copy",
        "books",
    )
    assert parsed.wait is True and parsed.timeout == 600
    for argv in (
        ["restore", "--to", "x"],
        ["restore", "--from-schedule", "a", "--from-snapshot", "b", "--to", "x"],
        ["snapshot", "books"],  # --connection is required
        ["explain"],
        ["frobnicate"],
    ):
        with pytest.raises(SystemExit) as exit_:
            args.parse(argv)
        assert exit_.value.code == 2, argv
    assert "not allowed with argument" in capsys.readouterr().err


def test_wait_flags() -> None:
    assert args.parse(["snapshot", "b", "--connection", "c", "--no-wait"]).wait is False
    assert args.parse(["trigger", "s"]).wait is None  # until the run's snapshot exists
    assert args.parse(["trigger", "s", "--wait"]).wait is True
    assert args.parse(["trigger", "s", "--no-wait"]).wait is False


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("10m", 600), ("1h30m", 5400), ("1.5m", 90), ("2h", 7200)]
)
def test_durations_as_kubectl_takes_them(text: str, seconds: float) -> None:
    assert args.duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "ten", "5d", "m", "-3s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        args.duration(text)


# ---- kinds ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kind", "name"),
    [
        (["msnap/x"], kinds.SNAPSHOT, "x"),
        (["milvusrestore/y"], kinds.RESTORE, "y"),
        (["MilvusRestores", "y"], kinds.RESTORE, "y"),
        (["mconn", "milvus"], kinds.CONNECTION, "milvus"),
        (["msched/nightly"], kinds.SCHEDULE, "nightly"),
        (["mscheds/nightly"], kinds.SCHEDULE, "nightly"),
        (["milvussnapshots.snapshot.milvus.io/x"], kinds.SNAPSHOT, "x"),
    ],
)
def test_references_in_kubectl_spellings(given: list[str], kind: kinds.Kind, name: str) -> None:
    assert kinds.parse_ref(*given) == (kind, name)


@pytest.mark.parametrize("given", [["pods/x"], ["msnap"], ["msnap/"], ["/x"], ["msnap/x", "y"]])
def test_bad_references(given: list[str]) -> None:
    with pytest.raises(kinds.UnknownKind):
        kinds.parse_ref(*given)


def test_kinds_agree_with_the_crds() -> None:
    """The plugin's names of the kinds are the CRDs' (the label and annotation keys come from api/)."""
    generated = {k.kind: (k.plural, k.short_names) for k in crdgen.KINDS}
    for kind in kinds.KINDS:
        plural, short_names = generated[kind.kind]
        assert (kind.plural, (kind.short, *kind.aliases)) == (plural, short_names)


# ---- manifests -----------------------------------------------------------------------------------------


def test_snapshot_manifest_is_minimal_and_valid() -> None:
    name = manifests.timestamped_name("books", NOW)
    body = manifests.snapshot_manifest(name, "books", "milvus", db="shop")
    assert body == {
        "apiVersion": "snapshot.milvus.io/v1alpha1",
        "kind": "MilvusSnapshot",
        "metadata": {"name": "books-20260304050607"},
        "spec": {"connectionRef": {"name": "milvus"}, "collectionName": "books", "dbName": "shop"},
    }
    MilvusSnapshotSpec.model_validate(body["spec"])


def test_restore_manifest_with_alias_and_schedule_source() -> None:
    body = manifests.restore_manifest("r", "books_v2", from_schedule="nightly", alias="books", target_db="shop")
    assert body["kind"] == "MilvusRestore" and body["metadata"] == {"name": "r"}
    assert body["spec"] == {
        "source": {"scheduleRef": {"name": "nightly"}},
        "target": {"collectionName": "books_v2", "dbName": "shop"},
        "alias": "books",
    }
    without_alias = {k: v for k, v in body["spec"].items() if k != "alias"}
    MilvusRestoreSpec.model_validate(without_alias)
    plain = manifests.restore_manifest("r", "books_v2", from_snapshot="books-1")
    assert plain["spec"] == {"source": {"snapshotRef": {"name": "books-1"}}, "target": {"collectionName": "books_v2"}}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: manifests.snapshot_manifest("n", "bad-name", "milvus"), "invalid COLLECTION 'bad-name'"),
        (lambda: manifests.snapshot_manifest("n", "books", "Milvus"), "invalid --connection 'Milvus'"),
        (lambda: manifests.snapshot_manifest("n", "books", "milvus", db="9db"), "invalid --db '9db'"),
        (lambda: manifests.restore_manifest("n", "a-b", from_snapshot="s"), "invalid --to 'a-b'"),
        (lambda: manifests.restore_manifest("n", "ok", from_schedule="S_1"), "invalid --from-schedule 'S_1'"),
        (lambda: manifests.restore_manifest("n", "ok", from_snapshot="s", target_db="x y"), "invalid --target-db"),
    ],
)
def test_invalid_input_names_the_flag(build: object, message: str) -> None:
    with pytest.raises(UsageError) as error:
        build()  # type: ignore[operator]
    assert message in error.value.message and error.value.code == 2


@pytest.mark.parametrize(
    ("base", "name"),
    [
        ("books", "books-20260304050607"),
        ("Books_Archive", "books-archive-20260304050607"),
        ("_private", "private-20260304050607"),
        ("_9lives", "m-9lives-20260304050607"),
        ("x" * 80, "x" * 48 + "-20260304050607"),
    ],
)
def test_generated_names_are_valid_for_kubernetes_and_milvus(base: str, name: str) -> None:
    assert manifests.timestamped_name(base, NOW) == name
    MilvusSnapshotSpec.model_validate(
        {"connectionRef": {"name": "c"}, "collectionName": "c", "snapshotName": name.replace("-", "_")}
    )


def test_trigger_values_never_repeat() -> None:
    assert trigger_value(None, 1700000000.7) == "1700000000"
    assert trigger_value("1700000000", 1700000000.2) == "1700000001"  # twice in one second
    assert trigger_value("manual-1", 1700000000.0) == "1700000000"


def test_dry_run_prints_the_manifest_without_a_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    from milvus_snapshot_operator.cli.__main__ import main

    argv = ["--kubeconfig", "/nonexistent", "restore", "--from-snapshot", "s", "--to", "t", "--alias", "a", "--dry-run"]
    assert main(argv) == 0
    body = yaml.safe_load(capsys.readouterr().out)
    assert body["spec"]["alias"] == "a" and body["spec"]["source"] == {"snapshotRef": {"name": "s"}}


# ---- kubeconfig ----------------------------------------------------------------------------------------


def write_config(path: Path, contexts: dict[str, str | None], current: str | None) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [
            {"name": name, "context": {"cluster": "c", "user": "u", **({"namespace": ns} if ns else {})}}
            for name, ns in contexts.items()
        ],
    }
    if current is not None:
        config["current-context"] = current
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_kubeconfig_flag_wins_and_namespace_defaults(tmp_path: Path) -> None:
    flag = write_config(tmp_path / "a", {"one": "team-a", "two": None}, "one")
    env = {"KUBECONFIG": write_config(tmp_path / "b", {"other": None}, "other"), "HOME": str(tmp_path)}
    assert kubeconfig.resolve(flag, None, None, env) == kubeconfig.Target((flag,), "one", "team-a")
    assert kubeconfig.resolve(flag, "two", None, env).namespace == "default"
    assert kubeconfig.resolve(flag, "one", "mine", env).namespace == "mine"


def test_kubeconfig_path_list_merges_first_wins(tmp_path: Path) -> None:
    first = write_config(tmp_path / "first", {"shared": "from-first"}, None)
    second = write_config(tmp_path / "second", {"shared": "from-second", "extra": None}, "shared")
    env = {"KUBECONFIG": f"{tmp_path / 'missing'}:{first}:{second}", "HOME": str(tmp_path)}
    target = kubeconfig.resolve(None, None, None, env)
    assert target == kubeconfig.Target((first, second), "shared", "from-first")
    assert kubeconfig.resolve(None, "extra", None, env).context == "extra"


def test_home_kubeconfig_is_the_default(tmp_path: Path) -> None:
    (tmp_path / ".kube").mkdir()
    path = write_config(tmp_path / ".kube" / "config", {"home": None}, "home")
    assert kubeconfig.resolve(None, None, None, {"HOME": str(tmp_path)}).files == (path,)


def test_configuration_errors_read_like_kubectl(tmp_path: Path) -> None:
    path = write_config(tmp_path / "a", {"one": None}, None)
    cases = [
        ((path, "nope"), "Error in configuration: context was not found for specified context: nope"),
        ((path, None), "no current-context is set"),
        ((str(tmp_path / "gone"), None), f"error: stat {tmp_path / 'gone'}: no such file or directory"),
        ((None, None), "no kubeconfig found"),
    ]
    for (flag, context), message in cases:
        with pytest.raises(UsageError) as error:
            kubeconfig.resolve(flag, context, None, {"HOME": str(tmp_path / "empty")})
        assert message in error.value.message and error.value.code == 2


def test_in_cluster_when_no_kubeconfig(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    target = kubeconfig.resolve(None, None, None, env)
    assert target.files == () and target.context is None and target.namespace  # the pod's namespace or "default"
    assert kubeconfig.resolve(None, None, "ns", env).namespace == "ns"
