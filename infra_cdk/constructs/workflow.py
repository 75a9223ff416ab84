"""The incident workflow: `statemachines/incident.asl.json` as a STANDARD state machine.

Each `${<State>FunctionArn}` placeholder in the ASL is substituted with the ARN of that step's
function; a placeholder without a function (or a function the ASL does not use) fails synthesis.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra_cdk.config import DeploymentConfig
from infra_cdk.constructs.functions import RETENTION
from sre_copilot.workflow_definition import task_functions

ASL_PATH = Path("statemachines") / "incident.asl.json"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
# ASL state -> function directory, read from the `${<State>FunctionArn}` placeholders themselves.
STEP_FUNCTIONS = task_functions((Path(__file__).resolve().parents[2] / ASL_PATH).read_text())


def state_machine_name(config: DeploymentConfig) -> str:
    return f"{config.prefix}-incident"


def state_machine_arn(stack: Stack, config: DeploymentConfig) -> str:
    """The ARN built from the fixed name: functions the workflow invokes can be given it without a
    CloudFormation dependency cycle (state machine -> function -> role policy -> state machine)."""
    return stack.format_arn(service="states", resource="stateMachine", resource_name=state_machine_name(config),
                            arn_format=ArnFormat.COLON_RESOURCE_NAME)


def execution_arns(stack: Stack, config: DeploymentConfig) -> str:
    """Every execution of the incident state machine (for states:DescribeExecution)."""
    return stack.format_arn(service="states", resource="execution", resource_name=f"{state_machine_name(config)}:*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME)


def asl_placeholders(asl_file: Path) -> set[str]:
    return set(PLACEHOLDER.findall(asl_file.read_text(encoding="utf-8")))


class Workflow(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, repo_root: Path,
                 key: kms.IKey, functions: Mapping[str, lambda_.IFunction], workflow_dlq: sqs.IQueue) -> None:
        super().__init__(scope, construct_id)
        asl_file = repo_root / ASL_PATH
        missing = sorted(name for name in task_functions(asl_file.read_text()).values() if name not in functions)
        if missing:
            raise ValueError(f"{ASL_PATH} calls functions that are not deployed: {missing}; add functions/<name>/ and "
                             "an entry in FUNCTIONS (infra_cdk/constructs/functions.py)")
        substitutions = {f"{state}FunctionArn": functions[name].function_arn
                         for state, name in task_functions(asl_file.read_text()).items()}
        placeholders = asl_placeholders(asl_file)
        if placeholders != set(substitutions):
            raise ValueError(
                f"{ASL_PATH} placeholders and the workflow's functions differ: missing functions for "
                f"{sorted(placeholders - set(substitutions))}, unused functions {sorted(set(substitutions) - placeholders)}"
                "; only ${<State>FunctionArn} placeholders are substituted")

        self.log_group = logs.LogGroup(
            self, "Logs",
            log_group_name=f"/aws/vendedlogs/states/{state_machine_name(config)}",
            retention=RETENTION[config.log_retention_days],
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
                             description=f"SRE Copilot incident workflow ({config.environment})")
        # Exactly the step functions, unqualified, as the ASL names them.
        self.role.add_to_policy(iam.PolicyStatement(
            sid="InvokeWorkflowSteps",
            actions=["lambda:InvokeFunction"],
            resources=[functions[name].function_arn for name in STEP_FUNCTIONS.values()],
        ))
        self.state_machine = sfn.StateMachine(
            self, "StateMachine",
            state_machine_name=state_machine_name(config),
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_file(str(asl_file)),
            definition_substitutions=substitutions,
            role=self.role,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )

        # Executions that end badly without RecordFailure having run (timeouts, aborts, a failing
        # RecordFailure) are still captured, with the execution's input, for replay.
        self.failures_to_dlq = events.Rule(
            self, "FailedExecutionsToDlq",
            description="Failed, timed-out and aborted incident workflow executions",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={"status": ["FAILED", "TIMED_OUT", "ABORTED"],
                        "stateMachineArn": [self.state_machine.state_machine_arn]},
            ),
            targets=[targets.SqsQueue(workflow_dlq)],
        )
