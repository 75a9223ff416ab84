"""The SRE Copilot stack: composes the capability constructs and wires each function's access.

The stack is environment-agnostic (no account/region): ARNs are built from CloudFormation pseudo
parameters, so `cdk synth` needs no AWS credentials.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from infra_cdk.config import DeploymentConfig
from infra_cdk.constructs.alarms import Alarms
from infra_cdk.constructs.api import HttpApi
from infra_cdk.constructs.audit import AuditTrail
from infra_cdk.constructs.encryption import Encryption
from infra_cdk.constructs.escalation import PagingWorkflow, escalation_state_machine_arn
from infra_cdk.constructs.events import Events
from infra_cdk.constructs.executors import ExecutorAccess
from infra_cdk.constructs.functions import FUNCTIONS, SreFunction, construct_id_for
from infra_cdk.constructs.layer import SharedLayer
from infra_cdk.constructs.monitoring import Monitoring
from infra_cdk.constructs.queues import Queues
from infra_cdk.constructs.raw_archive import RawArchive
from infra_cdk.constructs.read_api import ReadApi
from infra_cdk.constructs.search import VectorSearch
from infra_cdk.constructs.secrets import Secrets
from infra_cdk.constructs.storage import RAW_PREFIX, SNAPSHOTS_PREFIX, Storage
from infra_cdk.constructs.table_access import AUDIT_APPENDERS, AUDIT_READERS, IDEMPOTENCY_ACTIONS, TableGrants
from infra_cdk.constructs.workflow import (
    Workflow,
    analysis_state_machine_arn,
    execution_arns,
    state_machine_arn,
)
from infra_cdk.security import Controls, deny_audit_rewrites, wire_security

TASK_RESPONSE_ACTIONS = ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"]
METRIC_READ_ACTIONS = ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"]


class SreCopilotStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, repo_root: Path,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id,
                         description=f"SRE Copilot incident-response copilot ({config.environment})", **kwargs)
        self.config = config
        for tag, value in {"Project": "sre-copilot", "Environment": config.environment,
                           "Tenant": config.tenant_id}.items():
            Tags.of(self).add(tag, value)

        self.encryption = Encryption(self, "Encryption", config=config)
        key = self.encryption.key
        self.storage = Storage(self, "Storage", config=config, key=key)
        self.raw_archive = RawArchive(self, "RawArchive", config=config, bucket=self.storage.bucket,
                                      key=key)
        self.queues = Queues(self, "Queues", config=config, key=key)
        self.secrets = Secrets(self, "Secrets", config=config, key=key)
        self.controls = Controls(self, "Controls", config=config)
        self.shared_layer = SharedLayer(self, "SharedLayer", repo_root=repo_root)
        self.table_grants = TableGrants(self, "TableAccess", table=self.storage.table, key=key,
                                        tenant_id=config.tenant_id, served=tuple(config.tenants))

        functions_scope = Construct(self, "Functions")
        self.functions: dict[str, SreFunction] = {
            name: SreFunction(functions_scope, construct_id_for(name), name=name, spec=spec, config=config,
                              repo_root=repo_root, layers=self.shared_layer.layers_for(spec, config), key=key,
                              async_failures=self.queues.async_failures)
            for name, spec in FUNCTIONS.items()
        }
        function = {name: f.function for name, f in self.functions.items()}

        self.api = HttpApi(self, "HttpApi", config=config, key=key, ingest=function["ingest"],
                           callbacks=function["callbacks"])
        self.read_api = ReadApi(self, "ReadApi", config=config, api=self.api.api, function=function["api"])
        self.events = Events(self, "Events", config=config, key=key, ingest=function["ingest"],
                             pagerduty_sync=function["pagerduty_sync"],
                             approval_sweeper=function["approval_sweeper"],
                             anomaly_detector=function["anomaly_detector"],
                             async_failures=self.queues.async_failures)
        self.workflow = Workflow(self, "Workflow", config=config, repo_root=repo_root, key=key, functions=function,
                                 workflow_dlq=self.queues.workflow_dlq)
        self.audit = AuditTrail(self, "Audit", config=config, key=key, access_logs=self.storage.access_logs,
                                writer=function["audit_writer"], writer_role=self.functions["audit_writer"].role)
        self.audit.schedule_export(function["audit_export"], self.functions["audit_export"].role, key=key,
                                   state_machine_arn=state_machine_arn(self, config),
                                   async_failures=self.queues.async_failures)
        self.executor_access = ExecutorAccess(
            self, "ExecutorAccess", config=config,
            executors={n: (f.function, f.role) for n, f in self.functions.items() if f.spec.executes_actions},
            alarm_readers={"check_recovery": self.functions["check_recovery"].role})
        self.paging = PagingWorkflow(self, "Paging", config=config, repo_root=repo_root, key=key, functions=function)
        self.search: VectorSearch | None = None
        if config.enable_opensearch:
            self.search = VectorSearch(
                self, "VectorSearch", config=config, key=key,
                readers=[f.role for f in self.functions.values() if f.spec.vector_index == "read"],
                writers=[f.role for f in self.functions.values() if f.spec.vector_index == "write"])
        self.alarms = Alarms(self, "Alarms", config=config, key=key, priority_queues=self.queues.priority,
                             dead_letter_queues=self.queues.dead_letter_queues,
                             state_machine=self.workflow.state_machine)
        self.monitoring = Monitoring(self, "Monitoring", config=config, topic=self.alarms.topic, functions=function,
                                     state_machine=self.workflow.state_machine, priority_queues=self.queues.priority,
                                     dead_letter_queues=self.queues.dead_letter_queues, api=self.api.api,
                                     existing_alarms=self.alarms.alarms)

        self._consume_priority_queues()
        for sre_function in self.functions.values():
            self._wire(sre_function)
        self._outputs()

    # -- wiring -----------------------------------------------------------------------------------
    def _consume_priority_queues(self) -> None:
        """Seed 001's routing: P0 at once, P1 after the queue's delivery delay, P2 in five-minute
        batches, P3 in background batches with capped concurrency."""
        correlate = self.functions["correlate"].function
        for pq in self.queues.priority.values():
            route = pq.route
            correlate.add_event_source(event_sources.SqsEventSource(
                pq.queue,
                batch_size=route.batch_size,
                max_batching_window=Duration.seconds(route.batching_window_s) if route.batching_window_s else None,
                max_concurrency=route.max_concurrency,
                report_batch_item_failures=True,
            ))

    def _wire(self, f: SreFunction) -> None:
        config, spec, role = self.config, f.spec, f.role
        storage, queues = self.storage, self.queues
        env: dict[str, str] = {
            "SRE_COPILOT_TENANT_ID": config.tenant_id,
            "SRE_COPILOT_ENVIRONMENT": config.environment,
            "SRE_COPILOT_TABLE_NAME": storage.table.table_name,
            "SRE_COPILOT_BUCKET_NAME": storage.bucket.bucket_name,
            "SRE_COPILOT_EVENT_BUS_NAME": self.events.bus.event_bus_name,
            "SRE_COPILOT_DRY_RUN": str(config.dry_run).lower(),
            "SRE_COPILOT_APPROVAL_TIMEOUT_S": str(config.approval_timeout_s),
            "SRE_COPILOT_APPROVAL_EXPIRY_S": str(config.approval_expiry_s),
            "SRE_COPILOT_AUTO_RESOLVE_AFTER_S": str(config.auto_resolve_after_s),
            "SRE_COPILOT_REANALYSIS_SETTLE_S": str(config.reanalysis_settle_s),
            "SRE_COPILOT_REANALYSIS_MAX_INTERVAL_S": str(config.reanalysis_max_interval_s),
            "SRE_COPILOT_RESOLUTION_POLICY": config.resolution_policy,
        }
        if config.confidence_calibration:
            env["SRE_COPILOT_CONFIDENCE_CALIBRATION"] = json.dumps(config.confidence_calibration, sort_keys=True,
                                                                   separators=(",", ":"))
        wire_security(self, f, env)
        if config.catalog_uri:
            env["SRE_COPILOT_CATALOG_URI"] = config.catalog_uri
        if config.tenants:  # multi-tenant ingestion (ingest/tenant_keys.py)
            env["SRE_COPILOT_SERVED_TENANTS"] = ",".join(config.tenants)
        if config.aws_source_tenants and f.name == "ingest":  # EventBridge/SNS (ingest/aws_origin_tenants.py)
            env["SRE_COPILOT_AWS_SOURCE_TENANTS"] = ",".join(
                f"{origin}={tenant}" for origin, tenant in sorted(config.aws_source_tenants.items()))
        if config.slack_channel_tenants and f.name == "callbacks":  # `/sre` (services/tenancy.py)
            env["SRE_COPILOT_SLACK_CHANNEL_TENANTS"] = ",".join(
                f"{channel}={tenant}" for channel, tenant in sorted(config.slack_channel_tenants.items()))
        self.table_grants.grant(f.name, role)  # least privilege per function (constructs/table_access.py)
        deny_audit_rewrites(role, storage.table, config)
        env["SRE_COPILOT_AUDIT_TABLE_NAME"] = self.audit.table.table_name
        if f.name == "audit_export":
            env["SRE_COPILOT_AUDIT_BUCKET_NAME"] = self.audit.bucket.bucket_name
            env["SRE_COPILOT_AUDIT_RETENTION_DAYS"] = str(config.audit_retention_days)
        elif f.name == "audit_writer":
            self.audit.grant_writer(role)
        elif f.name not in AUDIT_APPENDERS:
            self.audit.deny_rewrites(role)
        else:
            self.audit.grant_append(role, read=f.name in AUDIT_READERS,
                                    partitions=["TENANT#*#AUDIT#*"] if f.name == "api" else
                                    [f"TENANT#{t}#AUDIT#*" for t in sorted({config.tenant_id, *config.tenants})])
            env["SRE_COPILOT_AUDIT_WRITER_FUNCTION"] = self.audit.writer.function_name

        if spec.reads:
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[storage.bucket.arn_for_objects(f"{p}*") for p in spec.reads]))
        if spec.writes:
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[storage.bucket.arn_for_objects(f"{p}*") for p in spec.writes]))
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["kms:GenerateDataKey"], resources=[self.encryption.key.key_arn]))
            if RAW_PREFIX in spec.writes:  # raw deliveries go to S3 in batches, through Firehose
                self.raw_archive.stream.grant_put_records(role)
                env["SRE_COPILOT_RAW_ARCHIVE_STREAM"] = self.raw_archive.stream.delivery_stream_name
            if SNAPSHOTS_PREFIX in spec.writes:
                # Spilled correlation state replaces and deletes its previous object.
                role.add_to_principal_policy(iam.PolicyStatement(
                    actions=["s3:DeleteObject"], resources=[storage.bucket.arn_for_objects(f"{SNAPSHOTS_PREFIX}*")]))
        if spec.idempotency:
            role.add_to_principal_policy(iam.PolicyStatement(  # what Powertools Idempotency calls, no Scan
                actions=IDEMPOTENCY_ACTIONS, resources=[storage.idempotency_table.table_arn]))
            env["SRE_COPILOT_IDEMPOTENCY_TABLE_NAME"] = storage.idempotency_table.table_name
        if spec.enqueues_signals:
            for priority, pq in queues.priority.items():
                pq.queue.grant_send_messages(role)
                env[f"SRE_COPILOT_QUEUE_URL_{priority}"] = pq.queue.queue_url
        if spec.sends_to_review:
            queues.review.grant_send_messages(role)
            env["SRE_COPILOT_REVIEW_QUEUE_URL"] = queues.review.queue_url
        if spec.publishes_lifecycle:
            self.events.bus.grant_put_events_to(role)
        if spec.knows_state_machine or spec.starts_paging:
            # Both built from their fixed names: no dependency cycle even for workflow steps (Notify
            # starts paging and links the card to its execution).
            env["SRE_COPILOT_STATE_MACHINE_ARN"] = state_machine_arn(self, config)
            env["SRE_COPILOT_ESCALATION_STATE_MACHINE_ARN"] = escalation_state_machine_arn(self, config)
        if spec.starts_paging:
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[escalation_state_machine_arn(self, config)]))
        if spec.starts_workflow:
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[state_machine_arn(self, config)]))
            # Resolution asks whether the incident's execution still runs (services/resolution.py).
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["states:DescribeExecution"], resources=[execution_arns(self, config)]))
        if spec.starts_analysis:
            # A re-analysis runs as its own Express execution holding the parked token
            # (services/reanalysis.py); built from its name, as the ARNs above.
            env["SRE_COPILOT_ANALYSIS_STATE_MACHINE_ARN"] = analysis_state_machine_arn(self, config)
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[analysis_state_machine_arn(self, config)]))
        if spec.answers_task_tokens:
            # SendTask* accept no resource-level scoping; the task token names the execution.
            role.add_to_principal_policy(iam.PolicyStatement(actions=TASK_RESPONSE_ACTIONS, resources=["*"]))
        if spec.reads_metrics:
            role.add_to_principal_policy(iam.PolicyStatement(actions=METRIC_READ_ACTIONS, resources=["*"]))
        for name in spec.secrets:
            self._grant_secret(f, name, env)
        if spec.knows_llm:
            env["SRE_COPILOT_LLM_PROVIDER"] = config.llm_provider
        if spec.llm:
            env["SRE_COPILOT_LLM_PROVIDER"] = config.llm_provider
            env["SRE_COPILOT_LLM_MODEL"] = config.llm_model
            if config.llm_provider == "anthropic":
                self._grant_secret(f, "llm", env)
            elif config.llm_provider == "bedrock":
                role.add_to_principal_policy(iam.PolicyStatement(
                    actions=["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
                    resources=[f"arn:{Aws.PARTITION}:bedrock:*::foundation-model/anthropic.*",
                               f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}:{Aws.ACCOUNT_ID}:inference-profile/*"]))
        if spec.vector_index != "none" and self.search is not None:
            env["SRE_COPILOT_OPENSEARCH_ENDPOINT"] = self.search.endpoint
            # Runbooks, incident texts and queries are embedded with Titan Text Embeddings V2.
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["bedrock:InvokeModel"],
                resources=[f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/amazon.titan-embed-text-v2:0"]))
        if spec.executes_actions and config.kubernetes_api_url:
            env["SRE_COPILOT_KUBERNETES_API_URL"] = config.kubernetes_api_url
        if spec.public_url:
            env["SRE_COPILOT_PUBLIC_BASE_URL"] = config.public_base_url or self.api.url
        f.add_environment(env)

    def _grant_secret(self, f: SreFunction, name: str, env: dict[str, str]) -> None:
        secret = self.secrets.by_name[name]
        secret.grant_read(f.role)
        env[f"SRE_COPILOT_{name.upper()}_SECRET_ARN"] = secret.secret_arn

    def _outputs(self) -> None:
        outputs = {
            "ApiUrl": (self.api.url, "Base URL of the webhook and callback routes"),
            "StateMachineArn": (self.workflow.state_machine.state_machine_arn, "Incident workflow"),
            "TableName": (self.storage.table.table_name, "Single-table store"),
            "BucketName": (self.storage.bucket.bucket_name, "Artifacts: catalog/, raw/, review/, incidents/, postmortems/"),
            "EventBusName": (self.events.bus.event_bus_name, "Incident lifecycle events"),
            "AlarmSignalsTopicArn": (self.events.alarm_topic.topic_arn, "SNS topic CloudWatch alarms may notify"),
            "AlarmTopicArn": (self.alarms.topic.topic_arn, "Operational alarms"),
            "ReviewQueueUrl": (self.queues.review.queue_url, "Rejected deliveries and workflow failures"),
            "AuditTableName": (self.audit.table.table_name, "Append-only audit trail"),
            "AuditExportBucketName": (self.audit.bucket.bucket_name, "Daily audit export under Object Lock"),
        }
        if self.search is not None:
            outputs["OpenSearchEndpoint"] = (self.search.endpoint, "Vector collection endpoint")
        for name, secret in self.secrets.by_name.items():
            outputs[f"{construct_id_for(name)}SecretName"] = (secret.secret_name, f"Fill with the {name} credentials")
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)
