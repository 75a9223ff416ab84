"""The incident workflow: `statemachines/incident.asl.json` as a STANDARD state machine, and the
analysis pass it runs per (re-)analysis, `statemachines/analysis.asl.json`, as an EXPRESS one.

A standard workflow bills every state transition; an incident in an alert storm is re-analysed
several times, each pass seven steps. Run as an Express child
(`states:startExecution.waitForTaskToken`) that ends by parking the parent's task token, a pass and
the wait after it are one state of the parent, and the child bills per request and duration
(`docs/cost.md`).

Each `${<State>FunctionArn}` placeholder in the ASL is substituted with the ARN of that step's
function, and `${AnalysisStateMachineArn}` with the child's; a placeholder without a function (or a
function the ASL does not use) fails synthesis.
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
from sre_copilot.workflow_definition import ANALYSIS_ASL, INCIDENT_ASL, task_functions, workflow_functions

ASL_PATH = INCIDENT_ASL
ANALYSIS_ASL_PATH = ANALYSIS_ASL
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
# ASL state -> function directory, read from the `${<State>FunctionArn}` placeholders of both files.
STEP_FUNCTIONS = workflow_functions(Path(__file__).resolve().parents[2])
ANALYSIS_STEPS = task_functions((Path(__file__).resolve().parents[2] / ANALYSIS_ASL).read_text())


def state_machine_name(config: DeploymentConfig) -> str:
    return f"{config.prefix}-incident"


def state_machine_arn(stack: Stack, config: DeploymentConfig) -> str:
    """The ARN built from the fixed name: functions the workflow invokes can be given it without a
    CloudFormation dependency cycle (state machine -> function -> role policy -> state machine)."""
    return stack.format_arn(service="states", resource="stateMachine", resource_name=state_machine_name(config),
                            arn_format=ArnFormat.COLON_RESOURCE_NAME)


def analysis_state_machine_name(config: DeploymentConfig) -> str:
    return f"{config.prefix}-analysis"


def analysis_state_machine_arn(stack: Stack, config: DeploymentConfig) -> str:
    """As `state_machine_arn`, for the analysis pass a re-analysis starts directly."""
    return stack.format_arn(service="states", resource="stateMachine",
                            resource_name=analysis_state_machine_name(config), arn_format=ArnFormat.COLON_RESOURCE_NAME)


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
        analysis_file = repo_root / ANALYSIS_ASL_PATH
        missing = sorted(name for name in STEP_FUNCTIONS.values() if name not in functions)
        if missing:
            raise ValueError(f"{ASL_PATH} and {ANALYSIS_ASL_PATH} call functions that are not deployed: {missing}; "
                             "add functions/<name>/ and an entry in FUNCTIONS (infra_cdk/constructs/functions.py)")
        analysis_substitutions = {f"{state}FunctionArn": functions[name].function_arn
                                  for state, name in task_functions(analysis_file.read_text()).items()}
        _check_placeholders(analysis_file, analysis_substitutions)

        retain = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        self.analysis_log_group = logs.LogGroup(
            self, "AnalysisLogs",
            log_group_name=f"/aws/vendedlogs/states/{analysis_state_machine_name(config)}",
            retention=RETENTION[config.log_retention_days], encryption_key=key, removal_policy=retain,
        )
        self.analysis_role = iam.Role(self, "AnalysisRole", assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
                                      description=f"SRE Copilot analysis pass ({config.environment})")
        self.analysis_role.add_to_policy(iam.PolicyStatement(
            sid="InvokeAnalysisSteps",
            actions=["lambda:InvokeFunction"],
            resources=[functions[name].function_arn for name in ANALYSIS_STEPS.values()],
        ))
        # A failed step fails the parent's Analyse task (ReportFailure); the parent's ARN is built from
        # its name, since the parent's definition names this machine (no dependency cycle).
        self.analysis_role.add_to_policy(iam.PolicyStatement(
            sid="FailParentTask", actions=["states:SendTaskFailure"],
            resources=[state_machine_arn(Stack.of(self), config)]))
        # Express keeps no execution history: its events go to the log group. Every state's event
        # is logged (the console lists the pass's states and timings from them) without the state
        # data, which the parent's Analyse task already records as its output.
        self.analysis = _state_machine(
            self, "AnalysisStateMachine", name=analysis_state_machine_name(config),
            kind=sfn.StateMachineType.EXPRESS, asl_file=analysis_file, substitutions=analysis_substitutions,
            role=self.analysis_role, logs=sfn.LogOptions(destination=self.analysis_log_group, level=sfn.LogLevel.ALL,
                                                         include_execution_data=False))

        substitutions = {f"{state}FunctionArn": functions[name].function_arn
                         for state, name in task_functions(asl_file.read_text()).items()}
        substitutions["AnalysisStateMachineArn"] = self.analysis.state_machine_arn
        _check_placeholders(asl_file, substitutions)

        self.log_group = logs.LogGroup(
            self, "Logs",
            log_group_name=f"/aws/vendedlogs/states/{state_machine_name(config)}",
            retention=RETENTION[config.log_retention_days],
            encryption_key=key,
            removal_policy=retain,
        )
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
                             description=f"SRE Copilot incident workflow ({config.environment})")
        parent_steps = task_functions(asl_file.read_text()).values()
        # Exactly the step functions, unqualified, as the ASL names them.
        self.role.add_to_policy(iam.PolicyStatement(
            sid="InvokeWorkflowSteps",
            actions=["lambda:InvokeFunction"],
            resources=[functions[name].function_arn for name in parent_steps],
        ))
        # What `states:startExecution.waitForTaskToken` needs: start the child, which answers the
        # task token itself (its AwaitDecision, or ReportFailure), so nothing follows the child.
        self.role.add_to_policy(iam.PolicyStatement(
            sid="RunAnalysisPass", actions=["states:StartExecution"], resources=[self.analysis.state_machine_arn]))
        self.state_machine = _state_machine(
            self, "StateMachine", name=state_machine_name(config), kind=sfn.StateMachineType.STANDARD,
            asl_file=asl_file, substitutions=substitutions, role=self.role,
            # Failures with their data; the full history is the console's and the audit export's.
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel[config.workflow_log_level],
                                include_execution_data=True))

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


def _check_placeholders(asl_file: Path, substitutions: Mapping[str, object]) -> None:
    placeholders = asl_placeholders(asl_file)
    if placeholders != set(substitutions):
        raise ValueError(
            f"{asl_file.name} placeholders and the workflow's substitutions differ: missing "
            f"{sorted(placeholders - set(substitutions))}, unused {sorted(set(substitutions) - placeholders)}"
            "; only ${<State>FunctionArn} and ${AnalysisStateMachineArn} placeholders are substituted")


def _state_machine(scope: Construct, construct_id: str, *, name: str, kind: sfn.StateMachineType, asl_file: Path,
                   substitutions: Mapping[str, str], role: iam.IRole, logs: sfn.LogOptions) -> sfn.StateMachine:
    """A traced state machine deployed from its ASL file, as the local runtime runs the same file."""
    return sfn.StateMachine(scope, construct_id, state_machine_name=name, state_machine_type=kind,
                            definition_body=sfn.DefinitionBody.from_file(str(asl_file)),
                            definition_substitutions=dict(substitutions), role=role, tracing_enabled=True, logs=logs)
