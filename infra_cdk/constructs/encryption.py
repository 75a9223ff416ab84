"""The one customer-managed KMS key that encrypts the table, bucket, queues, topics, secrets, logs,
Lambda environments and the vector collection."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra_cdk.config import DeploymentConfig


class Encryption(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self, "Key",
            alias=f"alias/{config.prefix}",
            description=f"SRE Copilot ({config.environment}): data, queues, topics, secrets and logs",
            enable_key_rotation=True,
            rotation_period=Duration.days(365),
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
            pending_window=Duration.days(30),
        )
        same_account = {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
        # Services that write into our encrypted queues and topics on their own behalf (EventBridge
        # rule DLQs and the workflow DLQ, SNS subscription DLQs, CloudWatch alarm actions) use the
        # key through these statements, never through a role of ours.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowAwsServicesToWriteEncryptedMessages",
            principals=[iam.ServicePrincipal("events.amazonaws.com"), iam.ServicePrincipal("sns.amazonaws.com"),
                        iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=["*"],
            conditions=same_account,
        ))
        # CloudWatch Logs encrypts our log groups; the context condition limits it to this account's groups.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchLogsForThisAccount",
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            resources=["*"],
            conditions={"ArnLike": {
                "kms:EncryptionContext:aws:logs:arn": f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*",
            }},
        ))
