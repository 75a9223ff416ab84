"""The ASL's `${...}` placeholders and each state machine's substitutions are the same set, so every
Task resolves to a deployed function and no function is wired in by mistake; the incident workflow
runs its analysis pass as an Express child."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from infra_synth import REPO, Synthesized

from infra_cdk.constructs.workflow import ANALYSIS_ASL_PATH, ASL_PATH, STEP_FUNCTIONS, asl_placeholders
from sre_copilot.workflow_definition import task_functions

pytestmark = pytest.mark.infra

PARENT = json.loads((REPO / ASL_PATH).read_text(encoding="utf-8"))
CHILD = json.loads((REPO / ANALYSIS_ASL_PATH).read_text(encoding="utf-8"))


def _machine(synthesized: Synthesized, construct: Any) -> dict[str, Any]:
    return synthesized.resources("AWS::StepFunctions::StateMachine")[synthesized.logical_id(construct)]


def test_asl_placeholders_equal_the_definition_substitution_keys(synthesized: Synthesized) -> None:
    workflow = synthesized.built.stack.workflow
    for asl, construct in ((ASL_PATH, workflow.state_machine), (ANALYSIS_ASL_PATH, workflow.analysis)):
        substitutions = _machine(synthesized, construct)["Properties"]["DefinitionSubstitutions"]
        assert asl_placeholders(REPO / asl) == set(substitutions), asl


def test_each_placeholder_is_replaced_by_its_own_functions_arn(synthesized: Synthesized) -> None:
    stack = synthesized.built.stack
    for asl, construct in ((ASL_PATH, stack.workflow.state_machine), (ANALYSIS_ASL_PATH, stack.workflow.analysis)):
        substitutions = _machine(synthesized, construct)["Properties"]["DefinitionSubstitutions"]
        for state, name in task_functions((REPO / asl).read_text()).items():
            expected = {"Fn::GetAtt": [synthesized.logical_id(stack.functions[name].function), "Arn"]}
            assert substitutions[f"{state}FunctionArn"] == expected, state


def test_the_analysis_pass_is_an_express_child_of_the_standard_incident_workflow(synthesized: Synthesized) -> None:
    # Given the two state machines as synthesized
    workflow = synthesized.built.stack.workflow
    parent, child = _machine(synthesized, workflow.state_machine), _machine(synthesized, workflow.analysis)
    # Then the incident workflow is STANDARD (it waits days for people) and the pass EXPRESS
    assert parent["Properties"]["StateMachineType"] == "STANDARD"
    assert child["Properties"]["StateMachineType"] == "EXPRESS"
    # And the parent's Analyse task starts exactly that child, handing it its task token, which the
    # child's last state parks (so the one Analyse state analyses, then waits for a decision)
    assert parent["Properties"]["DefinitionSubstitutions"]["AnalysisStateMachineArn"] == {
        "Ref": synthesized.logical_id(workflow.analysis)}
    analyse = PARENT["States"]["Analyse"]
    assert analyse["Resource"] == "arn:aws:states:::states:startExecution.waitForTaskToken"
    assert analyse["Parameters"]["StateMachineArn"] == "${AnalysisStateMachineArn}"
    assert analyse["Parameters"]["Input"]["task_token.$"] == "$$.Task.Token"
    last = next(n for n, st in CHILD["States"].items() if st.get("End"))
    assert last == "AwaitDecision"
    assert CHILD["States"][last]["Parameters"]["Payload"]["task_token.$"] == "$$.Execution.Input.task_token"
    assert analyse["TimeoutSeconds"] == PARENT["States"]["AwaitDecision"]["TimeoutSeconds"]
    # And the child logs its events (Express keeps no execution history of its own)
    assert child["Properties"]["LoggingConfiguration"]["Level"] == "ALL"


def test_every_lambda_task_state_uses_the_placeholder_named_after_it() -> None:
    tasks = {name: state for asl in (PARENT, CHILD) for name, state in asl["States"].items()
             if state["Type"] == "Task" and ":lambda:" in state["Resource"]}
    assert set(tasks) == set(STEP_FUNCTIONS)
    for name, state in tasks.items():
        assert re.fullmatch(r"arn:aws:states:::lambda:invoke(\.waitForTaskToken)?", state["Resource"]), name
        assert state["Parameters"]["FunctionName"] == f"${{{name}FunctionArn}}", name


def test_every_task_retries_transient_errors_and_a_failure_reaches_record_failure() -> None:
    # Given both definitions: the parent's tasks, and the child's steps
    parent_tasks = {name: state for name, state in PARENT["States"].items() if state["Type"] == "Task"}
    child_tasks = {name: state for name, state in CHILD["States"].items() if state["Type"] == "Task"}
    # Then every task retries transient errors
    for name, state in (parent_tasks | child_tasks).items():
        assert state.get("Retry"), f"{name} has no Retry"
    # And every parent task catches the rest into a state that exists
    for name, state in parent_tasks.items():
        assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), f"{name} has no catch-all"
        assert all(c["Next"] in PARENT["States"] for c in state["Catch"]), name
    # And a failed child step goes to ReportFailure, which fails the parent's Analyse task with its
    # error (nothing else would: the parent waits for its token), and the parent records it
    for name, state in child_tasks.items():
        if name != "ReportFailure":
            assert [c["Next"] for c in state.get("Catch", [])] == ["ReportFailure"], name
    report = CHILD["States"]["ReportFailure"]
    assert report["Resource"] == "arn:aws:states:::aws-sdk:sfn:sendTaskFailure"
    assert report["Parameters"]["TaskToken.$"] == "$$.Execution.Input.task_token"
    assert PARENT["States"]["Analyse"]["Catch"][-1]["Next"] == "RecordFailure"
