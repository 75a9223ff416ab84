"""Every Lambda function: one per ASL step plus the edge, correlation and background functions.

`FUNCTIONS` is the access matrix: what each function touches, derived from the calls its service
makes (`sre_copilot/services/*.py`). `infra_cdk.stack` turns it into IAM grants and environment
variables, so least privilege is reviewed in one table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra_cdk.config import FUNCTION_NAMES, DeploymentConfig, FunctionName
from infra_cdk.constructs.layer import ARCHITECTURE, RUNTIME
from infra_cdk.constructs.storage import (
    BASELINES_PREFIX,
    CATALOG_PREFIX,
    INCIDENTS_PREFIX,
    POSTMORTEMS_PREFIX,
    RAW_PREFIX,
    REVIEW_PREFIX,
    SNAPSHOTS_PREFIX,
)

SERVICE_NAME = "sre-copilot"
METRICS_NAMESPACE = "SreCopilot"

RETENTION = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS, 5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK, 14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS, 120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS, 180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS, 545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS, 1096: logs.RetentionDays.THREE_YEARS, 1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS, 2557: logs.RetentionDays.SEVEN_YEARS, 2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS, 3653: logs.RetentionDays.TEN_YEARS,
}


@dataclass(frozen=True)
class FunctionSpec:
    description: str
    reads: tuple[str, ...] = (CATALOG_PREFIX,)
    """Bucket prefixes read (the service catalog is read by everything that resolves services)."""
    writes: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    publishes_lifecycle: bool = False
    """Moves incidents through the lifecycle, which publishes on the custom bus."""
    enqueues_signals: bool = False
    sends_to_review: bool = False
    starts_workflow: bool = False
    answers_task_tokens: bool = False
    starts_analysis: bool = False
    """Starts re-analysis passes directly (the sweeper's refresh, a hypothesis verdict's re-score)."""
    knows_state_machine: bool = False
    """Gets SRE_COPILOT_STATE_MACHINE_ARN (never an ASL step: that would be a dependency cycle)."""
    reads_metrics: bool = False
    vector_index: Literal["none", "read", "write"] = "none"
    idempotency: bool = False
    llm: bool = False
    knows_llm: bool = False  # told whether an LLM is configured (llm_provider), without its credentials
    public_url: bool = False
    executes_actions: bool = False
    """Talks to the Kubernetes API server (SRE_COPILOT_KUBERNETES_API_URL)."""
    invoked_async: bool = False
    """Invoked by EventBridge/SNS/schedules: failures after Lambda's retries go to the async DLQ."""
    reads_controls: bool = False
    """Reads the run-time controls (kill switch, freezes, approvers) from SSM Parameter Store."""
    starts_paging: bool = False
    """Starts the paging execution (statemachines/escalation.asl.json) of a paged incident."""


FUNCTIONS: dict[str, FunctionSpec] = {
    "ingest": FunctionSpec(
        "Webhooks, /changes, CloudWatch alarm and deployment events, SNS: normalise, dedupe, enqueue",
        # Internet-facing: only the verification secrets (webhook), never an API token.
        writes=(RAW_PREFIX, REVIEW_PREFIX), secrets=("webhook",), enqueues_signals=True,
        sends_to_review=True, idempotency=True, invoked_async=True),
    "correlate": FunctionSpec(
        "Consumes the priority queues: groups signals into incidents and starts their workflows",
        # Correlation state above DynamoDB's item size spills to snapshots/.
        reads=(CATALOG_PREFIX, SNAPSHOTS_PREFIX), writes=(SNAPSHOTS_PREFIX,), publishes_lifecycle=True, starts_workflow=True, answers_task_tokens=True, knows_state_machine=True),
    "assemble_context": FunctionSpec(
        "ASL AssembleContext: immutable context snapshot to S3",
        writes=(INCIDENTS_PREFIX,), publishes_lifecycle=True, reads_metrics=True),
    "aggregate_evidence": FunctionSpec(
        "ASL AggregateEvidence: temporal correlation, precedents, signal strength",
        # SNAPSHOTS_PREFIX: the correlation state (its alert history) when it spilled to S3.
        reads=(CATALOG_PREFIX, INCIDENTS_PREFIX, SNAPSHOTS_PREFIX), writes=(INCIDENTS_PREFIX,), vector_index="read"),
    "generate_hypotheses": FunctionSpec(
        "ASL GenerateHypotheses: deterministic generators plus grounded LLM candidates",
        reads=(CATALOG_PREFIX, INCIDENTS_PREFIX), writes=(INCIDENTS_PREFIX,), llm=True),
    "score_confidence": FunctionSpec(
        "ASL ScoreConfidence: multi-factor confidence with per-factor breakdown",
        reads=(CATALOG_PREFIX, INCIDENTS_PREFIX)),
    "apply_policy": FunctionSpec(
        "ASL ApplyPolicy: present / auto_ack / inconclusive / needs_human",
        reads=(CATALOG_PREFIX, INCIDENTS_PREFIX), publishes_lifecycle=True),
    "recommend": FunctionSpec(
        "ASL Recommend: runbook search and a gated remediation plan",
        # Writes too: the starter runbooks are indexed on first use.
        reads=(CATALOG_PREFIX, INCIDENTS_PREFIX), vector_index="write", reads_controls=True),
    "notify": FunctionSpec(
        "ASL Notify: the living Slack card, starts paging for P0/P1, PagerDuty note on material change",
        reads=(CATALOG_PREFIX, INCIDENTS_PREFIX), secrets=("slack", "twilio", "pagerduty"), public_url=True,
        starts_paging=True),
    "await_decision": FunctionSpec(
        "ASL AwaitDecision: parks the task token until approval, new evidence or timeout",
        reads=(), answers_task_tokens=True, starts_analysis=True),
    "act": FunctionSpec("ASL Act: runs the approved plan through the safety gates", publishes_lifecycle=True,
                        executes_actions=True, reads_controls=True),
    "verify": FunctionSpec(
        "ASL Verify: checks the plan's verification criteria against live metrics",
        publishes_lifecycle=True, reads_metrics=True, executes_actions=True),
    "check_recovery": FunctionSpec(
        "ASL CheckRecovery: the plan's alarms and alerts cleared within its verification window?",
        publishes_lifecycle=True, reads_metrics=True),
    "rollback": FunctionSpec(
        "ASL Rollback: the plan's rollback strategy, its verification, then escalation to a human",
        secrets=("slack", "twilio"), public_url=True, executes_actions=True),
    "document": FunctionSpec(
        "ASL Document: postmortem draft (optional LLM prose), lifecycle to LEARNED, validated precedent indexed",
        reads=(CATALOG_PREFIX, INCIDENTS_PREFIX), writes=(POSTMORTEMS_PREFIX,), secrets=("slack",),
        publishes_lifecycle=True, vector_index="write", llm=True),
    "record_failure": FunctionSpec(
        "ASL RecordFailure: audits a failed step and sends it to the review queue",
        reads=(), sends_to_review=True),
    "audit_export": FunctionSpec(
        "Daily: the audit records and execution histories of the day before, to the Object Lock bucket",
        reads=(), knows_state_machine=True, invoked_async=True),
    "audit_writer": FunctionSpec(
        "Appends audit records for every other function: the only role with PutItem on the audit table",
        reads=()),
    "callbacks": FunctionSpec(
        "Slack interactivity and Twilio voice keypresses: approvals and acknowledgements",
        # Internet-facing: webhook (Slack signing secret), twilio (its auth token is also what Twilio
        # signs with) and slack (bot token, to resolve approver user groups); no PagerDuty token.
        # knows_llm: `/sre ask` hands the question to pagerduty_sync for LLM prose only when one is configured.
        secrets=("webhook", "twilio", "slack"), publishes_lifecycle=True, answers_task_tokens=True,
        knows_state_machine=True, public_url=True, reads_controls=True, knows_llm=True, starts_analysis=True),
    "approval_sweeper": FunctionSpec(
        "Every minute: times out pending approvals, runs duration-based correlation opens, resolves "
        "incidents whose signals stayed clear (asking in Slack under resolution_policy=propose)",
        secrets=("slack",),
        reads=(CATALOG_PREFIX, SNAPSHOTS_PREFIX), writes=(SNAPSHOTS_PREFIX,), publishes_lifecycle=True, starts_workflow=True, answers_task_tokens=True, knows_state_machine=True,
        starts_analysis=True, invoked_async=True),
    "anomaly_detector": FunctionSpec(
        "Every 5 minutes: seasonal baselines, anomaly scoring, capacity forecasts; findings become signals",
        reads=(CATALOG_PREFIX, BASELINES_PREFIX), writes=(BASELINES_PREFIX, RAW_PREFIX, REVIEW_PREFIX),
        enqueues_signals=True, sends_to_review=True, idempotency=True, reads_metrics=True, invoked_async=True),
    "pagerduty_sync": FunctionSpec(
        "Lifecycle transitions: stops paging, edits the Slack card, mirrors into PagerDuty; /sre ask's LLM answer",
        secrets=("pagerduty", "slack"), answers_task_tokens=True, knows_state_machine=True, invoked_async=True,
        llm=True),
    "escalation_page": FunctionSpec(
        "Paging PageLevel: calls a level's people (SMS if a call fails), parks the token until its timeout",
        secrets=("twilio", "slack"), answers_task_tokens=True, knows_state_machine=True, public_url=True),
    "escalation_next": FunctionSpec(
        "Paging NextLevel, after a failed level or its backstop timeout: picks the next level, round, or gives up",
        secrets=("twilio", "slack"), knows_state_machine=True),
    "api": FunctionSpec(
        "Read API behind the JWT authorizer: incidents, hypotheses, timelines, postmortems, history",
        # Acknowledging moves the lifecycle; approving resumes the parked execution. Postmortems (and a
        # draft's context and evidence, and the catalog) are read from the bucket.
        reads=(CATALOG_PREFIX, INCIDENTS_PREFIX, POSTMORTEMS_PREFIX), publishes_lifecycle=True,
        answers_task_tokens=True),
}
assert set(FUNCTIONS) == set(FUNCTION_NAMES), "FUNCTIONS and config.FunctionName must list the same functions"


def construct_id_for(name: str) -> str:
    """`approval_sweeper` -> `ApprovalSweeper`: the function's construct id below `Functions/`."""
    return "".join(part.capitalize() for part in name.split("_"))


class SreFunction(Construct):
    """A function with its own role (no managed policies), KMS-encrypted log group and environment."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, spec: FunctionSpec,
                 config: DeploymentConfig, repo_root: Path, layers: list[lambda_.ILayerVersion], key: kms.IKey,
                 async_failures: sqs.IQueue) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        self.spec = spec
        function_name = f"{config.prefix}-{name.replace('_', '-')}"
        self.role = iam.Role(
            self, "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"SRE Copilot {name} ({config.environment})",
        )
        self.log_group = logs.LogGroup(
            self, "Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=RETENTION[config.log_retention_days],
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self, "Function",
            function_name=function_name,
            description=spec.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(repo_root / "functions" / name),
                                         exclude=["__pycache__", "*.pyc", "tests"]),
            layers=layers,
            role=self.role,
            memory_size=config.memory_for(name),
            timeout=Duration.seconds(config.timeout_for(name)),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            environment_encryption=key,
            reserved_concurrent_executions=config.reserved_concurrency.get(cast(FunctionName, name)),
            environment={
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "LOG_LEVEL": "INFO",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                # No pydantic plugin ships; without this, building the first model scans every
                # installed distribution's entry points at each cold start (benchmarks/bench_cold_start.py).
                "PYDANTIC_DISABLE_PLUGINS": "__all__",
            },
            on_failure=destinations.SqsDestination(async_failures) if spec.invoked_async else None,
            retry_attempts=2 if spec.invoked_async else None,
            max_event_age=Duration.hours(6) if spec.invoked_async else None,
        )
        # Lambda decrypts the CMK-encrypted environment with the execution role's permissions.
        key.grant_decrypt(self.role)

    def add_environment(self, values: dict[str, str]) -> None:
        for variable, value in values.items():
            self.function.add_environment(variable, value)
