"""The incident workflow's Lambda functions: one factory, one entry per ASL Task state."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from sre_copilot.services.step_lambda import STEPS, StepName
from sre_copilot.workflow_definition import task_functions

REPO = Path(__file__).resolve().parents[2]
ASL = REPO / "statemachines" / "incident.asl.json"


def test_every_task_state_has_a_step_and_every_step_a_task_state() -> None:
    # Given the Task states the deployed ASL invokes (CDK and the local runtime read the same list)
    tasks = set(task_functions(ASL.read_text()).values())
    # Then the factory knows exactly those steps, under the functions' names
    assert set(STEPS) == tasks
    assert set(get_args(StepName)) == tasks


def test_each_step_function_is_the_factory_over_its_own_step() -> None:
    # Given each Task state's function directory
    for name in sorted(set(task_functions(ASL.read_text()).values())):
        source = (REPO / "functions" / name / "handler.py").read_text()
        # Then its handler is the shared factory over the step of the same name (not a neighbour's)
        assert f'handler = workflow_step("{name}")' in source, name
