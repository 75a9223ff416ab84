"""`bench_replay.py --breakdown`: where a replay's time goes, counted without changing the replay."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sre_copilot.adapters.memory import MemoryDynamoDB, MemoryFirehose, MemoryS3
from sre_copilot.local import moto_patches
from sre_copilot.local.replay import Scenario, replay

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from time_breakdown import Timings, is_request, measured

pytestmark = pytest.mark.slow


def test_only_the_outermost_call_in_a_thread_is_timed() -> None:
    # Given a timed call that makes another timed call
    timings = Timings()
    inner = timings.timed(lambda: "inner", lambda: None)
    outer = timings.timed(lambda: "outer", lambda: inner())
    # When the outer one runs twice
    outer()
    outer()
    # Then only it is counted: the inner call's time is already inside it
    assert dict(timings.calls) == {"outer": 2}
    assert set(timings.seconds) == {"outer"}


def test_a_memory_replay_is_broken_down_and_left_as_it_was(scenarios_dir: Path) -> None:
    # Given a shared scenario and the memory clients as they are
    scenario = Scenario.load(sorted(p for p in scenarios_dir.glob("*.json") if not p.name.endswith(".truth.json"))[0])
    before = (vars(MemoryDynamoDB)["put_item"], vars(MemoryS3)["keys"], vars(moto_patches.InProcessLambdas)["invoke"])
    plain = replay(scenario, backend="memory", trails=False).result
    # When it is replayed again while measured
    with measured("memory") as found:
        timed = replay(scenario, backend="memory", trails=False).result
    # Then the result is the same, handlers and requests are counted by name,
    assert timed == plain
    assert found.handlers.calls["ingest"] == len(scenario.deliveries) + len(scenario.changes)
    assert found.requests.calls["dynamodb PutItem"] > 0
    # each delivery's raw archive is one Firehose request,
    assert found.requests.calls["firehose PutRecord"] == found.handlers.calls["ingest"]
    # and every wrapped method is put back
    assert (vars(MemoryDynamoDB)["put_item"], vars(MemoryS3)["keys"],
            vars(moto_patches.InProcessLambdas)["invoke"]) == before


def test_a_memory_client_helper_is_not_counted_as_a_request() -> None:
    # Given the memory clients' API methods (keyword arguments, as botocore calls them) and helpers
    # Then only the API methods are requests
    assert is_request("put_object", MemoryS3.put_object)
    assert is_request("put_record", MemoryFirehose.put_record)
    assert not is_request("keys", MemoryS3.keys)
    assert not is_request("delete_expired_items", MemoryDynamoDB.delete_expired_items)
