"""The ASL's `${...}` placeholders and the state machine's substitutions are the same set, so every
Task resolves to a deployed function and no function is wired in by mistake."""

from __future__ import annotations

import json
import re

import pytest
from infra_synth import REPO, Synthesized

from infra_cdk.constructs.workflow import ASL_PATH, STEP_FUNCTIONS, asl_placeholders

pytestmark = pytest.mark.infra


def test_asl_placeholders_equal_the_definition_substitution_keys(synthesized: Synthesized) -> None:
    state_machine = next(iter(synthesized.resources("AWS::StepFunctions::StateMachine").values()))
    substitutions = state_machine["Properties"]["DefinitionSubstitutions"]
    assert asl_placeholders(REPO / ASL_PATH) == set(substitutions)


def test_each_placeholder_is_replaced_by_its_own_functions_arn(synthesized: Synthesized) -> None:
    state_machine = next(iter(synthesized.resources("AWS::StepFunctions::StateMachine").values()))
    substitutions = state_machine["Properties"]["DefinitionSubstitutions"]
    stack = synthesized.built.stack
    for state, name in STEP_FUNCTIONS.items():
        expected = {"Fn::GetAtt": [synthesized.logical_id(stack.functions[name].function), "Arn"]}
        assert substitutions[f"{state}FunctionArn"] == expected, state


def test_every_lambda_task_state_uses_the_placeholder_named_after_it() -> None:
    definition = json.loads((REPO / ASL_PATH).read_text(encoding="utf-8"))
    tasks = {name: state for name, state in definition["States"].items() if state["Type"] == "Task"}
    assert set(tasks) == set(STEP_FUNCTIONS)
    for name, state in tasks.items():
        assert re.fullmatch(r"arn:aws:states:::lambda:invoke(\.waitForTaskToken)?", state["Resource"]), name
        assert state["Parameters"]["FunctionName"] == f"${{{name}FunctionArn}}", name


def test_every_task_retries_transient_errors_and_catches_the_rest() -> None:
    # Given the state machine definition
    asl = json.loads((REPO / "statemachines" / "incident.asl.json").read_text())
    tasks = {name: state for name, state in asl["States"].items() if state["Type"] == "Task"}
    # Then every task has a Retry and a Catch-all, and every catch leads to a state that exists
    for name, state in tasks.items():
        assert state.get("Retry"), f"{name} has no Retry"
        assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), f"{name} has no catch-all"
        assert all(c["Next"] in asl["States"] for c in state["Catch"]), name
