"""What passes between ASL states, parsed at the top of each step (domain/workflow_state.py)."""

from __future__ import annotations

import json

import pytest

from sre_copilot.domain.workflow_state import PagingState, StepError, WorkflowState, WorkflowStateError

STATE = {
    "incident_id": "inc-1", "tenant_id": "acme",
    "context": {"result": {"snapshot_ref": "s3://b/inc-1/v1/context.json", "signals": 3, "missing": []}},
    "evidence": {"result": {"evidence_ref": "s3://b/inc-1/v1/evidence.json", "items": 7}},
    "decision": {"result": {"outcome": "needs_human", "reasons": ["weak evidence"], "presented": ["h1"]}},
    "recommendation": {"result": {"approval": "pending", "plan_id": "plan-9", "runbook": None}},
    "wake": {"reason": "approved", "by": "slack:U1"},
    "error": {"Error": "States.Timeout", "Cause": "no answer"},
    "a_state_added_later": {"result": {}},
}


def test_a_full_execution_state_gives_each_step_its_references_and_summaries() -> None:
    # Given the state as the ASL builds it after Recommend and a wake-up
    state = WorkflowState.parse(STATE)
    # Then each step reads what an earlier one handed on, by its ResultPath
    assert (state.incident(), state.tenant_id) == ("inc-1", "acme")
    assert state.ref("context", "snapshot_ref") == "s3://b/inc-1/v1/context.json"
    assert state.ref("evidence", "evidence_ref").endswith("evidence.json")
    assert state.result("recommendation").plan_id == "plan-9"
    assert state.result("decision").reasons == ["weak evidence"]
    assert state.wake is not None and state.wake.reason == "approved"
    assert state.error is not None and state.error.error == "States.Timeout"
    # And what this model does not name is kept, not refused (the ASL may grow)
    assert state.model_extra == {"a_state_added_later": {"result": {}}}


def test_a_reference_that_was_never_handed_on_names_the_state_that_should_have() -> None:
    # Given a state in which AggregateEvidence has not run
    state = WorkflowState.parse({"incident_id": "inc-1", "context": STATE["context"]})
    # When a later step asks for its reference
    with pytest.raises(WorkflowStateError, match=r"evidence_ref from \$evidence"):
        state.ref("evidence", "evidence_ref")
    # And a state that has not run reads as an empty result, not an error
    assert state.result("act").plan_id is None


def test_a_malformed_state_is_a_clear_error_not_a_key_error() -> None:
    with pytest.raises(WorkflowStateError, match="workflow state does not have the expected shape"):
        WorkflowState.parse({"incident_id": "inc-1", "context": {"result": "not an object"}})
    with pytest.raises(WorkflowStateError, match="names no incident_id"):
        WorkflowState.parse({"tenant_id": "acme"}).incident()
    with pytest.raises(WorkflowStateError, match="AwaitDecision was invoked without a task token"):
        WorkflowState.parse({"incident_id": "inc-1"}).task()


def test_the_paging_state_carries_level_round_and_what_ended_the_wait() -> None:
    state = PagingState.parse({"incident_id": "inc-1", "tenant_id": "acme", "level": "2", "round": 1,
                               "timeout_s": 300, "task_token": "tok", "answer": {"reason": "acknowledged"}})
    assert (state.level, state.round, state.timeout_s, state.task()) == (2, 1, 300, "tok")
    assert state.answer is not None and state.answer.reason == "acknowledged"
    with pytest.raises(WorkflowStateError, match="paging state"):
        PagingState.parse({"incident_id": "inc-1"})


def test_a_failed_analysis_pass_is_recorded_as_the_step_error_inside_it() -> None:
    # Given the Analyse task's catch: the Express child failed, and its DescribeExecution is the cause
    described = {"ExecutionArn": "arn:aws:states:us-east-1:1:express:sre-copilot-analysis:inc-1-x:y",
                 "Status": "FAILED", "Error": "SreCopilotError", "Cause": "the catalog is not valid YAML"}
    error = StepError.model_validate({"Error": "States.TaskFailed", "Cause": json.dumps(described)})
    # When it is unwrapped
    inner = error.unwrapped()
    # Then the failing step's own error and cause are what is recorded, with the child named
    dumped = inner.model_dump(by_alias=True, exclude_unset=True)
    assert dumped["Error"] == "SreCopilotError"
    assert dumped["Cause"] == "the catalog is not valid YAML"
    assert dumped["execution"] == described["ExecutionArn"] and dumped["wrapped"] == "States.TaskFailed"


def test_any_other_step_error_is_kept_as_it_is() -> None:
    # Given a Lambda step's own error, and a TaskFailed whose cause is not an execution's description
    plain = StepError.model_validate({"Error": "Lambda.Unknown", "Cause": "{\"errorMessage\": \"boom\"}"})
    text = StepError.model_validate({"Error": "States.Timeout", "Cause": "timed out"})
    # Then neither changes
    assert plain.unwrapped() is plain and text.unwrapped() is text
