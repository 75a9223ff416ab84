"""Security wiring of the stack (docs/security.md): run-time controls in SSM, ingest's
authentication settings, and the deny that keeps audit records append-only.

Kept apart from `stack.py` so the access rules are reviewed in one place.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_cdk import Aws
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra_cdk.config import DeploymentConfig

if TYPE_CHECKING:
    from infra_cdk.constructs.functions import SreFunction

# Names and initial values; `sre-copilot kill-switch` and operators change them later (the stack
# never overwrites a value after creation unless its initial value in cdk.json changes).
CONTROL_DEFAULTS = {
    "emergency_stop": "false",
    "disabled_services": " ",
    "manual_override": " ",
    "change_freezes": "[]",
    "dry_run": " ",
}
AUDIT_REWRITE_ACTIONS = ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                         "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"]


def controls_path(config: DeploymentConfig) -> str:
    return f"/sre-copilot/{config.environment}/controls"


class Controls(Construct):
    """The run-time controls: one String parameter each under `controls_path`."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        self.path = controls_path(config)
        values = {**CONTROL_DEFAULTS, "approvers": json.dumps(config.approvers or {}, sort_keys=True)}
        self.parameters = {
            name: ssm.StringParameter(self, name.replace("_", "-").title().replace("-", ""),
                                      parameter_name=f"{self.path}/{name}", string_value=value,
                                      description=f"SRE Copilot run-time control '{name}' (docs/security.md)")
            for name, value in values.items()
        }

    def path_arn(self) -> str:
        return f"arn:{Aws.PARTITION}:ssm:{Aws.REGION}:{Aws.ACCOUNT_ID}:parameter{self.path}"


def wire_security(stack: Any, f: SreFunction, env: dict[str, str]) -> None:
    config: DeploymentConfig = stack.config
    env["SRE_COPILOT_CONTROLS_PATH"] = controls_path(config)
    if f.spec.reads_controls:
        f.role.add_to_principal_policy(iam.PolicyStatement(
            actions=["ssm:GetParametersByPath"], resources=[stack.controls.path_arn()]))
    if f.name == "ingest":
        topics = [stack.events.alarm_topic.topic_arn, *config.sns_topic_arns]
        env.update({
            "SRE_COPILOT_INSECURE_SOURCES": ",".join(config.insecure_sources),
            "SRE_COPILOT_CHANGES_AUTH": config.changes_auth,
            "SRE_COPILOT_SNS_TOPIC_ARNS": ",".join(topics),
            "SRE_COPILOT_REPLAY_WINDOW_S": str(config.replay_window_s),
        })


def deny_audit_rewrites(role: iam.IRole, table: dynamodb.ITable, config: DeploymentConfig) -> None:
    """Runtime roles append audit records (a conditional PutItem that never replaces) but may not
    update or delete them. New records go to the audit table (`AuditTrail.grant_append` denies every
    rewrite there); this deny covers the main table's audit partitions, where a deployment that
    predates the audit table still holds its older records."""
    # PutItem too: new records never go there in AWS, so a PutItem on those keys could only replace one.
    role.add_to_principal_policy(iam.PolicyStatement(
        effect=iam.Effect.DENY, actions=[*AUDIT_REWRITE_ACTIONS, "dynamodb:PutItem"], resources=[table.table_arn],
        conditions={"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": [f"TENANT#{config.tenant_id}#AUDIT#*"]}}))
