"""StepFunctionsEngine against moto: idempotent start by name, status, task answers, history."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_test_support import REGION
from moto import mock_aws

from sre_copilot.adapters.aws_clients import clear_clients
from sre_copilot.adapters.stepfunctions_engine import StepFunctionsEngine, execution_arn
from sre_copilot.errors import ConfigurationError, InvalidPayload, NotFound
from sre_copilot.settings import Settings

PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def _machine(definition: dict[str, Any]) -> str:
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name="sre-copilot-incident", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]


def _status(arn: str) -> str:
    return boto3.client("stepfunctions", region_name=REGION).describe_execution(executionArn=arn)["status"]


def _until(predicate: Any) -> Any:
    # moto runs executions on a thread; wait for the state to be reached, not for an amount of time.
    deadline = time.monotonic() + 10
    while not (result := predicate()):
        assert time.monotonic() < deadline, "moto did not reach the expected state"
        time.sleep(0.02)
    return result


@pytest.fixture
def executing(settings: Settings) -> Iterator[None]:
    """moto executing the definitions (Pass, SQS waitForTaskToken), not only recording starts."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):  # type: ignore[arg-type]
        clear_clients()
        yield
    clear_clients()


def test_start_is_idempotent_by_name(settings: Settings) -> None:
    # Given the incident state machine (moto keeps executions RUNNING without executing them)
    engine = StepFunctionsEngine(settings, state_machine_arn=_machine(PASS))
    # When the same incident's execution is started three times, the last with a different payload
    first = engine.start("inc-20240514T090000-abc", {"incident_id": "inc-1", "tenant_id": "acme"})
    again = engine.start("inc-20240514T090000-abc", {"tenant_id": "acme", "incident_id": "inc-1"})
    redelivered = engine.start("inc-20240514T090000-abc", {"incident_id": "inc-1", "note": "redelivery"})
    # Then there is one execution and every call returns its ARN
    assert first == again == redelivered
    assert first == f"arn:aws:states:{REGION}:123456789012:execution:sre-copilot-incident:inc-20240514T090000-abc"
    executions = boto3.client("stepfunctions", region_name=REGION).list_executions(
        stateMachineArn=engine.state_machine_arn)["executions"]
    assert [e["name"] for e in executions] == ["inc-20240514T090000-abc"]
    assert engine.is_running(first)


def test_finished_execution_is_returned_not_restarted(settings: Settings, executing: None) -> None:
    # Given an execution that ran to completion
    engine = StepFunctionsEngine(settings, state_machine_arn=_machine(PASS))
    arn = engine.start("inc-done", {"incident_id": "inc-done"})
    _until(lambda: _status(arn) == "SUCCEEDED")
    # When the same name is started again
    # Then the finished execution's ARN comes back and it is reported as not running
    assert engine.start("inc-done", {"incident_id": "inc-done"}) == arn
    assert not engine.is_running(arn)
    assert not engine.is_running(execution_arn(engine.state_machine_arn, "never-started"))


def test_parked_task_resumes_on_send_success_and_history_shows_it(settings: Settings, executing: None) -> None:
    # Given an execution parked on a task token (handed out through SQS)
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="park")["QueueUrl"]
    engine = StepFunctionsEngine(settings, state_machine_arn=_machine({"StartAt": "Await", "States": {"Await": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": True,
        "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}}}}}))
    arn = engine.start("inc-park", {"incident_id": "inc-park"})
    [message] = _until(lambda: sqs.receive_message(QueueUrl=url).get("Messages"))
    token = json.loads(message["Body"])["token"]
    assert engine.is_running(arn)
    # When the task is answered
    engine.send_success(token, {"reason": "approved", "by": "slack:oncall"})
    # Then the execution finishes with that output, and its history lists every step in order
    _until(lambda: _status(arn) == "SUCCEEDED")
    history = engine.history(arn)
    types = [e["type"] for e in history]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    assert "TaskSubmitted" in types
    assert json.loads(history[-1]["executionSucceededEventDetails"]["output"]) == {"reason": "approved",
                                                                                    "by": "slack:oncall"}


def test_bad_names_tokens_and_configuration_are_reported(settings: Settings) -> None:
    # Given an engine without a state machine and one with
    # When it is misused
    # Then each error says what to fix
    with pytest.raises(ConfigurationError, match="SRE_COPILOT_STATE_MACHINE_ARN"):
        StepFunctionsEngine(settings).start("inc-1", {})
    engine = StepFunctionsEngine(settings, state_machine_arn=_machine(PASS))
    with pytest.raises(InvalidPayload, match="cannot name an execution"):
        engine.start("inc 1/with spaces", {})
    with pytest.raises(NotFound, match="no execution"):
        engine.history(execution_arn(engine.state_machine_arn, "never-started"))


def test_malformed_task_token_is_reported(settings: Settings, executing: None) -> None:
    # Given an engine
    engine = StepFunctionsEngine(settings, state_machine_arn=_machine(PASS))
    # When a task is answered with something that is not a task token
    # Then the error says to pass the token through unchanged
    with pytest.raises(InvalidPayload, match="task token is malformed"):
        engine.send_failure("not-a-token", "Rejected", "the on-call said no")
