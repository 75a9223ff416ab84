"""The moto patch module: Step Functions executions call our handlers in-process, errors surface as
Lambda function errors (so Retry/Catch apply), task tokens park and resume, EventBridge reaches
Lambda targets, and the patches are undone on exit."""

from __future__ import annotations

import json
from typing import Any

import boto3
from moto import mock_aws
from moto_test_support import lambda_function, wait_until

from sre_copilot.local.moto_patches import (
    MOTO_CONFIG,
    InProcessLambdas,
    backend_execution_history,
    eventbridge_lambda_targets,
    in_process_lambda,
)


def test_execution_dispatches_tasks_in_process_and_resumes_on_task_token() -> None:
    registry = InProcessLambdas()
    tokens: list[str] = []
    with mock_aws(config=MOTO_CONFIG), in_process_lambda(registry):  # type: ignore[arg-type]
        role = boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        step, park = lambda_function("step", role), lambda_function("park", role)
        registry.register("step", lambda event, ctx: {"seen": event["n"], "fn": ctx.function_name})
        registry.register("park", lambda event, ctx: tokens.append(event["token"]))
        definition = {"StartAt": "Step", "States": {
            "Step": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Park",
                     "Parameters": {"FunctionName": step, "Payload.$": "$"}, "ResultSelector": {"r.$": "$.Payload"},
                     "ResultPath": "$.step"},
            "Park": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "End": True,
                     "Parameters": {"FunctionName": park, "Payload": {"token.$": "$$.Task.Token"}}, "ResultPath": "$.wake"}}}
        sfn = boto3.client("stepfunctions")
        machine = sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
        # Given a running execution
        execution = sfn.start_execution(stateMachineArn=machine, name="inc-1", input=json.dumps({"n": 7}))["executionArn"]
        # When it parks on the task token and we answer it
        wait_until(lambda: bool(tokens))
        sfn.send_task_success(taskToken=tokens[0], output=json.dumps({"reason": "approved"}))
        wait_until(lambda: sfn.describe_execution(executionArn=execution)["status"] != "RUNNING")
        # Then our handler ran in-process and the answer is in the output
        output = json.loads(sfn.describe_execution(executionArn=execution)["output"])
        assert output["step"]["r"] == {"seen": 7, "fn": "step"}
        assert output["wake"] == {"reason": "approved"}
        assert registry.invocations == 2 and registry.in_flight == 0


def test_handler_exception_is_a_lambda_function_error_that_catch_sees() -> None:
    registry = InProcessLambdas()

    def boom(event: Any, ctx: Any) -> None:
        raise ValueError("bad input")

    with mock_aws(config=MOTO_CONFIG), in_process_lambda(registry):  # type: ignore[arg-type]
        role = boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        arn = lambda_function("boom", role)
        registry.register("boom", boom)
        definition = {"StartAt": "Boom", "States": {
            "Boom": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
                     "Parameters": {"FunctionName": arn, "Payload.$": "$"},
                     "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.error", "Next": "Caught"}]},
            "Caught": {"Type": "Pass", "End": True}}}
        sfn = boto3.client("stepfunctions")
        machine = sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        wait_until(lambda: sfn.describe_execution(executionArn=execution)["status"] != "RUNNING")
        described = sfn.describe_execution(executionArn=execution)
        assert described["status"] == "SUCCEEDED"
        assert json.loads(described["output"])["error"]["Error"] == "ValueError"
        assert registry.errors and registry.errors[0][0] == "boom"


def test_eventbridge_rule_hands_lambda_targets_to_the_runtime() -> None:
    delivered: list[tuple[str, dict[str, Any]]] = []
    with mock_aws(), eventbridge_lambda_targets(lambda fn, ev: delivered.append((fn, ev))):
        events = boto3.client("events")
        events.create_event_bus(Name="bus")
        events.put_rule(Name="r", EventBusName="bus", EventPattern=json.dumps({"detail-type": ["Incident Lifecycle Transition"]}))
        events.put_targets(Rule="r", EventBusName="bus", Targets=[
            {"Id": "t", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:pagerduty_sync"}])
        events.put_events(Entries=[{"EventBusName": "bus", "Source": "sre-copilot", "DetailType": "Incident Lifecycle Transition",
                                    "Detail": json.dumps({"incident_id": "inc-1"})},
                                   {"EventBusName": "bus", "Source": "sre-copilot", "DetailType": "Other", "Detail": "{}"}])
    assert [(fn, ev["detail"]["incident_id"]) for fn, ev in delivered] == [("pagerduty_sync", "inc-1")]


def test_patches_are_removed_on_exit() -> None:
    from moto.awslambda.models import LambdaFunction
    from moto.events.models import Rule

    before = (LambdaFunction._invoke_lambda, Rule.send_to_targets)
    with in_process_lambda(InProcessLambdas()), eventbridge_lambda_targets(lambda fn, ev: None):
        assert LambdaFunction._invoke_lambda is not before[0]
    assert (LambdaFunction._invoke_lambda, Rule.send_to_targets) == before


def test_a_history_read_from_the_backend_is_what_the_api_returns() -> None:
    registry = InProcessLambdas()
    with mock_aws(config=MOTO_CONFIG), in_process_lambda(registry):  # type: ignore[arg-type]
        role = boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        step, boom = lambda_function("step", role), lambda_function("boom", role)
        registry.register("step", lambda event, ctx: {"seen": event["n"]})

        def fail(event: Any, ctx: Any) -> None:
            raise ValueError("no such deployment")

        registry.register("boom", fail)
        definition = {"StartAt": "Step", "States": {
            "Step": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Boom",
                     "Parameters": {"FunctionName": step, "Payload.$": "$"}, "ResultPath": "$.step"},
            "Boom": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Done",
                     "Parameters": {"FunctionName": boom, "Payload.$": "$"},
                     "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}]},
            "Done": {"Type": "Succeed"}}}
        sfn = boto3.client("stepfunctions")
        machine = sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
        # Given an execution that ran a task, caught another's failure and succeeded
        execution = sfn.start_execution(stateMachineArn=machine, name="inc-1", input=json.dumps({"n": 7}))["executionArn"]
        wait_until(lambda: sfn.describe_execution(executionArn=execution)["status"] != "RUNNING")
        # When its history is read from the backend and through the API
        fast = backend_execution_history(execution, "123456789012", "us-east-1")
        api = sfn.get_execution_history(executionArn=execution)["events"]
        # Then both are the same events, field for field
        assert fast is not None and len(fast) > 10
        assert fast == api
        # And an execution that does not exist is left to the API (and its error)
        assert backend_execution_history(execution.replace("inc-1", "inc-2"), "123456789012", "us-east-1") is None


def test_a_token_is_answered_while_another_execution_waits_its_turn() -> None:
    import threading

    from sre_copilot.local.moto_patches import ExecutionActivity, executions_in_turn

    # Given executions that move one at a time, one of them parked on its task token
    registry = InProcessLambdas()
    tokens: list[str] = []
    activity = ExecutionActivity(threading.Condition())
    with mock_aws(config=MOTO_CONFIG), in_process_lambda(registry), executions_in_turn(activity):  # type: ignore[arg-type]
        role = boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        park = lambda_function("park", role)
        registry.register("park", lambda event, ctx: tokens.append(event["token"]))
        definition = {"StartAt": "Park", "States": {"Park": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "End": True,
            "Parameters": {"FunctionName": park, "Payload": {"token.$": "$$.Task.Token"}}, "ResultPath": "$.wake"}}}
        sfn = boto3.client("stepfunctions")
        # (moto looks for a token machine by machine: the waiting one's is listed first)
        waiting = sfn.create_state_machine(name="a", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
        machine = sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
        first = sfn.start_execution(stateMachineArn=machine, name="inc-1", input="{}")["executionArn"]
        wait_until(lambda: bool(tokens))
        # When, in one turn, a second execution is started (so it waits for the turn, not yet run)
        # and the first one's token is answered (a re-analysis, then a person's approval)
        with activity.turn():
            second = sfn.start_execution(stateMachineArn=waiting, name="inc-2", input="{}")["executionArn"]
            sfn.send_task_success(taskToken=tokens[0], output=json.dumps({"reason": "approved"}))
        # Then the answer reaches the first, and the second runs in its turn
        wait_until(lambda: sfn.describe_execution(executionArn=first)["status"] == "SUCCEEDED")
        wait_until(lambda: len(tokens) == 2)
        assert sfn.describe_execution(executionArn=second)["status"] == "RUNNING"
        # (and the mock closes only once the second has parked: see LocalDeployment.__exit__)
        wait_until(lambda: activity.busy == 0)
