"""Shared by the infrastructure tests: the synthesized app and small template helpers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import cx_api
from aws_cdk.assertions import Template

from infra_cdk.app import BUNDLING_STACKS, Built

REPO = Path(__file__).resolve().parents[2]
# Every optional part switched on (vector collection, Bedrock, alarm e-mail, reserved concurrency,
# Kubernetes endpoint) so one template covers all of them; defaults are tested through `load_config`.
TEST_OVERRIDES: dict[str, Any] = {
    "enable_opensearch": True,
    "llm_provider": "bedrock",
    "alarm_email": "oncall@example.com",
    "reserved_concurrency": {"approval_sweeper": 1},
    "kubernetes_api_url": "https://k8s.example.internal",
    "eks_cluster_name": "prod-eks",
    "executor_resources": {
        "ecs_services": ["arn:aws:ecs:us-east-1:123456789012:service/shop/checkout"],
        "lambda_aliases": ["arn:aws:lambda:us-east-1:123456789012:function:pricing:live"],
        "autoscaling_groups": ["web"],
        "ssm_automation_documents": ["RestartWeb"],
    },
    "vpc_subnet_ids": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"],
    "vpc_security_group_ids": ["sg-0a1b2c3d"],
    BUNDLING_STACKS: [],
    # CDK's built-in template validation costs ~9 s per synth; test_cfn_lint runs cfn-lint itself
    # on the same template. `npx cdk synth` keeps it on (cdk.json).
    "@aws-cdk/core:validateAgainstDefaultRules": False,
}


@dataclass(frozen=True)
class Synthesized:
    built: Built
    assembly: cx_api.CloudAssembly
    template: Template
    template_json: dict[str, Any]
    template_path: Path

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {logical_id: resource for logical_id, resource in self.template_json["Resources"].items()
                if resource["Type"] == resource_type}

    def logical_id(self, construct: Any) -> str:
        return str(self.built.stack.get_logical_id(construct.node.default_child))


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def arn(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}
