"""Replays are the slowest tests; each scenario is replayed once per session and shared."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest

_cache: dict[tuple[str, str, str], Any] = {}


@pytest.fixture(scope="session")
def replayed() -> Any:
    from sre_copilot.local.replay import Scenario, replay

    def run(path: Path, approve: str = "none", backend: str = "moto") -> Any:
        key = (str(path), approve, backend)
        if key not in _cache:
            _cache[key] = replay(Scenario.load(path), approve=approve, backend=backend)
        # Each test gets its own copy of the result: a test that writes postmortem files points the
        # result at them (as `replay --out` does), which must not leak into another test's view.
        return dataclasses.replace(_cache[key], result=copy.deepcopy(_cache[key].result))

    return run
