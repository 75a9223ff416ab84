"""End to end on the embedded backend: a scenario in, a `replay-result@1` out, per the contract in
../shared/docs/scenario-format.md, with the execution history of the real state machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sre_copilot.cli import history as history_view
from sre_copilot.local.replay import RESULT_FORMAT

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ASL = json.loads((REPO / "statemachines" / "incident.asl.json").read_text())
ANALYSIS = json.loads((REPO / "statemachines" / "analysis.asl.json").read_text())
DEMO = REPO / "layers/common/python/sre_copilot/data/demo-checkout-bad-deploy.json"


def _accounted(result: dict[str, Any]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for s in result["signals"]:
        counts[s["origin"]["delivery"]] = counts.get(s["origin"]["delivery"], 0) + (1 if s["origin"]["item"] == 0 else 0)
    for r in result["rejected"]:
        counts[r["origin"]["delivery"]] = counts.get(r["origin"]["delivery"], 0) + 1
    for r in result["ignored"]:
        counts[r["origin"]["delivery"]] = counts.get(r["origin"]["delivery"], 0) + 1
    return counts


def test_sample_result_follows_the_contract(replayed: Any, scenarios_dir: Path) -> None:
    # Given the first labelled sample
    path = scenarios_dir / "sample-1-000.json"
    scenario = json.loads(path.read_text())
    # When it is replayed
    result = replayed(path).result
    # Then every delivery is accounted for exactly once, as signals, a rejection or an ignored delivery
    assert result["format"] == RESULT_FORMAT and result["scenario"] == scenario["name"]
    assert _accounted(result) == {i: 1 for i in range(len(scenario["deliveries"]))}
    # And signals carry the contract's fields with valid values
    for s in result["signals"]:
        assert set(s) >= {"id", "origin", "source", "status", "severity", "priority", "service", "entity",
                          "title", "fingerprint", "duplicate_of", "incident_id"}
        assert s["status"] in ("firing", "resolved", "acknowledged") and s["priority"] in ("P0", "P1", "P2", "P3")
    # And every incident names its execution, has ranked hypotheses with factors and a timeline
    assert result["incidents"], "the sample's faults must open incidents"
    for incident in result["incidents"]:
        assert incident["execution"].endswith(f":{incident['id']}")
        assert incident["timeline"][0]["state"] == "DETECTED"
        assert incident["decision"] in ("present", "auto_ack", "inconclusive", "needs_human")
        assert [h["rank"] for h in incident["hypotheses"]] == list(range(1, len(incident["hypotheses"]) + 1))
        for h in incident["hypotheses"]:
            assert set(h["factors"]) == {"signal_strength", "temporal_correlation", "precedent_frequency",
                                         "evidence_quality", "human_validation"}
            low, high = h["confidence_range"]
            assert low <= h["confidence"] <= high
        assert any(n["channel"] == "slack" for n in incident["notifications"])


def test_background_noise_opens_no_incident(replayed: Any, scenarios_dir: Path) -> None:
    path = scenarios_dir / "sample-1-000.json"
    truth = json.loads((scenarios_dir / "sample-1-000.truth.json").read_text())
    scenario = json.loads(path.read_text())
    result = replayed(path).result
    background = {i for i in truth["noise"]
                  if "background noise" in json.dumps(scenario["deliveries"][i]["body"])}
    assert background
    assert all(s["incident_id"] is None for s in result["signals"] if s["origin"]["delivery"] in background)


def test_history_lists_asl_states_in_the_order_they_ran(replayed: Any, scenarios_dir: Path) -> None:
    run = replayed(scenarios_dir / "sample-1-000.json")
    incident = run.result["incidents"][0]
    rows = history_view.state_rows(run.histories[incident["id"]])
    names = [r["state"] for r in rows if not r["parent"]]
    assert set(names) <= set(ASL["States"])
    # The incident workflow runs in ASL order from StartAt, following each state's Next.
    assert names[: len(_chain(ASL)) - 1] == _chain(ASL)[:-1]
    # And each analysis pass (the Express child, placed under Analyse) runs its whole chain in order
    passes: list[list[str]] = []
    for row in rows:
        if row["state"] == "Analyse" and not row["parent"]:
            passes.append([])
        elif row["parent"] == "Analyse":
            passes[-1].append(row["state"])
    assert passes and all(p == _chain(ANALYSIS) for p in passes)


def test_a_re_analysis_runs_beside_the_parked_workflow_which_makes_no_transition_for_it(
        replayed: Any, scenarios_dir: Path) -> None:
    # Given a sample whose incidents are re-analysed as their alerts grow
    run = replayed(scenarios_dir / "sample-1-000.json")
    for incident in run.result["incidents"]:
        rows = history_view.state_rows(run.histories[incident["id"]])
        # Then each re-analysis is a whole pass of its own (marked Reanalyse, in the order it ran)
        reanalyses: list[list[str]] = []
        for row in rows:
            if row["parent"] == "Reanalyse":
                if row["state"] == "Unwrap":
                    reanalyses.append([])
                reanalyses[-1].append(row["state"])
        assert all(p == _chain(ANALYSIS) for p in reanalyses)
        # And the incident workflow itself was never woken to run one (no transition of its own)
        wakes = [r["output_doc"].get("wake", {}).get("reason") for r in rows
                 if not r["parent"] and r["state"] in ("Analyse", "AwaitDecision") and r.get("output_doc")]
        assert "refresh" not in wakes
    assert any(r["parent"] == "Reanalyse" for i in run.result["incidents"]
               for r in history_view.state_rows(run.histories[i["id"]]))


def _chain(asl: dict[str, Any]) -> list[str]:
    expected, state = [], asl["StartAt"]
    if asl["States"][state]["Type"] == "Choice":  # Start: a new incident's execution takes the Default
        expected.append(state)
        state = asl["States"][state]["Default"]
    while state not in expected:
        expected.append(state)
        if not asl["States"][state].get("Next"):
            break
        state = asl["States"][state]["Next"]
    return expected


def test_demo_with_approval_acts_verifies_and_learns(replayed: Any) -> None:
    # Given the bundled demo replayed with every approval granted
    run = replayed(DEMO, approve="all")
    result = run.result
    # Then the retried PagerDuty webhook is ignored, the garbage is rejected with a reason
    assert [r["origin"]["delivery"] for r in result["rejected"]] == [6]
    assert 4 in [r["origin"]["delivery"] for r in result["ignored"]]
    # And one incident blames the checkout deploy, rolls it back, verifies and reaches LEARNED
    assert len(result["incidents"]) == 1
    incident = result["incidents"][0]
    assert incident["hypotheses"][0]["change_id"] == "deploy-4711"
    assert incident["actions"] and incident["actions"][0]["approval"] in ("approved", "auto")
    assert incident["actions"][0]["status"] == "verified"
    states = [t["state"] for t in incident["timeline"]]
    assert states[0] == "DETECTED" and "ACKNOWLEDGED" in states and states[-1] == "LEARNED"
    assert incident["postmortem"]
    kinds = [(n["channel"], n["kind"]) for n in incident["notifications"]]
    assert ("slack", "page") in kinds and ("phone", "page") in kinds
    assert sum(1 for k in kinds if k == ("phone", "page")) == 1, "a retried webhook must never page twice"


def test_pagerduty_sees_our_ack_and_hypotheses_and_its_resolve_closes_ours(replayed: Any) -> None:
    # Given the demo, where the PagerDuty incident PCHK001 is part of the incident
    run = replayed(DEMO, approve="all")
    requests = [r for r in run.provider_requests if r["path"].startswith("/pagerduty/incidents/PCHK001")
                or "/incidents/PCHK001" in r["path"]]
    # Then our acknowledgement went to PagerDuty's REST API as a real PUT with the documented body
    puts = [r for r in requests if r["method"] == "PUT"]
    assert any(r["body"]["incident"]["status"] == "acknowledged" for r in puts)
    assert all(r["headers"].get("Authorization", r["headers"].get("authorization", "")).startswith("Token token=")
               for r in puts)
    # And notes carry the top hypotheses
    notes = [r["body"]["note"]["content"] for r in requests if r["method"] == "POST" and r["path"].endswith("/notes")]
    assert any("deploy-4711" in note for note in notes)
    # And the resolve made in PagerDuty moved our lifecycle (the copilot did not resolve it itself)
    resolved = next(t for t in run.result["incidents"][0]["timeline"] if t["state"] == "RESOLVED")
    assert resolved["actor"].startswith("pagerduty:")
    assert not any(r["body"]["incident"]["status"] == "resolved" for r in puts), "no echo back to PagerDuty"


def test_a_plan_policy_approves_runs_without_a_person_and_the_history_says_so(
        replayed: Any, scenarios_dir: Path) -> None:
    # Given a sample whose low-risk remedy policy approves (approval "auto"), replayed with nobody
    # answering approval requests
    run = replayed(scenarios_dir / "sample-1-002.json", approve="none")
    incident = next(i for i in run.result["incidents"] if any(a["approval"] == "auto" for a in i["actions"]))
    # Then the plan ran all the same
    assert next(a for a in incident["actions"] if a["approval"] == "auto")["status"] != "planned"
    # And the analysis pass ended in its AwaitDecision, which answered the Analyse task itself with
    # the policy's approval, and the workflow went on to Act (no human wake, no separate Choice)
    rows = history_view.state_rows(run.histories[incident["id"]])
    own = [r for r in rows if not r["parent"]]
    act = next(i for i, r in enumerate(own) if r["state"] == "Act")
    assert [r["state"] for r in own[act - 2: act]] == ["Analyse", "RouteWake"]
    assert own[act - 2]["output_doc"]["wake"] == {"reason": "approved", "by": "policy",
                                                  "plan_id": incident_plan(run, incident)}


def incident_plan(run: Any, incident: dict[str, Any]) -> str:
    return str(next(r for r in run.audits[incident["id"]] if r["action"] == "action.planned")["details"]["id"])
