"""The first hour with the CLI: every argument explains itself and its default, sources are
case-insensitive and listed, `history` finds replays from any directory, and predictable failures
are one plain sentence before any long work."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sre_copilot.cli import eval_table
from sre_copilot.cli.main import _parser

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "webhooks"
DEMO = Path(__file__).resolve().parents[2] / "layers" / "common" / "python" / "sre_copilot" / "data" / \
    "demo-checkout-bad-deploy.json"


def _run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sre_copilot.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={**os.environ, **(env or {})})


def _parsers(parser: argparse.ArgumentParser, name: str = "sre-copilot") -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(name, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                found += _parsers(sub, f"{name} {sub_name}")
    return found


def test_every_command_and_argument_has_help_and_shows_its_default() -> None:
    for name, parser in _parsers(_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    assert choice.help, f"{name} {choice.dest}: command without help"
                continue
            assert action.help, f"{name} {action.option_strings or action.dest}: argument without help"
        text = parser.format_help()
        for action in parser._actions:
            if action.default not in (None, False, argparse.SUPPRESS) and not action.required \
                    and not isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
                assert "default" in (parser._get_formatter()._get_help_string(action)), f"{name} {action.dest}"
        assert "usage:" in text


def test_source_is_case_insensitive() -> None:
    done = _run("normalize", "--source", "PagerDuty", str(FIXTURES / "pagerduty_v3_incident.triggered.json"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["signals"][0]["source"] == "pagerduty"


def test_an_unknown_source_lists_the_sources() -> None:
    done = _run("normalize", "--source", "Nagios", str(FIXTURES / "pagerduty_v3_incident.triggered.json"))
    assert done.returncode == 2 and "alertmanager" in done.stderr and "opsgenie" in done.stderr


def test_the_state_dir_defaults_to_the_user_cache_so_history_works_from_anywhere(tmp_path: Path) -> None:
    # Given a history saved under the user cache directory
    cache = tmp_path / "cache"
    executions = cache / "sre-copilot" / "executions"
    executions.mkdir(parents=True)
    (executions / "inc-1.json").write_text(json.dumps({"incident_id": "inc-1", "scenario": "s", "events": [
        {"type": "ExecutionStarted", "timestamp": "2024-05-14T09:00:00+00:00"},
        {"type": "ExecutionSucceeded", "timestamp": "2024-05-14T09:01:00+00:00"}]}))
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    # When history runs from an unrelated directory, then it finds it
    done = _run("history", "inc-1", cwd=elsewhere, env={"XDG_CACHE_HOME": str(cache)})
    assert done.returncode == 0, done.stderr
    assert "inc-1" in done.stdout and "Succeeded" in done.stdout


def test_an_unwritable_out_fails_in_one_sentence_before_the_replay_starts(tmp_path: Path) -> None:
    started = time.monotonic()
    done = _run("replay", str(DEMO), "--out", str(tmp_path / "missing" / "result.json"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"sre-copilot: cannot write --out {tmp_path / 'missing' / 'result.json'}: " \
                                  f"the folder {tmp_path / 'missing'} does not exist"
    assert time.monotonic() - started < 30, "checked before the replay, not after it"
    done = _run("replay", str(DEMO), "--out", str(tmp_path))
    assert done.returncode == 2 and "is a directory" in done.stderr


def test_silence_without_aws_credentials_is_one_plain_sentence(tmp_path: Path) -> None:
    env = {name: "" for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")}
    env |= {"AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONTAINER_CREDENTIALS_FULL_URI": ""}
    clean = {k: v for k, v in {**os.environ, **env}.items() if v != ""}
    done = subprocess.run([sys.executable, "-m", "sre_copilot.cli.main", "silence", "list"], capture_output=True,
                          text=True, timeout=120, env=clean)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sre-copilot: no AWS credentials found")


def test_eval_prints_tables_not_a_dict() -> None:
    report = {
        "scenarios": [{"scenario": "sample-1", "grouping": {"f1": 0.9, "precision": 1.0, "recall": 0.82},
                       "noise_reduction": 0.95, "root_cause": {"top1": 1.0, "top3": 1.0, "change_top1": None},
                       "incidents": 2}],
        "summary": {"f1": 0.9, "top1": 1.0, "scenarios": 1,
                    "micro": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 172, "fp": 0, "fn": 0,
                              "noise_reduction": 0.85, "incidents": 16, "alert_signals": 107, "top1": 1.0,
                              "top3": 1.0, "service_top1": 1.0, "service_top3": 1.0, "change_top1": 1.0}},
        "calibration": {"brier": 0.12, "buckets": [{"range": "0.8-1.0", "accuracy": 0.9, "count": 10},
                                                   {"range": "0.0-0.2", "accuracy": 0.0, "count": 0}]},
    }
    text = eval_table.render(report)
    assert "{" not in text and "summary" in text and "calibration (Brier 0.120)" in text
    assert "time gap 2 min" not in text, "no baselines were scored, so none is shown"
    assert any(line.startswith("grouping F1") and line.rstrip().endswith("0.900") for line in text.splitlines())
    assert "0.0-0.2" not in text, "empty buckets are left out"
    # And the micro figures, one measure per row, still fit 100 columns
    assert any(line.strip().startswith("noise reduction") and line.rstrip().endswith("0.850")
               for line in text.splitlines())
    assert max(len(line) for line in text.splitlines()) <= 100


def test_eval_shows_the_margin_over_both_baselines() -> None:
    # Given a report with the two simple baselines scored beside the product
    micro = {"f1": 0.965, "precision": 0.957, "recall": 0.974, "top1": 0.538, "top3": 0.744,
             "service_top1": 0.564, "service_top3": 0.795}
    report = {"scenarios": [], "summary": {"micro": micro},
              "baselines": {"time_gap": {"micro": {**micro, "f1": 0.988, "top1": None}},
                            "most_alerts": {"micro": {**micro, "top1": 0.397, "service_top1": 0.41}}}}
    # When eval prints it
    lines = eval_table.render(report).splitlines()
    # Then one row each names the product and both baselines with their own figures, within 100 columns
    rows = {line.split("  ")[0]: line for line in lines if line.startswith(("sre-copilot", "time gap", "most alerts"))}
    assert set(rows) == {"sre-copilot", "time gap 2 min", "most alerts|truth"}
    assert "0.988" in rows["time gap 2 min"] and "n/a" in rows["time gap 2 min"]
    assert "0.397" in rows["most alerts|truth"] and "0.538" in rows["sre-copilot"]
    assert max(len(line) for line in lines) <= 100


@pytest.mark.parametrize("path", ["docs/examples/catalog-info.yaml", "docs/examples/runbooks/restart-crashlooping-pods.md"])
def test_the_examples_ship_and_load(path: str, tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    assert (repo / path).exists()
    if path.endswith(".yaml"):
        done = _run("catalog", "import", str(repo / path), "--out", str(tmp_path / "catalog.json"))
        assert done.returncode == 0, done.stderr
        services = json.loads((tmp_path / "catalog.json").read_text())["services"]
        assert "sre-copilot" in {s["name"] for s in services}
    else:
        from sre_copilot.reasoning.recommend import parse_runbook

        runbook = parse_runbook((repo / path).read_text(), path=path)
        assert runbook.id and runbook.fault_classes and runbook.actions
