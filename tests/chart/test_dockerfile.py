"""The Dockerfile, without a Docker engine: parsed for its stages, user and entrypoint; its build context (as
.dockerignore filters it) is built into a wheel to prove the image's install step has what it needs."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from testbed.tools import REPO_ROOT

from .chart import CHART
from .test_templates import operator_cli_accepts

DOCKERFILE = REPO_ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        out.append((keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a continued instruction"
    return out


def stages(text: str) -> list[list[tuple[str, str]]]:
    """Instructions grouped by stage; global ARGs before the first FROM form stage 0."""
    groups: list[list[tuple[str, str]]] = [[]]
    for instruction in instructions(text):
        if instruction[0] == "FROM":
            groups.append([])
        groups[-1].append(instruction)
    return groups


@pytest.fixture(scope="module")
def parsed() -> list[list[tuple[str, str]]]:
    return stages(DOCKERFILE.read_text())


def test_parser_handles_continuations_and_comments() -> None:
    text = "# syntax=docker/dockerfile:1\nARG A=1\nFROM x AS b\nRUN a \\\n  # note\n  && b\nFROM y\nUSER 1:1\n"
    assert stages(text) == [[("ARG", "A=1")], [("FROM", "x AS b"), ("RUN", "a && b")], [("FROM", "y"), ("USER", "1:1")]]


def test_multi_stage_on_slim_python(parsed: list[list[tuple[str, str]]]) -> None:
    global_args = dict(arg.split("=", 1) for kind, arg in parsed[0] if kind == "ARG")
    image = global_args["PYTHON_IMAGE"]
    match = re.fullmatch(r"python:3\.(\d+)-slim(-\w+)?", image)
    assert match, image
    requires = re.search(r'requires-python = ">=3\.(\d+)"', (REPO_ROOT / "pyproject.toml").read_text())
    assert requires and int(match.group(1)) >= int(requires.group(1))
    froms = [stage[0][1] for stage in parsed[1:]]
    assert len(froms) >= 2, "multi-stage: build and runtime"
    assert all(f.split()[0] == "${PYTHON_IMAGE}" for f in froms), froms


def test_final_stage_has_no_build_tools(parsed: list[list[tuple[str, str]]]) -> None:
    build, final = parsed[-2], parsed[-1]
    assert not [args for kind, args in final if kind == "RUN"], "the final stage installs nothing"
    copies = [args for kind, args in final if kind in ("COPY", "ADD")]
    assert copies and all(args.startswith("--from=build ") for args in copies), copies
    everything = " ".join(args for stage in parsed for _, args in stage)
    for tool in ("apt-get", "apk ", "gcc", "build-essential", "g++", "make "):
        assert tool not in everything, f"{tool} in the Dockerfile"
    env = " ".join(args for kind, args in build if kind == "ENV")
    assert "PIP_ONLY_BINARY=:all:" in env, "dependencies must come as wheels (no compiler needed)"


def test_final_stage_runs_as_numeric_non_root(parsed: list[list[tuple[str, str]]]) -> None:
    users = [args for kind, args in parsed[-1] if kind == "USER"]
    assert users, "no USER in the final stage"
    match = re.fullmatch(r"(\d+):(\d+)", users[-1])
    assert match, f"USER must be numeric uid:gid, got {users[-1]}"
    uid, gid = int(match.group(1)), int(match.group(2))
    assert uid != 0 and gid != 0
    security = yaml.safe_load((CHART / "values.yaml").read_text())["podSecurityContext"]
    assert (security["runAsUser"], security["runAsGroup"]) == (uid, gid), "chart and image must agree"


def test_the_numeric_user_has_a_passwd_entry(parsed: list[list[tuple[str, str]]]) -> None:
    uid = next(args for kind, args in parsed[-1] if kind == "USER").split(":")[0]
    runs = " ".join(args for kind, args in parsed[-2] if kind == "RUN")
    assert f"useradd --uid {uid} " in runs and "groupadd --gid" in runs
    assert ("COPY", "--from=build /etc/passwd /etc/group /etc/") in parsed[-1]


def test_kopf_identity_needs_pod_id_or_a_passwd_entry() -> None:
    """Why the image adds a passwd entry and the chart sets POD_ID: Kopf names itself with getpass.getuser(),
    which fails for a uid /etc/passwd does not know (simulated here), unless POD_ID is set."""
    code = (
        "import pwd\n"
        "def unknown(uid): raise KeyError(f'getpwuid(): uid not found: {uid}')\n"
        "pwd.getpwuid = unknown\n"
        "from kopf._core.engines.peering import detect_own_id\n"
        "print(detect_own_id(manual=False))\n"
    )
    env = {"PATH": os.environ["PATH"], "HOME": "/tmp"}  # no USER/LOGNAME, as in a pod

    def run(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-c", code]
        return subprocess.run(argv, env=env | extra, capture_output=True, text=True, timeout=60, check=False)

    failed = run({})
    assert failed.returncode != 0 and "uid not found" in failed.stderr, failed.stderr
    named = run({"POD_ID": "mso-7d9f-x2"})
    assert named.returncode == 0 and named.stdout.strip() == "mso-7d9f-x2", named.stderr


def test_entrypoint_is_the_operator_module(parsed: list[list[tuple[str, str]]]) -> None:
    final = dict(parsed[-1][1:])
    entrypoint = json.loads(final["ENTRYPOINT"])  # exec form: JSON
    assert entrypoint == ["python", "-m", "milvus_snapshot_operator"]
    spec = importlib.util.find_spec("milvus_snapshot_operator.__main__")
    assert spec and spec.origin and Path(spec.origin).is_relative_to(REPO_ROOT / "operator")
    cmd = json.loads(final["CMD"])
    assert operator_cli_accepts(cmd).returncode == 0, cmd
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    port = values["health"]["port"]
    assert f"--liveness=http://0.0.0.0:{port}/healthz" in cmd
    assert final["EXPOSE"].split() == [str(port), str(values["metrics"]["port"])]  # metrics: the operator's default
    assert "/opt/venv/bin" in final["ENV"].split("PATH=", 1)[1].split()[0]


# ---- build context ---------------------------------------------------------------------------------------------


def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regex over slash-separated relative paths."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore() -> list[tuple[bool, re.Pattern[str], str]]:
    rules = []
    for raw in (REPO_ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            negate = line.startswith("!")
            body = os.path.normpath(line.lstrip("!").strip("/"))
            rules.append((negate, _pattern(body), body))
    return rules


def ignored(path: str, rules: list[tuple[bool, re.Pattern[str], str]]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matching a parent directory matches the path."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for negate, regex, _ in rules:
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            result = not negate
    return result


def context_files() -> list[str]:
    rules = dockerignore()
    reincluded = [body for negate, _, body in rules if negate]
    files = []
    for root, dirs, names in os.walk(REPO_ROOT):
        rel_root = Path(root).relative_to(REPO_ROOT).as_posix()
        rel = "" if rel_root == "." else rel_root + "/"
        # Skip walking ignored directories nothing re-includes (.venv, .git: thousands of files).
        dirs[:] = [
            d
            for d in dirs
            if not ignored(rel + d, rules) or any(b == rel + d or b.startswith(rel + d + "/") for b in reincluded)
        ]
        files += [rel + name for name in names if not ignored(rel + name, rules)]
    return sorted(files)


def test_dockerignore_matcher() -> None:
    rules = [(False, _pattern("*"), "*"), (True, _pattern("operator"), "operator"), (False, _pattern("**/x.pyc"), "")]
    assert ignored("README.md", rules) and ignored("tests/a.py", rules)
    assert not ignored("operator/pkg/a.py", rules)
    assert ignored("operator/pkg/x.pyc", rules) and ignored("x.pyc", rules)


def test_build_context_is_minimal() -> None:
    files = context_files()
    assert "pyproject.toml" in files and "operator/milvus_snapshot_operator/__main__.py" in files
    tops = {f.split("/")[0] for f in files}
    assert tops == {"pyproject.toml", "operator"}, tops
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]


def test_build_context_builds_the_operator_package(parsed: list[list[tuple[str, str]]], tmp_path: Path) -> None:
    """What the build stage's `pip install .` gets: COPY sources present in the context and a wheel that has the
    entrypoint module (built offline with the venv's setuptools, as the image would with its own)."""
    context = tmp_path / "context"
    for name in context_files():
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, context / name)
    build = parsed[-2]
    for kind, args in build:
        if kind == "COPY":
            *sources, _dest = args.split()
            for source in sources:
                assert (context / source).exists(), f"COPY {source}: not in the build context"
    wheels = tmp_path / "wheels"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = wheels.glob("milvus_snapshot_operator-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"milvus_snapshot_operator/__main__.py", "milvus_snapshot_operator/handlers/main.py"} <= names
    assert "milvus_snapshot_operator/py.typed" in names
