"""The `sre-copilot` command line as a user runs it: one-line errors, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "webhooks"


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sre_copilot.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_normalize_prints_signals_as_json() -> None:
    done = _run("normalize", "--source", "pagerduty", str(FIXTURES / "pagerduty_v3_incident.triggered.json"))
    assert done.returncode == 0, done.stderr
    signals = json.loads(done.stdout)["signals"]
    assert len(signals) == 1 and signals[0]["status"] == "firing" and signals[0]["source"] == "pagerduty"


def test_normalize_bad_payload_exits_nonzero_with_one_line_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"alerts": "not a list"')
    done = _run("normalize", "--source", "alertmanager", str(bad))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("sre-copilot: ")


def test_unknown_source_is_a_one_line_error() -> None:
    done = _run("normalize", "--source", "nagios", str(FIXTURES / "opsgenie_webhook_create.json"))
    assert done.returncode != 0 and "Traceback" not in done.stderr and "nagios" in done.stderr


def test_history_of_unknown_incident_says_how_to_get_one(tmp_path: Path) -> None:
    done = _run("--state-dir", str(tmp_path), "history", "inc-nope")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "sre-copilot replay" in done.stderr


def test_eval_on_the_memory_backend_scores_a_scenario_directory(tmp_path: Path) -> None:
    # Given a directory holding one labelled shared scenario
    scenarios = FIXTURES.parents[1] / "scenarios"
    for name in ("sample-1-001.json", "sample-1-001.truth.json"):
        (tmp_path / name).write_text((scenarios / name).read_text())
    # When it is evaluated on the memory backend
    done = subprocess.run([sys.executable, "-m", "sre_copilot.cli.main", "eval", "--backend", "memory", "--json",
                           str(tmp_path)], capture_output=True, text=True, timeout=600)
    # Then the scenario is replayed and scored
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [row["scenario"] for row in report["scenarios"]] == [json.loads(
        (scenarios / "sample-1-001.json").read_text())["name"]]
    assert report["scenarios"][0]["incidents"] >= 1


def test_an_unknown_backend_is_refused_with_the_choices() -> None:
    done = _run("replay", "--backend", "dynamo", "x.json", "--out", "y.json")
    assert done.returncode != 0 and "Traceback" not in done.stderr and "memory" in done.stderr


def test_audit_prints_a_saved_trail_and_explains_a_missing_one(tmp_path: Path) -> None:
    # Given no replay yet: a one-line error that says what to do
    done = _run("--state-dir", str(tmp_path), "audit", "inc-nope")
    assert done.returncode == 2 and "Traceback" not in done.stderr and "sre-copilot replay" in done.stderr
    # Given a trail a replay saved
    (tmp_path / "audit").mkdir()
    (tmp_path / "audit" / "inc-1.json").write_text(json.dumps([
        {"at": "2026-03-04T10:09:10.000Z", "actor": "slack:U0LOCAL", "action": "approval.approved",
         "subject": "inc-1", "details": {"plan": "plan-1"}},
        {"at": "2026-03-04T10:29:10.000Z", "actor": "copilot:workflow", "action": "action.verification_failed",
         "subject": "inc-1", "details": {"why": "not recovered: 1 of 1 alert(s) still firing"}}]))
    # When it is printed
    done = _run("--state-dir", str(tmp_path), "audit", "inc-1")
    # Then each record is one line of at most 100 columns, oldest first, with what happened
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Audit trail of inc-1: 2 record(s)"
    assert "approval.approved" in lines[3] and "not recovered: 1 of 1" in lines[4]
    assert all(len(line) <= 100 for line in lines)
