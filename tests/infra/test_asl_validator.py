"""asl-validator (pinned in package.json) accepts every state machine definition we ship, and
rejects a broken one, so a passing run means something."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from infra_synth import REPO

pytestmark = pytest.mark.infra

VALIDATOR = REPO / "node_modules" / ".bin" / "asl-validator"
DEFINITIONS = sorted((REPO / "statemachines").glob("*.asl.json"))
needs_validator = pytest.mark.skipif(not VALIDATOR.exists(),
                                     reason="node_modules is absent; run `npm ci` (make setup) to install asl-validator")


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, check=False,
                          cwd=REPO)


@needs_validator
@pytest.mark.parametrize("definition", DEFINITIONS, ids=[p.name for p in DEFINITIONS])
def test_state_machine_definition_is_valid_asl(definition: Path) -> None:
    result = _validate(definition)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_validator
def test_validator_rejects_a_transition_to_a_missing_state(tmp_path: Path) -> None:
    definition = json.loads(DEFINITIONS[0].read_text(encoding="utf-8"))
    definition["States"][definition["StartAt"]]["Next"] = "NoSuchState"
    broken = tmp_path / "broken.asl.json"
    broken.write_text(json.dumps(definition), encoding="utf-8")
    assert _validate(broken).returncode != 0


def test_there_is_a_definition_to_validate() -> None:
    assert DEFINITIONS, "statemachines/*.asl.json is empty"
