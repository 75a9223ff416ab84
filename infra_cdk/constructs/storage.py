"""Durable state: the single DynamoDB table, the Powertools idempotency table and the artifact bucket
(context snapshots, raw payloads, rejected payloads for review, postmortems, the service catalog)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra_cdk.config import DeploymentConfig
from sre_copilot.adapters.dynamodb_store import AGENDA, AGENDA_ATTRIBUTES

# Object-key prefixes the functions write; grants and lifecycle rules are scoped by them.
RAW_PREFIX = "raw/"
REVIEW_PREFIX = "review/"
INCIDENTS_PREFIX = "incidents/"
POSTMORTEMS_PREFIX = "postmortems/"
CATALOG_PREFIX = "catalog/"
SNAPSHOTS_PREFIX = "snapshots/"
BASELINES_PREFIX = "baselines/"
# Incident artefacts: warm (Standard-IA) after the hot 30 days, Glacier after a year, deleted after
# three (raw_payload_* in cdk.json). The catalog is live configuration (only its old versions expire),
# and baselines are rebuilt nightly, so they expire instead of tiering.
TIERED_PREFIXES = {"raw-payloads": RAW_PREFIX, "rejected-payloads": REVIEW_PREFIX, "incident-artefacts": INCIDENTS_PREFIX,
                   "analysis-snapshots": SNAPSHOTS_PREFIX, "postmortems": POSTMORTEMS_PREFIX}
BASELINE_EXPIRE_DAYS = 35


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        keep = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY

        self.table = dynamodb.Table(
            self, "Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            time_to_live_attribute="ttl",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            deletion_protection=config.retain_data,
            removal_policy=keep,
        )
        self.table.add_global_secondary_index(
            index_name="gsi1",
            partition_key=dynamodb.Attribute(name="gsi1pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="gsi1sk", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        # The sweeper's agenda: due wait tokens, re-analysis flags and the correlation engine's next
        # tick, in one query a minute. It projects a few small attributes only, so the engine state's
        # document is never copied into an index.
        self.table.add_global_secondary_index(
            index_name=AGENDA,
            partition_key=dynamodb.Attribute(name="gsi2pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="gsi2sk", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=list(AGENDA_ATTRIBUTES),
        )

        # Powertools idempotency records are short-lived by design; PITR still guards against a bad deploy.
        self.idempotency_table = dynamodb.Table(
            self, "IdempotencyTable",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            time_to_live_attribute="expiration",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            removal_policy=RemovalPolicy.DESTROY,
        )

        # S3 server access logs cannot be delivered to an SSE-KMS bucket, hence SSE-S3 here.
        self.access_logs = s3.Bucket(
            self, "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(365),
                                              abort_incomplete_multipart_upload_after=Duration.days(7))],
            removal_policy=keep,
        )

        transitions_after_ia = [
            s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                          transition_after=Duration.days(config.raw_payload_ia_days)),
            s3.Transition(storage_class=s3.StorageClass.GLACIER,
                          transition_after=Duration.days(config.raw_payload_glacier_days)),
        ]
        self.bucket = s3.Bucket(
            self, "Artifacts",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="artifacts/",
            lifecycle_rules=[
                # Raw deliveries, analyses and postmortems are evidence for audits, replays and
                # learning, rarely read after the incident.
                *[s3.LifecycleRule(id=rule_id, prefix=prefix, transitions=transitions_after_ia,
                                   expiration=Duration.days(config.raw_payload_expire_days))
                  for rule_id, prefix in TIERED_PREFIXES.items()],
                s3.LifecycleRule(id="baselines", prefix=BASELINES_PREFIX,
                                 expiration=Duration.days(BASELINE_EXPIRE_DAYS)),
                s3.LifecycleRule(id="old-versions", noncurrent_version_expiration=Duration.days(30),
                                 abort_incomplete_multipart_upload_after=Duration.days(7)),
            ],
            removal_policy=keep,
        )
