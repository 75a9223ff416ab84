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
