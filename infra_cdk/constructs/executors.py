"""What the remediation functions may do in AWS, scoped to the resources named in configuration.

Each statement grants the calls the executors make (adapters/aws_executor.py, k8s via EKS) on the
ARNs listed in `executor_resources`; the few calls that AWS does not scope to a resource
(ECS ListTaskDefinitions, Auto Scaling DescribeAutoScalingGroups, EC2 network interfaces for VPC
functions) are listed in `UNSCOPED_ACTIONS` and are the only ones on "*". With subnets configured,
the functions that reach the cluster's API server run in the VPC.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra_cdk.config import DeploymentConfig

UNSCOPED_ACTIONS = frozenset({
    "ecs:ListTaskDefinitions", "autoscaling:DescribeAutoScalingGroups",
    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
})
"""Calls whose IAM resource can only be "*" (no resource-level permissions in the service)."""
VPC_ACTIONS = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
               "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]


def _arn(service: str, resource: str) -> str:
    return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"


def executor_statements(config: DeploymentConfig) -> list[iam.PolicyStatement]:
    """The AWS executor's grants: one statement per resource kind, only for kinds configured."""
    r = config.executor_resources
    out: list[iam.PolicyStatement] = []
    if r.ecs_services:
        out.append(iam.PolicyStatement(
            actions=["ecs:DescribeServices", "ecs:UpdateService", "ecs:TagResource", "ecs:ListTagsForResource"],
            resources=list(r.ecs_services)))
        out.append(iam.PolicyStatement(actions=["ecs:ListTaskDefinitions"], resources=["*"]))
    if r.lambda_aliases:
        functions = sorted({a.rsplit(":", 1)[0] for a in r.lambda_aliases})
        out.append(iam.PolicyStatement(actions=["lambda:GetAlias", "lambda:UpdateAlias"],
                                       resources=list(r.lambda_aliases)))
        out.append(iam.PolicyStatement(actions=["lambda:ListVersionsByFunction"], resources=functions))
    if r.autoscaling_groups:
        out.append(iam.PolicyStatement(
            actions=["autoscaling:UpdateAutoScalingGroup", "autoscaling:CreateOrUpdateTags"],
            resources=[_arn("autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{name}")
                       for name in r.autoscaling_groups]))
        out.append(iam.PolicyStatement(actions=["autoscaling:DescribeAutoScalingGroups"], resources=["*"]))
    if r.ssm_automation_documents:
        out.append(iam.PolicyStatement(
            actions=["ssm:DescribeDocument", "ssm:StartAutomationExecution"],
            resources=[arn for name in r.ssm_automation_documents
                       for arn in (_arn("ssm", f"document/{name}"), _arn("ssm", f"automation-definition/{name}:*"))]))
        out.append(iam.PolicyStatement(actions=["ssm:GetAutomationExecution"],
                                       resources=[_arn("ssm", "automation-execution/*")]))
    if config.eks_cluster_name:
        out.append(iam.PolicyStatement(actions=["eks:DescribeCluster"],
                                       resources=[_arn("eks", f"cluster/{config.eks_cluster_name}")]))
    return out


class ExecutorAccess(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig,
                 executors: dict[str, tuple[lambda_.Function, iam.IRole]],
                 alarm_readers: dict[str, iam.IRole]) -> None:
        super().__init__(scope, construct_id)
        statements = executor_statements(config)
        for function, role in executors.values():
            for statement in statements:
                role.add_to_principal_policy(statement)
            env = {}
            if config.eks_cluster_name:
                env["SRE_COPILOT_EKS_CLUSTER_NAME"] = config.eks_cluster_name
            for key, value in env.items():
                function.add_environment(key, value)
            if config.vpc_subnet_ids:
                self._in_vpc(function, role, config)
        for role in alarm_readers.values():
            # Verification by recovery reads the named alarms' states.
            role.add_to_principal_policy(iam.PolicyStatement(actions=["cloudwatch:DescribeAlarms"],
                                                             resources=[_arn("cloudwatch", "alarm:*")]))

    @staticmethod
    def _in_vpc(function: lambda_.Function, role: iam.IRole, config: DeploymentConfig) -> None:
        cfn = function.node.default_child
        assert isinstance(cfn, lambda_.CfnFunction)
        cfn.vpc_config = lambda_.CfnFunction.VpcConfigProperty(
            subnet_ids=list(config.vpc_subnet_ids), security_group_ids=list(config.vpc_security_group_ids))
        # Lambda creates the function's network interfaces with its role; EC2 scopes none of these.
        role.add_to_principal_policy(iam.PolicyStatement(actions=VPC_ACTIONS, resources=["*"]))
