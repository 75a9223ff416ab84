"""The raw-delivery archive: a Firehose delivery stream that writes every accepted webhook body to
the artifact bucket's `raw/` prefix in batches.

Ingest puts one record per delivery (`firehose:PutRecord` returns once Firehose holds the record
durably, so the delivery is kept before the 2xx as before). Firehose then writes a gzipped object
of newline-delimited records every `BUFFER_INTERVAL` or `BUFFER_MB`, whichever comes first: one S3
PUT per buffer instead of one per delivery (`docs/cost.md`). The objects land under `raw/`, so the
bucket's tiering and expiry rules for raw payloads apply unchanged.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra_cdk.config import DeploymentConfig
from infra_cdk.constructs.functions import RETENTION
from infra_cdk.constructs.storage import RAW_PREFIX

BUFFER_INTERVAL_S = 60
BUFFER_MB = 5
DATA_PREFIX = RAW_PREFIX + "!{timestamp:yyyy/MM/dd/HH}/"
ERROR_PREFIX = RAW_PREFIX + "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"


class RawArchive(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, bucket: s3.IBucket,
                 key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        # Delivery errors are logged like every other log of the stack: its retention, its key.
        self.log_group = logs.LogGroup(
            self, "Logs", retention=RETENTION[config.log_retention_days], encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY)
        self.stream = firehose.DeliveryStream(
            self, "Stream",
            destination=firehose.S3Bucket(
                bucket,
                data_output_prefix=DATA_PREFIX,
                error_output_prefix=ERROR_PREFIX,
                buffering_interval=Duration.seconds(BUFFER_INTERVAL_S),
                buffering_size=Size.mebibytes(BUFFER_MB),
                compression=firehose.Compression.GZIP,
                encryption_key=key,
                logging_config=firehose.EnableLogging(self.log_group),
            ),
            encryption=firehose.StreamEncryption.customer_managed_key(key),
        )
        # The L2 always adds a mapping of Firehose's CIDR blocks, used only by destinations that
        # allow-list them (Redshift, Splunk); an S3 destination leaves it unused (cfn-lint W7001).
        Stack.of(self).node.try_remove_child("@aws-cdk--aws-kinesisfirehose.CidrBlocks")
