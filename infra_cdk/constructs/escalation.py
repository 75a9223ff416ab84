"""Paging and escalation: `statemachines/escalation.asl.json` as its own STANDARD state machine.

One execution per paged incident (`page-<incident id>`), started by the Notify step, beside the
incident workflow: waiting for someone to acknowledge never holds up analysis or approvals. Its
`${<State>FunctionArn}` placeholders are substituted as the incident workflow's are.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra_cdk.config import DeploymentConfig
from infra_cdk.constructs.functions import RETENTION
from sre_copilot.workflow_definition import task_functions

ESCALATION_ASL_PATH = Path("statemachines") / "escalation.asl.json"
ESCALATION_FUNCTIONS = task_functions((Path(__file__).resolve().parents[2] / ESCALATION_ASL_PATH).read_text())


def escalation_state_machine_name(config: DeploymentConfig) -> str:
    return f"{config.prefix}-escalation"


def escalation_state_machine_arn(stack: Stack, config: DeploymentConfig) -> str:
    """Built from the fixed name, so Notify and the callbacks can be given it without a cycle."""
    return stack.format_arn(service="states", resource="stateMachine",
                            resource_name=escalation_state_machine_name(config),
                            arn_format=ArnFormat.COLON_RESOURCE_NAME)


class PagingWorkflow(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, repo_root: Path,
                 key: kms.IKey, functions: Mapping[str, lambda_.IFunction]) -> None:
        super().__init__(scope, construct_id)
        asl_file = repo_root / ESCALATION_ASL_PATH
        steps = task_functions(asl_file.read_text())
        missing = sorted(name for name in steps.values() if name not in functions)
        if missing:
            raise ValueError(f"{ESCALATION_ASL_PATH} calls functions that are not deployed: {missing}")
        self.log_group = logs.LogGroup(
            self, "Logs",
            log_group_name=f"/aws/vendedlogs/states/{escalation_state_machine_name(config)}",
            retention=RETENTION[config.log_retention_days],
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
                             description=f"SRE Copilot paging and escalation ({config.environment})")
        self.role.add_to_policy(iam.PolicyStatement(
            sid="InvokePagingSteps", actions=["lambda:InvokeFunction"],
            resources=[functions[name].function_arn for name in steps.values()]))
        self.state_machine = sfn.StateMachine(
            self, "StateMachine",
            state_machine_name=escalation_state_machine_name(config),
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_file(str(asl_file)),
            definition_substitutions={f"{state}FunctionArn": functions[name].function_arn
                                      for state, name in steps.items()},
            role=self.role,
            tracing_enabled=True,
            # Failures with their data; the full history is the console's and the audit export's.
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel[config.workflow_log_level],
                                include_execution_data=True),
        )
