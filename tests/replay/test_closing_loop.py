"""Closing the loop end to end: resolution, postmortems and learning on scenarios whose alerts clear."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from sre_copilot.cli.postmortem_files import read_postmortem, write_postmortem_files
from sre_copilot.domain.types import parse_time
from sre_copilot.local.replay import Scenario, replay

pytestmark = pytest.mark.slow

SECTIONS = ("## Summary", "## Impact", "## Detection and response", "## Timeline", "## Root cause",
            "## What was done", "## What went well", "## What went badly", "## Follow-ups")


@pytest.fixture(scope="session")
def resolved_dir(shared_dir: Path) -> Path:
    return shared_dir / "scenarios-resolved"


def test_every_incident_ends_closed_with_a_postmortem_file(replayed: Any, resolved_dir: Path,
                                                           tmp_path: Path) -> None:
    # Given a scenario whose first incident's workflow dies at Act and is then resolved in PagerDuty,
    # and whose second incident's alerts clear with no one resolving it
    run = replayed(resolved_dir / "resolved-1-000.json", "all")
    # When the replay result is written with its postmortems
    out = tmp_path / "r.json"
    write_postmortem_files(run, out, tmp_path / "state")
    # Then every incident is RESOLVED or LEARNED with a postmortem file beside the result
    assert run.result["incidents"]
    for incident in run.result["incidents"]:
        assert incident["state"] in ("RESOLVED", "LEARNED"), incident["timeline"]
        path = Path(incident["postmortem"])
        assert path.parent == tmp_path / "r.postmortems" and path.is_file()
        assert read_postmortem(tmp_path / "state", incident["id"]) == path.read_text()
    # And the resolution of the one nobody resolved came from its alerts staying clear for 5 minutes
    by_signals = [i for i in run.result["incidents"]
                  if any(t["actor"] == "copilot:resolution" for t in i["timeline"])]
    assert by_signals
    for incident in by_signals:
        resolved = parse_time(next(t for t in incident["timeline"] if t["state"] == "RESOLVED")["at"])
        cleared = max(at for at, text in _timeline(run.postmortems[incident["id"]])
                      if text.startswith("signal:") and text.endswith(" resolved"))
        assert (resolved - cleared).total_seconds() >= 300


def test_deploy_caused_postmortem_names_change_hypothesis_evidence_timeline_and_actions(
        replayed: Any, resolved_dir: Path) -> None:
    # Given a bad deploy whose rollback is approved and whose alerts then clear
    run = replayed(resolved_dir / "resolved-2-003.json", "all")
    (incident,) = run.result["incidents"]
    text = run.postmortems[incident["id"]]
    top = incident["hypotheses"][0]
    # Then the postmortem has every section, in order
    positions = [text.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    root = text[text.index("## Root cause"):text.index("## What was done")]
    # And it names the change, the top hypothesis and its evidence
    assert top["change_id"] == "deploy-5389" and "Change: deploy `deploy-5389` on shipping" in root
    assert f"**{top['fault']}** on **{top['entity']}**" in root
    assert "Evidence:" in root and re.search(r"- supports: \[temporal\]", root)
    # And a minute-by-minute timeline merging signals, lifecycle moves, notifications and actions
    timeline = text[text.index("## Timeline"):text.index("## Root cause")]
    for kind in ("signal:", "lifecycle:", "notification:", "approval:", "action:", "change:"):
        assert kind in timeline, kind
    assert re.search(r"- \*\*\d{4}-\d\d-\d\d \d\d:\d\d\*\*", timeline)
    # And the actions with their results
    done = text[text.index("## What was done"):text.index("## What went well")]
    for action in incident["actions"]:
        assert f"**{action['action']} {action['target']}**" in done and f"result **{action['status']}**" in done
    # And the response figures come from the recorded times
    assert re.search(r"\| Time to acknowledge \| \d+\.\d min \|", text)


def test_confirming_a_root_cause_raises_its_precedent_validation_and_confidence(replayed: Any, resolved_dir: Path) -> None:
    # Given a replay of a bad deploy, and a person who confirms its top hypothesis
    scenario = Scenario.load(resolved_dir / "resolved-2-003.json")
    (incident,) = replayed(resolved_dir / "resolved-2-003.json").result["incidents"]
    before = incident["hypotheses"][0]
    taught = replay(scenario, approve="none", verdicts=[
        {"incident_id": incident["id"], "accepted": True, "rank": 1, "actor": "slack:U1"}])
    assert taught.verdicts[0]["counted"] and taught.learning["precedents"]
    # When the scenario is replayed with what was learned
    after = _same_hypothesis(replay(scenario, approve="none", learning=taught.learning), before)
    # Then the confirmed hypothesis's precedent and human-validation factors rise, and its confidence
    assert after["factors"]["precedent_frequency"] > before["factors"]["precedent_frequency"]
    assert after["factors"]["human_validation"] > before["factors"]["human_validation"]
    assert after["confidence"] > before["confidence"]


def test_rejecting_a_hypothesis_lowers_its_validation_and_confidence(replayed: Any, resolved_dir: Path) -> None:
    # Given a replay whose top hypothesis a person rejects
    scenario = Scenario.load(resolved_dir / "resolved-2-003.json")
    (incident,) = replayed(resolved_dir / "resolved-2-003.json").result["incidents"]
    before = incident["hypotheses"][0]
    taught = replay(scenario, approve="none", verdicts=[
        {"incident_id": incident["id"], "accepted": False, "rank": 1, "actor": "cli:sre"}])
    # When the scenario is replayed with what was learned
    after = _same_hypothesis(replay(scenario, approve="none", learning=taught.learning), before)
    # Then the rejected hypothesis's human-validation factor and confidence fall, and it joined no corpus
    assert not taught.learning["precedents"]
    assert after["factors"]["human_validation"] < before["factors"]["human_validation"]
    assert after["confidence"] < before["confidence"]


def _same_hypothesis(run: Any, wanted: dict[str, Any]) -> dict[str, Any]:
    (incident,) = run.result["incidents"]
    return next(h for h in incident["hypotheses"]
                if h["entity"] == wanted["entity"] and h["fault"] == wanted["fault"])


def _timeline(text: str) -> list[tuple[datetime, str]]:
    """(time, "kind: text") of each event in a postmortem's minute-by-minute timeline."""
    out: list[tuple[datetime, str]] = []
    day = ""
    for line in text.splitlines():
        if m := re.match(r"- \*\*(\d{4}-\d\d-\d\d) \d\d:\d\d\*\*$", line):
            day = m.group(1)
        elif (m := re.match(r"  - (\d\d:\d\d:\d\d) (.*)$", line)) and day:
            out.append((parse_time(f"{day}T{m.group(1)}Z"), m.group(2)))
    return out
