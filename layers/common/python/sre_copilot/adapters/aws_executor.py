"""AWS remediations through boto3: ECS service rollback, Lambda alias rollback, Auto Scaling group
capacity and SSM Automation runbooks.

Every action names its resource by ARN in `plan.params["resource"]` (from the catalog's
`runtime.resource`), so the executor role can be scoped to the resources in configuration.
Each execution:
- reads and returns the state before it (`pre_state`), so `rollback(plan)` can put it back;
- lists the exact API calls made, or in dry run the calls it would make (`calls`);
- is idempotent on the plan id: the change is marked on the resource itself (an ECS or Auto
  Scaling tag, the Lambda alias description, SSM's ClientToken), and a retried execution that finds
  its own mark returns what it did instead of acting twice (a second ECS "previous task
  definition" would be one revision further back).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from sre_copilot.actions.compensation import ActionCompensated
from sre_copilot.domain.action import ActionPlan
from sre_copilot.errors import ConfigurationError, SreCopilotError

MARK = "sre-copilot:action"
PRE = "sre-copilot:pre-state"
SUPPORTED = {
    "ecs": frozenset({"rollback", "restart", "scale_out"}),
    "lambda": frozenset({"rollback"}),
    "autoscaling": frozenset({"scale_out", "set_capacity"}),
    "ssm": frozenset({"run_automation"}),
}


class AwsActionError(SreCopilotError):
    status = 502
    code = "aws_action_failed"


@dataclass(frozen=True)
class Resource:
    service: str
    arn: str
    name: str
    parent: str = ""
    """ECS cluster, Lambda function (name is then the alias)."""


def parse_resource(arn: str) -> Resource | None:
    parts = arn.split(":", 6)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    service, rest = parts[2], ":".join(parts[5:])
    if service == "ecs" and rest.startswith("service/"):
        _, cluster, name = [*rest.split("/", 2), "", ""][:3]
        return Resource("ecs", arn, name, cluster) if name else None
    if service == "lambda" and rest.startswith("function:"):
        bits = rest.split(":")
        return Resource("lambda", arn, bits[2], bits[1]) if len(bits) == 3 else None
    if service == "autoscaling" and "autoScalingGroupName/" in rest:
        return Resource("autoscaling", arn, rest.split("autoScalingGroupName/", 1)[1])
    if service == "ssm" and rest.startswith("automation-definition/"):
        return Resource("ssm", arn, rest.split("/", 1)[1].split(":", 1)[0])
    return None


def _call(api: str, **params: Any) -> dict[str, Any]:
    return {"api": api, "params": params}


class AwsExecutor:
    """`ActionExecutor` for ECS services, Lambda aliases, Auto Scaling groups and SSM Automation."""

    def __init__(self, clients: Any) -> None:
        """`clients(service)` returns a boto3 client (the process-wide cache in Lambda, moto in tests)."""
        self.clients = clients

    # -- ActionExecutor ----------------------------------------------------------------------------
    def supports(self, plan: ActionPlan) -> bool:
        resource = self._resource(plan)
        return resource is not None and plan.action in SUPPORTED[resource.service]

    def execute(self, plan: ActionPlan, dry_run: bool) -> dict[str, Any]:
        resource = self._require(plan)
        try:
            handler = getattr(self, f"_{resource.service}_execute")
            result: dict[str, Any] = handler(plan, resource, dry_run)
        except ActionCompensated:
            raise
        except ClientError as exc:
            raise AwsActionError(f"{plan.action} on {resource.arn} failed: {_message(exc)}") from exc
        mode = "dry run (nothing changed)" if dry_run else "applied"
        result["detail"] = f"{mode}: {result['detail']}"
        return result

    def verify(self, plan: ActionPlan) -> tuple[bool, str]:
        resource = self._require(plan)
        if plan.dry_run:
            return True, f"dry run: {resource.arn} was not changed, so there is nothing to verify"
        try:
            ok, why = getattr(self, f"_{resource.service}_verify")(plan, resource)
        except ClientError as exc:
            raise AwsActionError(f"cannot verify {plan.action} on {resource.arn}: {_message(exc)}") from exc
        return bool(ok), str(why)

    def rollback(self, plan: ActionPlan) -> dict[str, Any]:
        resource = self._require(plan)
        if plan.dry_run:
            return {"calls": [], "detail": f"dry run: {resource.arn} was not changed; nothing to roll back"}
        pre = plan.params.get("pre_state")
        if not isinstance(pre, dict):
            raise AwsActionError(f"plan {plan.id} has no captured pre-action state of {resource.arn}; restore it by hand")
        try:
            result: dict[str, Any] = getattr(self, f"_{resource.service}_restore")(plan, resource, pre)
        except ClientError as exc:
            raise AwsActionError(f"restoring {resource.arn} failed: {_message(exc)}") from exc
        return result

    # -- ECS -------------------------------------------------------------------------------------------
    def _ecs_service(self, resource: Resource) -> dict[str, Any]:
        found = self.clients("ecs").describe_services(cluster=resource.parent, services=[resource.name])["services"]
        if not found or found[0].get("status") == "INACTIVE":
            raise AwsActionError(f"ECS service {resource.name} is not in cluster {resource.parent}")
        return dict(found[0])

    def _ecs_marks(self, resource: Resource) -> dict[str, str]:
        tags = self.clients("ecs").list_tags_for_resource(resourceArn=resource.arn).get("tags", [])
        return {t["key"]: t["value"] for t in tags}

    def _ecs_execute(self, plan: ActionPlan, resource: Resource, dry_run: bool) -> dict[str, Any]:
        ecs = self.clients("ecs")
        service = self._ecs_service(resource)
        marks = self._ecs_marks(resource)
        if marks.get(MARK) == plan.id and not dry_run:
            return {"pre_state": json.loads(marks[PRE]), "calls": [], "already_applied": True,
                    "detail": f"{plan.action} of ECS service {resource.name} was already applied by {plan.id}"}
        pre = {"taskDefinition": service["taskDefinition"], "desiredCount": service["desiredCount"]}
        calls = [_call("ecs:DescribeServices", cluster=resource.parent, services=[resource.name])]
        update: dict[str, Any] = {"cluster": resource.parent, "service": resource.name}
        if plan.action == "rollback":
            previous = plan.params.get("previous_task_definition") or self._previous_task_definition(
                pre["taskDefinition"], calls)
            update["taskDefinition"] = previous
            summary = f"ECS service {resource.name} from {_td(pre['taskDefinition'])} back to {_td(previous)}"
        elif plan.action == "restart":
            update["forceNewDeployment"] = True
            summary = f"ECS service {resource.name}: new deployment of {_td(pre['taskDefinition'])}"
        else:
            target = min(pre["desiredCount"] + max(int(plan.params.get("increment", 1)), 1),
                         int(plan.params.get("max_replicas", pre["desiredCount"] + 1)))
            if target <= pre["desiredCount"]:
                raise AwsActionError(f"ECS service {resource.name} already runs {pre['desiredCount']} tasks, at its ceiling")
            update["desiredCount"] = target
            summary = f"ECS service {resource.name} from {pre['desiredCount']} to {target} tasks"
        calls.append(_call("ecs:TagResource", resourceArn=resource.arn,
                           tags=[{"key": MARK, "value": plan.id}, {"key": PRE, "value": json.dumps(pre)}]))
        calls.append(_call("ecs:UpdateService", **update))
        if not dry_run:
            # The mark goes first: a retry after a timeout must find it, or it would step back twice.
            ecs.tag_resource(**calls[-2]["params"])
            try:
                ecs.update_service(**update)
            except ClientError as exc:
                ecs.untag_resource(resourceArn=resource.arn, tagKeys=[MARK, PRE])
                raise ActionCompensated(f"UpdateService of {resource.name} failed: {_message(exc)}",
                                        f"removed the {MARK} mark from {resource.name}; the service is unchanged"
                                        ) from exc
        return {"pre_state": pre, "calls": calls, "detail": summary}

    def _previous_task_definition(self, current: str, calls: list[dict[str, Any]]) -> str:
        family = current.rsplit("/", 1)[-1].rsplit(":", 1)[0]
        calls.append(_call("ecs:ListTaskDefinitions", familyPrefix=family, sort="DESC"))
        arns = self.clients("ecs").list_task_definitions(familyPrefix=family, sort="DESC")["taskDefinitionArns"]
        revision = int(current.rsplit(":", 1)[-1])
        older = [a for a in arns if a.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family
                 and int(a.rsplit(":", 1)[-1]) < revision]
        if not older:
            raise AwsActionError(f"task definition family {family} has no revision before {revision} to roll back to")
        return max(older, key=lambda a: int(a.rsplit(":", 1)[-1]))

    def _ecs_verify(self, plan: ActionPlan, resource: Resource) -> tuple[bool, str]:
        service = self._ecs_service(resource)
        primary: dict[str, Any] = next((d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), {})
        if primary.get("rolloutState") == "FAILED":
            return False, f"ECS deployment of {_td(primary.get('taskDefinition', '?'))} failed: {primary.get('rolloutStateReason')}"
        running, desired = int(service.get("runningCount", 0)), int(service.get("desiredCount", 0))
        return True, (f"ECS service {resource.name} runs {_td(service['taskDefinition'])}, "
                      f"{running}/{desired} tasks running")

    def _ecs_restore(self, plan: ActionPlan, resource: Resource, pre: dict[str, Any]) -> dict[str, Any]:
        update = {"cluster": resource.parent, "service": resource.name, "taskDefinition": pre["taskDefinition"],
                  "desiredCount": pre["desiredCount"]}
        self.clients("ecs").update_service(**update)
        after = self._ecs_service(resource)
        return {"calls": [_call("ecs:UpdateService", **update)],
                "restored_state": {"taskDefinition": after["taskDefinition"], "desiredCount": after["desiredCount"]},
                "detail": f"ECS service {resource.name} back to {_td(pre['taskDefinition'])}, {pre['desiredCount']} tasks"}

    # -- Lambda alias ----------------------------------------------------------------------------------
    def _lambda_execute(self, plan: ActionPlan, resource: Resource, dry_run: bool) -> dict[str, Any]:
        lam = self.clients("lambda")
        alias = lam.get_alias(FunctionName=resource.parent, Name=resource.name)
        calls = [_call("lambda:GetAlias", FunctionName=resource.parent, Name=resource.name)]
        description = str(alias.get("Description", ""))
        if description.startswith(f"{MARK}={plan.id} ") and not dry_run:
            return {"pre_state": json.loads(description.split(" ", 1)[1]), "calls": [], "already_applied": True,
                    "detail": f"alias {resource.name} of {resource.parent} was already moved by {plan.id}"}
        pre = {"FunctionVersion": alias["FunctionVersion"], "RoutingConfig": alias.get("RoutingConfig") or {},
               "Description": description}
        previous = plan.params.get("previous_version")
        if not previous:
            calls.append(_call("lambda:ListVersionsByFunction", FunctionName=resource.parent))
            versions = [v["Version"] for page in lam.get_paginator("list_versions_by_function").paginate(
                FunctionName=resource.parent) for v in page["Versions"] if v["Version"].isdigit()]
            older = [int(v) for v in versions if pre["FunctionVersion"].isdigit() and int(v) < int(pre["FunctionVersion"])]
            if not older:
                raise AwsActionError(f"{resource.parent} has no published version before {pre['FunctionVersion']}")
            previous = str(max(older))
        update = {"FunctionName": resource.parent, "Name": resource.name, "FunctionVersion": str(previous),
                  "RoutingConfig": {"AdditionalVersionWeights": {}},
                  "Description": f"{MARK}={plan.id} {json.dumps(pre)}"[:256]}
        calls.append(_call("lambda:UpdateAlias", **update))
        if not dry_run:
            lam.update_alias(**update)
        return {"pre_state": pre, "calls": calls,
                "detail": f"alias {resource.name} of {resource.parent} from version {pre['FunctionVersion']} to {previous}"}

    def _lambda_verify(self, plan: ActionPlan, resource: Resource) -> tuple[bool, str]:
        alias = self.clients("lambda").get_alias(FunctionName=resource.parent, Name=resource.name)
        pre = (plan.params.get("pre_state") or {}).get("FunctionVersion")
        # After the action the alias must have left the bad version; after a restore, be back on it.
        restoring = plan.params.get("verifying") == "rollback"
        ok = (alias["FunctionVersion"] == pre) if restoring else (alias["FunctionVersion"] != pre)
        return ok, f"alias {resource.name} of {resource.parent} points at version {alias['FunctionVersion']}"

    def _lambda_restore(self, plan: ActionPlan, resource: Resource, pre: dict[str, Any]) -> dict[str, Any]:
        update = {"FunctionName": resource.parent, "Name": resource.name, "FunctionVersion": pre["FunctionVersion"],
                  "RoutingConfig": pre.get("RoutingConfig") or {"AdditionalVersionWeights": {}},
                  "Description": pre.get("Description", "")}
        after = self.clients("lambda").update_alias(**update)
        return {"calls": [_call("lambda:UpdateAlias", **update)],
                "restored_state": {"FunctionVersion": after["FunctionVersion"]},
                "detail": f"alias {resource.name} of {resource.parent} back to version {pre['FunctionVersion']}"}

    # -- Auto Scaling ----------------------------------------------------------------------------------
    def _asg(self, resource: Resource) -> dict[str, Any]:
        groups = self.clients("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[resource.name])["AutoScalingGroups"]
        if not groups:
            raise AwsActionError(f"Auto Scaling group {resource.name} does not exist")
        return dict(groups[0])

    def _autoscaling_execute(self, plan: ActionPlan, resource: Resource, dry_run: bool) -> dict[str, Any]:
        group = self._asg(resource)
        marks = {t["Key"]: t["Value"] for t in group.get("Tags", [])}
        if marks.get(MARK) == plan.id and not dry_run:
            return {"pre_state": json.loads(marks[PRE]), "calls": [], "already_applied": True,
                    "detail": f"capacity of {resource.name} was already set by {plan.id}"}
        pre = {"MinSize": group["MinSize"], "MaxSize": group["MaxSize"], "DesiredCapacity": group["DesiredCapacity"]}
        if plan.action == "set_capacity":
            desired = int(plan.params["desired_capacity"])
        else:
            desired = pre["DesiredCapacity"] + max(int(plan.params.get("increment", 1)), 1)
        ceiling = int(plan.params.get("max_capacity", pre["MaxSize"]))
        if desired > ceiling:
            raise AwsActionError(f"{desired} instances would exceed the plan's ceiling of {ceiling} for {resource.name}")
        update = {"AutoScalingGroupName": resource.name, "DesiredCapacity": desired,
                  "MinSize": min(pre["MinSize"], desired), "MaxSize": max(pre["MaxSize"], desired)}
        tags = {"Tags": [{"ResourceId": resource.name, "ResourceType": "auto-scaling-group", "Key": key,
                          "Value": value, "PropagateAtLaunch": False}
                         for key, value in ((MARK, plan.id), (PRE, json.dumps(pre)))]}
        calls = [_call("autoscaling:DescribeAutoScalingGroups", AutoScalingGroupNames=[resource.name]),
                 _call("autoscaling:CreateOrUpdateTags", **tags), _call("autoscaling:UpdateAutoScalingGroup", **update)]
        if not dry_run:
            autoscaling = self.clients("autoscaling")
            autoscaling.create_or_update_tags(**tags)
            try:
                autoscaling.update_auto_scaling_group(**update)
            except ClientError as exc:
                autoscaling.delete_tags(Tags=[{k: t[k] for k in ("ResourceId", "ResourceType", "Key")}
                                              for t in tags["Tags"]])
                raise ActionCompensated(f"UpdateAutoScalingGroup of {resource.name} failed: {_message(exc)}",
                                        f"removed the {MARK} mark from {resource.name}; capacity is unchanged"
                                        ) from exc
        return {"pre_state": pre, "calls": calls,
                "detail": f"Auto Scaling group {resource.name} desired capacity {pre['DesiredCapacity']} -> {desired}"}

    def _autoscaling_verify(self, plan: ActionPlan, resource: Resource) -> tuple[bool, str]:
        group = self._asg(resource)
        in_service = sum(1 for i in group.get("Instances", []) if i.get("LifecycleState") == "InService")
        ok = in_service >= int(group["DesiredCapacity"])
        return ok, f"{resource.name}: {in_service}/{group['DesiredCapacity']} instances in service"

    def _autoscaling_restore(self, plan: ActionPlan, resource: Resource, pre: dict[str, Any]) -> dict[str, Any]:
        update = {"AutoScalingGroupName": resource.name, **pre}
        self.clients("autoscaling").update_auto_scaling_group(**update)
        group = self._asg(resource)
        return {"calls": [_call("autoscaling:UpdateAutoScalingGroup", **update)],
                "restored_state": {k: group[k] for k in ("MinSize", "MaxSize", "DesiredCapacity")},
                "detail": f"Auto Scaling group {resource.name} back to {pre}"}

    # -- SSM Automation --------------------------------------------------------------------------------
    def _ssm_execute(self, plan: ActionPlan, resource: Resource, dry_run: bool) -> dict[str, Any]:
        ssm = self.clients("ssm")
        parameters = {k: [str(x) for x in (v if isinstance(v, list) else [v])]
                      for k, v in (plan.params.get("automation_parameters") or {}).items()}
        calls = [_call("ssm:DescribeDocument", Name=resource.name)]
        document = ssm.describe_document(Name=resource.name)["Document"]
        if document.get("DocumentType") != "Automation":
            raise AwsActionError(f"SSM document {resource.name} is a {document.get('DocumentType')} document, "
                                 "not an Automation runbook")
        declared = {p["Name"] for p in document.get("Parameters", [])}
        unknown = sorted(set(parameters) - declared)
        if unknown:
            raise AwsActionError(f"runbook {resource.name} declares no parameter(s) {', '.join(unknown)}")
        # SSM's own idempotency token: the same plan never starts the runbook twice.
        start = {"DocumentName": resource.name, "Parameters": parameters,
                 "ClientToken": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sre-copilot:{plan.id}"))}
        calls.append(_call("ssm:StartAutomationExecution", **start))
        execution_id = None if dry_run else ssm.start_automation_execution(**start)["AutomationExecutionId"]
        return {"pre_state": {"document": resource.name}, "calls": calls, "automation_execution_id": execution_id,
                "detail": f"runbook {resource.name} with {json.dumps(parameters)}"
                          + (f" (execution {execution_id})" if execution_id else "")}

    def _ssm_verify(self, plan: ActionPlan, resource: Resource) -> tuple[bool, str]:
        execution_id = plan.params.get("automation_execution_id")
        if not execution_id:
            return False, f"runbook {resource.name} has no execution id to check"
        execution = self.clients("ssm").get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
        status = execution["AutomationExecutionStatus"]
        if status in ("Pending", "InProgress", "Waiting"):
            from sre_copilot.adapters.k8s_executor import RolloutInProgress

            raise RolloutInProgress(f"runbook {resource.name} execution {execution_id} is {status}")
        return status == "Success", f"runbook {resource.name} execution {execution_id}: {status}"

    def _ssm_restore(self, plan: ActionPlan, resource: Resource, pre: dict[str, Any]) -> dict[str, Any]:
        undo = plan.params.get("undo_document")
        if not undo:
            raise AwsActionError(f"runbook {resource.name} names no undo runbook (params.undo_document); "
                                 "undo it by hand")
        start = {"DocumentName": str(undo), "Parameters": {k: [str(v)] for k, v in
                                                           (plan.params.get("undo_parameters") or {}).items()},
                 "ClientToken": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sre-copilot:{plan.id}:undo"))}
        execution_id = self.clients("ssm").start_automation_execution(**start)["AutomationExecutionId"]
        return {"calls": [_call("ssm:StartAutomationExecution", **start)],
                "restored_state": {"undo_execution_id": execution_id}, "detail": f"undo runbook {undo} started"}

    # -- helpers ----------------------------------------------------------------------------------------
    def _resource(self, plan: ActionPlan) -> Resource | None:
        arn = plan.params.get("resource") or plan.target
        return parse_resource(str(arn)) if arn else None

    def _require(self, plan: ActionPlan) -> Resource:
        resource = self._resource(plan)
        if resource is None or plan.action not in SUPPORTED[resource.service]:
            raise ConfigurationError(f"the AWS executor cannot {plan.action} {plan.params.get('resource') or plan.target}; "
                                     "name the resource by ARN (ECS service, Lambda alias, Auto Scaling group or "
                                     "SSM automation-definition) in the catalog's runtime.resource")
        return resource


def _td(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', '?')}: {error.get('Message', str(exc))}"
