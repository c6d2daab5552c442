"""The plugin's rendering (tree, progress lines, explain, states) on objects recorded from the real testbed."""

from __future__ import annotations

import datetime
import io
import json

from milvus_snapshot_operator.cli import evidence, progress, states, tree
from milvus_snapshot_operator.cli.kinds import CONNECTION, RESTORE, SCHEDULE, SNAPSHOT

from .cli_recorded import RECORDED_AT, events, obj, of_kind, sequence


def forest() -> list[tree.Node]:
    return tree.build(
        of_kind("MilvusConnection"),
        of_kind("MilvusSnapshotSchedule"),
        of_kind("MilvusSnapshot"),
        of_kind("MilvusRestore"),
        RECORDED_AT,
    )


def test_tree_of_the_recorded_namespace() -> None:
    lines = tree.render(forest(), RECORDED_AT)
    names = [line[: lines[0].index("READY")].rstrip() for line in lines]
    assert names == [
        "NAME",
        "mconn/milvus",
        "├─ msched/nightly",
        "│  ├─ mrestore/books-latest-20261129233906",
        "│  └─ mrestore/books-latest2-20261129233925",
        "├─ msched/paused",
        "├─ msnap/books-20261129233824",
        "│  └─ mrestore/books-copy-20261129233829",
        "├─ msnap/nonexistent-20261129233841",
        "└─ msnap/recorded-snap",
        "   ├─ mrestore/recorded-restore",
        "   └─ mrestore/onto-existing",
        "mconn/missing",
        "└─ msnap/waits",
        "msnap/not-yet",
        "└─ mrestore/awaits-snapshot",
    ]
    header = lines[0]
    columns = [header.index(title) for title in ("READY", "STATUS", "AGE", "DETAILS")]
    for line in lines[1:]:  # every row is aligned under the header
        assert [line[c - 3 : c] for c in columns] == ["   "] * 4, line
    by_name = {name.split("/")[-1]: line[columns[0] :] for name, line in zip(names, lines, strict=True)}
    assert by_name["milvus"].split()[:4] == ["True", "Connected", "2m24s", "http://127.0.0.1:36975"]
    assert (
        "next run in 32d, last success 86s ago, 2 snapshots, newest Ready nightly-20261129233858" in by_name["nightly"]
    )
    assert by_name["paused"].split()[:2] == ["True", "Suspended"] and "next run" not in by_name["paused"]
    assert by_name["books-20261129233824"].endswith("books -> books_20261129233824, 300 rows")
    assert "books_recorded_1795995615, RestoreSnapshotCompleted 100%, 300 rows" in by_name["recorded-restore"]
    assert by_name["nonexistent-20261129233841"].split()[:2] == ["False", "Failed"]
    assert "CollectionNotFound: collection not found" in by_name["nonexistent-20261129233841"]
    assert "TargetCollectionExists" in by_name["onto-existing"]
    assert "NotFound" in by_name["missing"] and "referenced by msnap/waits" in by_name["missing"]
    assert "ConnectionNotFound: MilvusConnection 'missing' not found" in by_name["waits"]
    assert by_name["awaits-snapshot"].split()[:2] == ["False", "WaitingForSnapshot"]


def test_tree_falls_back_to_ascii_and_serialises_to_json() -> None:
    ascii_lines = tree.render(forest(), RECORDED_AT, unicode=False)
    assert all(line.isascii() for line in ascii_lines)
    assert ascii_lines[2].startswith("|- msched/nightly") and ascii_lines[3].startswith("|  |- mrestore/")
    data = json.loads(json.dumps([node.to_json(RECORDED_AT) for node in forest()]))
    milvus = data[0]
    assert (milvus["kind"], milvus["name"], milvus["namespace"], milvus["ready"]) == (
        "MilvusConnection",
        "milvus",
        "play",
        "True",
    )
    nightly = milvus["children"][0]
    assert nightly["kind"] == "MilvusSnapshotSchedule" and len(nightly["children"]) == 2
    assert data[1]["status"] == "NotFound" and data[1]["age"] is None


def test_schedule_children_are_summarised_not_listed() -> None:
    nightly = next(node for node in forest()[0].children if node.name == "nightly")
    assert {child.kind for child in nightly.children} == {RESTORE}


def test_progress_lines_of_a_recorded_snapshot_and_restore() -> None:
    snap = [progress.progress_line(SNAPSHOT, o) for o in sequence("MilvusSnapshot")]
    assert snap == [
        "msnap/recorded-snap  -  NotObserved: the operator has not handled this resource yet",
        "msnap/recorded-snap  Creating  Progressing: creating snapshot 'recorded_snap' of 'books'",
        "msnap/recorded-snap  Ready  SnapshotReady: snapshot 'recorded_snap' of 'books' is ready  300 rows",
    ]
    restore = [progress.progress_line(RESTORE, o) for o in sequence("MilvusRestore")]
    job = sequence("MilvusRestore")[-1]["status"]["jobId"]
    assert restore[3] == "mrestore/recorded-restore  Restoring  RestoreSnapshotExecuting  [--------------------]   0%"
    assert restore[2].endswith(
        f"Progressing: restore job {job} started: snapshot 'recorded_snap' -> collection 'books_recorded_1795995615'"
    )
    assert restore[2].startswith(
        "mrestore/recorded-restore  Restoring  RestoreSnapshotPending  [--------------------]   0%"
    )
    assert restore[-1].startswith(
        "mrestore/recorded-restore  Completed  RestoreSnapshotCompleted  [####################] 100%"
    )
    assert restore[-1].endswith("300 rows")
    failed = progress.progress_line(RESTORE, obj("onto-existing"))
    assert failed == (
        "mrestore/onto-existing  Failed  TargetCollectionExists: target collection 'books' already exists in database "
        "'default'; a restore always creates a new collection and never overwrites one"
    )


def test_bar_clamps_and_fills_proportionally() -> None:
    assert progress.bar(0) == "[--------------------]   0%"
    assert progress.bar(35) == "[#######-------------]  35%"
    assert progress.bar(100) == "[####################] 100%"
    assert progress.bar(140) == progress.bar(100) and progress.bar(-5) == progress.bar(0)


def test_display_prints_one_line_per_change_without_a_terminal() -> None:
    out = io.StringIO()
    display = progress.Display(out, tty=False)
    for line in ("a 0%", "a 0%", "a 50%", "b done"):
        display.show(line)
    display.close()
    assert out.getvalue() == "a 0%\na 50%\nb done\n"


def test_display_redraws_within_a_phase_on_a_terminal() -> None:
    out = io.StringIO()
    display = progress.Display(out, tty=True)
    display.show("r Restoring 10%", key=("Restoring",))
    display.show("r Restoring 60%", key=("Restoring",))
    display.show("r Completed 100%", key=("Completed",))
    display.close()
    assert out.getvalue() == (
        "\r\x1b[Kr Restoring 10%\r\x1b[Kr Restoring 60%\n\r\x1b[Kr Completed 100%\r\x1b[Kr Completed 100%\n"
    )


def test_states_of_recorded_objects() -> None:
    assert states.state(obj("recorded-snap")) == states.State(
        True, False, "SnapshotReady", "snapshot 'recorded_snap' of 'books' is ready"
    )
    failed = states.state(obj("nonexistent-20261129233841"))
    assert failed.finished and failed.failed and failed.reason == "CollectionNotFound"
    assert failed.message.endswith("(Milvus code 100)")
    waiting = states.state(obj("waits"))
    assert not waiting.finished and waiting.reason == "ConnectionNotFound"
    assert states.state(obj("recorded-restore")).finished and not states.state(obj("recorded-restore")).failed
    assert not states.state(sequence("MilvusRestore")[0]).finished


def test_later_restore_phases_are_treated_generically() -> None:
    """Phases the plugin does not know (e.g. Loading, CuttingOver) are in progress until Ready or Completed."""
    going = json.loads(json.dumps(obj("recorded-restore")))
    going["status"]["phase"] = "CuttingOver"
    going["status"]["conditions"] = [
        {"type": "Ready", "status": "Unknown", "reason": "Progressing", "message": "switching alias books"}
    ]
    assert states.state(going) == states.State(False, False, "Progressing", "switching alias books")
    assert progress.progress_line(RESTORE, going) == (
        "mrestore/recorded-restore  CuttingOver  RestoreSnapshotCompleted  [####################] 100%  "
        "Progressing: switching alias books"
    )
    going["status"]["conditions"].append({"type": "Stalled", "status": "True", "reason": "AliasFailed", "message": "x"})
    assert states.state(going).failed and states.state(going).reason == "AliasFailed"


def test_explain_a_snapshot_waiting_for_a_missing_connection() -> None:
    facts = evidence.Facts(SNAPSHOT, obj("waits"))
    facts.references = [evidence.Reference(r, k, n, None) for r, k, n in evidence.references_of(SNAPSHOT, obj("waits"))]
    text = "\n".join(evidence.render(facts, RECORDED_AT))
    assert text.splitlines()[:2] == [
        "MilvusSnapshot play/waits",
        "Verdict:      Waiting: ConnectionNotFound: MilvusConnection 'missing' not found in namespace 'play'",
    ]
    assert "  connection: mconn/missing  NotFound: MilvusConnection 'missing' does not exist in this namespace" in text
    assert "  Ready         False    ConnectionNotFound   101s   MilvusConnection 'missing' not found" in text


def test_explain_names_the_connections_own_reason() -> None:
    broken = json.loads(json.dumps(obj("milvus")))
    broken["status"]["conditions"] = [
        {
            "type": "Ready",
            "status": "False",
            "reason": "SecretNotFound",
            "message": "Secret 'milvus-credentials' (credentialsSecretRef) not found in namespace 'play'",
            "lastTransitionTime": "2026-11-29T23:40:00Z",
        }
    ]
    ref = evidence.Reference("connection", CONNECTION, "milvus", broken)
    facts = evidence.Facts(SNAPSHOT, obj("waits"), references=[ref])
    assert (
        "  connection: mconn/milvus  Ready=False SecretNotFound  Secret 'milvus-credentials' (credentialsSecretRef) "
        "not found in namespace 'play'"
    ) in evidence.render(facts, RECORDED_AT)


def test_explain_a_completed_restore_shows_the_job_references_and_events() -> None:
    restore = obj("recorded-restore")
    refs = evidence.references_of(RESTORE, restore)
    assert [(role, kind, name) for role, kind, name in refs] == [
        ("source snapshot", SNAPSHOT, "recorded-snap"),
        ("connection", CONNECTION, "milvus"),
    ]
    facts = evidence.Facts(
        RESTORE,
        restore,
        references=[evidence.Reference(r, k, n, obj(n)) for r, k, n in refs],
        events=events("recorded-restore"),
    )
    lines = evidence.render(facts, RECORDED_AT)
    job = restore["status"]["jobId"]
    assert lines[1].startswith(f"Verdict:      Ready: RestoreCompleted: restore job {job} completed")
    assert f"Milvus job:   {job}  RestoreSnapshotCompleted  [####################] 100%" in lines
    assert any(line.startswith("  started ") and "target has 300 rows" in line for line in lines)
    assert "  source snapshot: msnap/recorded-snap  Ready  Ready=True SnapshotReady" in lines
    assert [line.split()[2] for line in lines[lines.index("Events:") + 2 :]] == ["RestoreStarted", "RestoreCompleted"]


def test_explain_a_schedule_counts_its_runs() -> None:
    nightly = obj("nightly")
    children = [
        o for o in of_kind("MilvusSnapshot") if o["metadata"].get("labels", {}).get("snapshot.milvus.io/schedule")
    ]
    facts = evidence.Facts(SCHEDULE, nightly, children=children, events=events("nightly"))
    text = "\n".join(evidence.render(facts, RECORDED_AT))
    assert 'Schedule:     "0 0 1 1 *" UTC, concurrency Forbid' in text
    assert "Snapshots:    2 (2 Ready)" in text and "Retention:    ran " in text
    assert text.count("RunStarted") == 2
    assert evidence.references_of(SCHEDULE, nightly) == [("connection", CONNECTION, "milvus")]


def test_a_resource_nobody_handled_yet_says_so() -> None:
    fresh = sequence("MilvusSnapshot")[0]
    text = "\n".join(evidence.render(evidence.Facts(SNAPSHOT, fresh), RECORDED_AT + datetime.timedelta(seconds=5)))
    assert "Verdict:      In progress: NotObserved" in text and "is it running?" in text
