"""The README's table of event reasons and the code agree, and every reason in it is emitted by some test."""

from __future__ import annotations

import re
from pathlib import Path

from milvus_snapshot_operator.reconcile import connection, milvus_errors

ROOT = Path(__file__).resolve().parents[2]
CODE = ROOT / "operator" / "milvus_snapshot_operator"


def catalogue() -> set[str]:
    section = (ROOT / "README.md").read_text().split("### Events", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| reason")]
    reasons: set[str] = set()
    for row in rows:
        cell = row.split("|")[1]
        reasons.update(name.strip() for name in cell.split(",") if re.fullmatch(r"\s*[A-Z]\w+\s*", name))
    return reasons


def emitted_in_code() -> set[str]:
    text = "\n".join(path.read_text() for path in CODE.rglob("*.py"))
    literal = set(re.findall(r'Event\("(?:Normal|Warning)", "(\w+)"', text))
    literal |= set(re.findall(r'kopf\.event\([^)]*reason="(\w+)"', text))
    literal |= {f"PreviousCollection{state}" for state in re.findall(r'previous_state = "(\w+)"', text)} - {
        "PreviousCollectionGone",
        "PreviousCollectionKeptAliased",
    }
    # Reasons posted from a variable: a retried Milvus failure, a connection's Ready reason.
    literal |= {reason for reason, _ in [*milvus_errors.RETRIED.values(), milvus_errors.UNCLASSIFIED]}
    return literal | {reason for reason, _ in connection._PROBE_ANSWERS.values()}


def test_every_event_the_code_posts_is_in_the_readme() -> None:
    missing = emitted_in_code() - catalogue()
    assert missing == set(), f"add to README's Events table: {sorted(missing)}"


def test_every_reason_in_the_readme_is_emitted_by_a_test() -> None:
    tests = "\n".join(
        path.read_text() for path in (ROOT / "tests").rglob("*.py") if path.name != "test_events_catalogue.py"
    )
    # As a quoted string (an expected reason), not any word: the class MilvusError must not count for the reason.
    untested = sorted(reason for reason in catalogue() if not re.search(rf"[\"']{reason}[\"']", tests))
    assert untested == [], f"no test emits: {untested}"
