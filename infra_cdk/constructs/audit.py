"""The tamper-proof audit: an append-only table and a daily export to an Object Lock bucket.

- The audit table is written only by the `audit_writer` function, with a conditional PutItem under a
  key it chooses (every record a new key). IAM cannot require that condition of a caller, so no other
  role holds PutItem there: runtime roles may invoke the writer and, where they read the trail,
  Query; each carries an explicit Deny of PutItem and of every call that could change or remove a
  record (UpdateItem, DeleteItem, BatchWriteItem, PartiQL writes). The table's resource policy denies
  those calls to every principal, and PutItem to every principal but the writer's role, so not even an
  administrator edits a record without first replacing the policy (itself a logged CloudTrail event).
- Every day the audit_export function writes the previous day's records and the Step Functions
  execution histories to a bucket with Object Lock in compliance mode (retention from
  `audit_retention_days`, default 400): no one, root included, can delete or overwrite them early.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra_cdk.config import DeploymentConfig
from sre_copilot.services.audit_export import AUDIT_DAY_INDEX

TAMPERING_ACTIONS = ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                     "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete", "dynamodb:PartiQLInsert",
                     "dynamodb:UpdateTimeToLive", "dynamodb:RestoreTableFromBackup", "dynamodb:ImportTable"]


class AuditTrail(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, key: kms.IKey,
                 access_logs: s3.IBucket, writer: lambda_.IFunction, writer_role: iam.IRole) -> None:
        super().__init__(scope, construct_id)
        self.writer = writer
        self.table = dynamodb.Table(
            self, "Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            # No TTL: records never expire from the table; the export keeps a locked copy.
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
            resource_policy=iam.PolicyDocument(statements=[
                iam.PolicyStatement(sid="AuditIsAppendOnly", effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()],
                                    actions=TAMPERING_ACTIONS, resources=["*"]),
                iam.PolicyStatement(sid="OnlyTheWriterAppends", effect=iam.Effect.DENY,
                                    principals=[iam.AnyPrincipal()], actions=["dynamodb:PutItem"], resources=["*"],
                                    conditions={"ArnNotEquals": {"aws:PrincipalArn": writer_role.role_arn}})]),
        )
        self.table.add_global_secondary_index(
            index_name=AUDIT_DAY_INDEX,
            partition_key=dynamodb.Attribute(name="audit_day", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.bucket = s3.Bucket(
            self, "Export",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.compliance(Duration.days(config.audit_retention_days)),
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="audit-export/",
            removal_policy=RemovalPolicy.RETAIN,
        )

    # -- grants -----------------------------------------------------------------------------------
    def grant_writer(self, role: iam.IRole) -> None:
        """The writer's role: PutItem (its code always writes a new key, conditionally), nothing else."""
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["dynamodb:PutItem"], resources=[self.table.table_arn],
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["TENANT#*#AUDIT#*"]},
                        "Null": {"dynamodb:LeadingKeys": "false"}}))
        self._deny(role, TAMPERING_ACTIONS)

    def grant_append(self, role: iam.IRole, *, read: bool, partitions: list[str]) -> None:
        """Append through the writer, and Query where the trail is read, on audit partitions only
        (`partitions`, `dynamodb:LeadingKeys` patterns: one per tenant served, or any tenant). PutItem itself is denied, with every call
        that changes or removes a record."""
        # The unqualified ARN only (grant_invoke adds `:*` for versions, which nothing here invokes).
        role.add_to_principal_policy(iam.PolicyStatement(actions=["lambda:InvokeFunction"],
                                                         resources=[self.writer.function_arn]))
        if read:
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["dynamodb:Query", "dynamodb:GetItem"], resources=[self.table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": partitions},
                            "Null": {"dynamodb:LeadingKeys": "false"}}))
        self.deny_rewrites(role)

    def deny_rewrites(self, role: iam.IRole) -> None:
        """The explicit deny every runtime role but the writer carries, whether or not it appends."""
        self._deny(role, ["dynamodb:PutItem", *TAMPERING_ACTIONS])

    def _deny(self, role: iam.IRole, actions: list[str]) -> None:
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="AuditAppendOnly", effect=iam.Effect.DENY, actions=actions,
            resources=[self.table.table_arn, f"{self.table.table_arn}/index/*"]))

    def schedule_export(self, export: lambda_.IFunction, role: iam.IRole, *, state_machine_arn: str,
                        key: kms.IKey, async_failures: sqs.IQueue) -> None:
        events.Rule(self, "DailyExport", description="Audit records and execution histories to the locked bucket",
                    schedule=events.Schedule.cron(minute="15", hour="0"),
                    targets=[targets.LambdaFunction(export, dead_letter_queue=async_failures, retry_attempts=2)])
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["dynamodb:Query"], resources=[f"{self.table.table_arn}/index/{AUDIT_DAY_INDEX}"]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="AuditAppendOnly", effect=iam.Effect.DENY, actions=["dynamodb:PutItem", *TAMPERING_ACTIONS],
            resources=[self.table.table_arn, f"{self.table.table_arn}/index/*"]))
        # PutObject only: versions, retention and legal holds are the bucket's, never the function's.
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:PutObject", "s3:PutObjectRetention"],
            resources=[self.bucket.arn_for_objects("audit/*"), self.bucket.arn_for_objects("executions/*")]))
        role.add_to_principal_policy(iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"],
                                                         resources=[key.key_arn]))
        execution_arns = state_machine_arn.replace(":stateMachine:", ":execution:") + ":*"
        role.add_to_principal_policy(iam.PolicyStatement(actions=["states:ListExecutions"],
                                                         resources=[state_machine_arn]))
        role.add_to_principal_policy(iam.PolicyStatement(actions=["states:GetExecutionHistory"],
                                                         resources=[execution_arns]))
