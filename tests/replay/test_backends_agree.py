"""The memory backend (`--backend memory`) decides exactly what the moto backend decides.

Only the table, bucket and queues differ between the two; the services, the handlers and the state
machine are the same. So every shared scenario must give the same result document on both: the
same signals, incidents, grouping, hypotheses with their confidence, decisions, notifications,
actions and lifecycle, and the same states in the same order in every execution history.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SCENARIOS = sorted(p for p in (Path(__file__).resolve().parents[3] / "shared" / "scenarios").glob("*.json")
                   if not p.name.endswith(".truth.json"))


def _states(history: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{path}: moto {json.dumps(a, default=str)[:300]} != memory {json.dumps(b, default=str)[:300]}"


def test_there_are_shared_scenarios() -> None:
    assert len(SCENARIOS) >= 8


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_both_backends_give_the_same_result(replayed: Any, path: Path) -> None:
    # Given a shared scenario replayed on moto and on the memory backend
    on_moto = replayed(path)
    in_memory = replayed(path, backend="memory")
    # Then the result documents are identical, incidents and all they hold (execution ARNs too)
    assert on_moto.result["incidents"], "a scenario that opens no incident shows nothing here"
    assert on_moto.result == in_memory.result, _first_difference(on_moto.result, in_memory.result)
    # And every execution both know of ran the same states in the same order
    both = set(on_moto.histories) & set(in_memory.histories)
    assert both, "no execution history to compare"
    assert {k: _states(on_moto.histories[k]) for k in both} == {k: _states(in_memory.histories[k]) for k in both}
    # And the people were told the same things at the same simulated times (the paging execution
    # and the incident's run side by side, so calls made in the same instant may interleave)
    assert sorted((r["at"], r["method"], r["path"], r["status"]) for r in on_moto.provider_requests) == \
        sorted((r["at"], r["method"], r["path"], r["status"]) for r in in_memory.provider_requests)


def test_approved_actions_run_the_same_on_both_backends(replayed: Any) -> None:
    # Given a scenario whose plans an approver approves, on both backends
    path = SCENARIOS[0]
    on_moto, in_memory = replayed(path, approve="all"), replayed(path, approve="all", backend="memory")
    # Then the approved actions, verifications and lifecycle are the same
    assert on_moto.result == in_memory.result, _first_difference(on_moto.result, in_memory.result)
