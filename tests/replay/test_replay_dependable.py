"""Every shared scenario (../shared/scenarios and ../shared/scenarios-resolved), replayed end to end:
the result file is byte-identical from one run to the next, and no execution ends in FAILED whether
people approve every action or none (an action this deployment cannot run is handed to a human).

Each scenario is replayed three times: `--approve all` twice (the first run is shared with the
contract tests through the session cache) and `--approve none` once."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from sre_copilot.cli.main import dump

pytestmark = pytest.mark.slow

SHARED = Path(__file__).resolve().parents[3] / "shared"

SCENARIOS = sorted(p for folder in ("scenarios", "scenarios-resolved") for p in (SHARED / folder).glob("*.json")
                   if not p.name.endswith(".truth.json"))
EXECUTION_STATUSES = {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def test_every_shared_scenario_is_found() -> None:
    assert len(SCENARIOS) >= 13, SCENARIOS


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_replaying_twice_writes_byte_identical_results(path: Path, replayed: Any) -> None:
    from sre_copilot.local.replay import Scenario, replay

    # Given a shared scenario replayed once (with every approval granted, the longest path)
    earlier = replayed(path, "all")
    first = dump(earlier.result) + "\n"
    # When it is replayed again in the same process, after other replays have run
    again = replay(Scenario.load(path), approve="all")
    second = dump(again.result) + "\n"
    # Then the result files are the same bytes
    assert first == second
    # And every incident's execution, and its paging execution, entered the same states at the
    # same simulated times
    assert _states(earlier.histories) == _states(again.histories)
    assert _states(earlier.paging_histories) == _states(again.paging_histories)


# The one that placed a phone call 105 s of simulated time late in CI before the runtime's baton,
# one with paging and approvals, and one with changes.
PERTURBED = [p for p in SCENARIOS if p.stem in ("resolved-1-002", "sample-1-003", "sample-1-001")]


@pytest.mark.parametrize("path", PERTURBED, ids=lambda p: p.stem)
def test_random_delays_before_every_handler_change_no_byte(path: Path, replayed: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from sre_copilot.local.moto_patches import InProcessLambdas
    from sre_copilot.local.replay import Scenario, replay

    # Given every Lambda invocation (ingest, correlate, each workflow and paging step, the sweeper)
    # delayed by a random 0-15 ms first, which reorders whatever threads could race
    rng = random.Random(path.stem)
    invoke = InProcessLambdas.invoke

    def delayed(self: InProcessLambdas, function_name: str, event: Any) -> tuple[str, bool, str]:
        time.sleep(rng.random() * 0.015)
        return invoke(self, function_name, event)

    monkeypatch.setattr(InProcessLambdas, "invoke", delayed)
    # When the scenario is replayed
    again = replay(Scenario.load(path), approve="all")
    # Then its result and its executions' timelines are those of the undisturbed replay
    earlier = replayed(path, "all")
    assert dump(again.result) == dump(earlier.result)
    assert _states(again.histories) == _states(earlier.histories)
    assert _states(again.paging_histories) == _states(earlier.paging_histories)


def _states(histories: dict[str, list[dict[str, Any]]]) -> dict[str, list[tuple[str, str]]]:
    return {name: [(e["stateEnteredEventDetails"]["name"], str(e["simulatedTimestamp"]))
                   for e in events if "stateEnteredEventDetails" in e]
            for name, events in histories.items()}


@pytest.mark.parametrize("approve", ["all", "none"])
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_no_execution_ends_failed_whatever_people_answer(path: Path, approve: str, replayed: Any) -> None:
    # Given a shared scenario replayed with every approval granted, or none
    result = replayed(path, approve).result
    # Then every incident reports its execution's status, and none of them FAILED
    statuses = {i["id"]: i.get("execution_status") for i in result["incidents"]}
    assert all(status in EXECUTION_STATUSES for status in statuses.values()), statuses
    assert [i for i, status in statuses.items() if status == "FAILED"] == []
    # And a plan the copilot could not run was handed over, never left waiting as approved-and-planned
    for incident in result["incidents"]:
        for action in incident["actions"]:
            assert not (action["approval"] in ("approved", "auto") and action["status"] == "planned"
                        and incident["execution_status"] != "RUNNING"), (incident["id"], action)


def test_an_approved_plan_the_copilot_did_not_run_is_handed_to_a_human(replayed: Any) -> None:
    # Given every shared scenario replayed with every approval granted
    handed_over = 0
    for path in SCENARIOS:
        for incident in replayed(path, "all").result["incidents"]:
            for action in incident["actions"]:
                if action["approval"] == "approved" and action["status"] in ("skipped", "failed"):
                    # Then each approved plan that did not run was escalated to people, who were told so
                    handed_over += 1
                    assert any(n["kind"] == "escalation" and n["status"] == "sent"
                               for n in incident["notifications"]), (incident["id"], action)
    # (the samples' remedies include some that no executor of the local deployment runs)
    assert handed_over > 0


def test_result_reports_execution_status_per_the_contract(replayed: Any) -> None:
    result = replayed(SHARED / "scenarios" / "sample-1-000.json", "none").result
    assert result["incidents"]
    for incident in result["incidents"]:
        assert list(incident)[-2:] == ["execution", "execution_status"]
        assert json.loads(json.dumps(incident["execution_status"])) in EXECUTION_STATUSES
