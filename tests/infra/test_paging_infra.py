"""The paging state machine (statemachines/escalation.asl.json) as CDK deploys it."""

from __future__ import annotations

from typing import Any

from infra_synth import Synthesized
from infra_synth import arn as _arn
from infra_synth import ref as _ref

from infra_cdk.constructs.escalation import ESCALATION_FUNCTIONS


def _statements(synthesized: Synthesized, role_id: str) -> list[dict[str, Any]]:
    return [statement for policy in synthesized.resources("AWS::IAM::Policy").values()
            if _ref(role_id) in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]]


def test_paging_state_machine_is_standard_traced_logged_and_invokes_exactly_its_steps(
        synthesized: Synthesized) -> None:
    stack = synthesized.built.stack
    synthesized.template.has_resource_properties("AWS::StepFunctions::StateMachine", {
        "StateMachineName": "sre-copilot-prod-escalation", "StateMachineType": "STANDARD",
        "TracingConfiguration": {"Enabled": True},
        "LoggingConfiguration": {"Level": "ERROR", "IncludeExecutionData": True,
                                 "Destinations": [{"CloudWatchLogsLogGroup": {
                                     "LogGroupArn": _arn(synthesized.logical_id(stack.paging.log_group))}}]},
    })
    invoked = [r for s in _statements(synthesized, synthesized.logical_id(stack.paging.role))
               if "lambda:InvokeFunction" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
               for r in s["Resource"]]
    expected = [_arn(synthesized.logical_id(stack.functions[name].function)) for name in ESCALATION_FUNCTIONS.values()]
    assert sorted(map(str, invoked)) == sorted(map(str, expected))
    assert set(ESCALATION_FUNCTIONS.values()) == {"escalation_page", "escalation_next"}


def test_only_notify_may_start_paging_and_everyone_who_answers_pages_knows_its_arn(
        synthesized: Synthesized) -> None:
    stack = synthesized.built.stack
    starters = set()
    for name, f in stack.functions.items():
        for statement in _statements(synthesized, synthesized.logical_id(f.role)):
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if statement["Action"] == "states:StartExecution" and any(
                    "escalation" in str(r) for r in resources):
                starters.add(name)
    assert starters == {"notify"}
    functions = {n: f for n, f in stack.functions.items()}
    for name in ("notify", "callbacks", "pagerduty_sync", "approval_sweeper", "escalation_page"):
        resource = synthesized.resources("AWS::Lambda::Function")[synthesized.logical_id(functions[name].function)]
        arn = resource["Properties"]["Environment"]["Variables"]["SRE_COPILOT_ESCALATION_STATE_MACHINE_ARN"]
        assert arn["Fn::Join"][1][-1] == ":stateMachine:sre-copilot-prod-escalation"
