"""The AWS executor against moto: ECS, Lambda aliases, Auto Scaling and SSM Automation, each in
dry run and live, with the pre-action state restored by rollback and retries made idempotent."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_test_support import REGION

from sre_copilot.adapters.aws_executor import AwsActionError, AwsExecutor, parse_resource
from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.types import Risk
from sre_copilot.local.ssm_automation import fail_documents, ssm_automation

ACCOUNT = "123456789012"
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def executor(aws: None) -> Iterator[AwsExecutor]:
    with ssm_automation():
        yield AwsExecutor(lambda service: boto3.client(service, region_name=REGION))


def _plan(action: str, resource: str, dry_run: bool = False, **params: Any) -> ActionPlan:
    return ActionPlan(id=f"plan-{action}", incident_id="inc-1", action=action, target=resource, risk=Risk.MEDIUM,
                      params={"resource": resource, **params}, dry_run=dry_run, created_at=NOW, updated_at=NOW)


def _executed(plan: ActionPlan, result: dict[str, Any]) -> ActionPlan:
    return plan.model_copy(update={"params": {**plan.params, **result}})


# -- ECS -------------------------------------------------------------------------------------------
def _ecs_service() -> tuple[str, list[str]]:
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="shop")
    tds = [ecs.register_task_definition(family="checkout", containerDefinitions=[
        {"name": "app", "image": f"checkout:{v}", "memory": 256}])["taskDefinition"]["taskDefinitionArn"]
        for v in ("v1", "v2")]
    service = ecs.create_service(cluster="shop", serviceName="checkout", taskDefinition=tds[1], desiredCount=2)
    return service["service"]["serviceArn"], tds


def _ecs_state() -> tuple[str, int]:
    svc = boto3.client("ecs", region_name=REGION).describe_services(cluster="shop", services=["checkout"])["services"][0]
    return svc["taskDefinition"], svc["desiredCount"]


def test_ecs_rollback_dry_run_lists_the_calls_and_changes_nothing(executor: AwsExecutor) -> None:
    # Given a service on revision 2 of its task definition
    arn, tds = _ecs_service()
    plan = _plan("rollback", arn, dry_run=True)
    assert executor.supports(plan)
    # When it is rolled back in dry run
    result = executor.execute(plan, dry_run=True)
    # Then the would-be UpdateService names revision 1, and the service still runs revision 2
    update = next(c for c in result["calls"] if c["api"] == "ecs:UpdateService")
    assert update["params"]["taskDefinition"] == tds[0]
    assert result["pre_state"]["taskDefinition"] == tds[1] and _ecs_state() == (tds[1], 2)
    assert result["detail"].startswith("dry run")


def test_ecs_rollback_live_is_idempotent_and_restored_by_rollback(executor: AwsExecutor) -> None:
    arn, tds = _ecs_service()
    plan = _plan("rollback", arn)
    # When the rollback runs, then runs again (a retried Lambda)
    result = executor.execute(plan, dry_run=False)
    again = executor.execute(plan, dry_run=False)
    # Then the service runs revision 1, not one further back, and the retry made no call
    assert _ecs_state() == (tds[0], 2)
    assert again["already_applied"] and again["calls"] == [] and again["pre_state"] == result["pre_state"]
    executed = _executed(plan, result)
    assert executor.verify(executed)[0]
    # And the rollback restores the pre-action state exactly
    restored = executor.rollback(executed)
    assert _ecs_state() == (tds[1], 2) and restored["restored_state"]["taskDefinition"] == tds[1]


def test_ecs_rollback_without_an_older_revision_refuses(executor: AwsExecutor) -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="solo")
    td = ecs.register_task_definition(family="solo", containerDefinitions=[
        {"name": "app", "image": "solo:v1", "memory": 128}])["taskDefinition"]["taskDefinitionArn"]
    arn = ecs.create_service(cluster="solo", serviceName="solo", taskDefinition=td, desiredCount=1)["service"]["serviceArn"]
    with pytest.raises(AwsActionError, match="no revision before 1"):
        executor.execute(_plan("rollback", arn), dry_run=False)


# -- Lambda alias -----------------------------------------------------------------------------------
def _lambda_alias() -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=REGION)
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", "def handler(e, c):\n    return 1\n")
    lam.create_function(FunctionName="pricing", Runtime="python3.12", Role=role, Handler="handler.handler",
                        Code={"ZipFile": package.getvalue()})
    for description in ("v1", "v2"):
        lam.update_function_code(FunctionName="pricing", ZipFile=package.getvalue())
        lam.publish_version(FunctionName="pricing", Description=description)
    return str(lam.create_alias(FunctionName="pricing", Name="live", FunctionVersion="2")["AliasArn"])


def _alias_version() -> str:
    return str(boto3.client("lambda", region_name=REGION).get_alias(FunctionName="pricing", Name="live")["FunctionVersion"])


def test_lambda_alias_dry_run_then_live_then_restored(executor: AwsExecutor) -> None:
    # Given the alias `live` on version 2
    arn = _lambda_alias()
    assert parse_resource(arn) is not None
    # When rolled back in dry run, nothing moves; the call names version 1
    dry = executor.execute(_plan("rollback", arn, dry_run=True), dry_run=True)
    assert _alias_version() == "2"
    assert next(c for c in dry["calls"] if c["api"] == "lambda:UpdateAlias")["params"]["FunctionVersion"] == "1"
    # When rolled back live (twice: a retry), the alias is on version 1 once
    plan = _plan("rollback", arn)
    result = executor.execute(plan, dry_run=False)
    assert executor.execute(plan, dry_run=False)["already_applied"]
    assert _alias_version() == "1" and executor.verify(_executed(plan, result))[0]
    # Then the rollback puts it back on version 2
    executor.rollback(_executed(plan, result))
    assert _alias_version() == "2"


# -- Auto Scaling -----------------------------------------------------------------------------------
def _asg() -> str:
    ec2 = boto3.client("ec2", region_name=REGION)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    autoscaling.create_launch_configuration(LaunchConfigurationName="web", ImageId=image, InstanceType="t3.micro")
    autoscaling.create_auto_scaling_group(AutoScalingGroupName="web", LaunchConfigurationName="web", MinSize=2,
                                          MaxSize=6, DesiredCapacity=2, AvailabilityZones=[f"{REGION}a"])
    return f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:uuid:autoScalingGroupName/web"


def _capacity() -> tuple[int, int, int]:
    group = boto3.client("autoscaling", region_name=REGION).describe_auto_scaling_groups(
        AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    return group["MinSize"], group["MaxSize"], group["DesiredCapacity"]


def test_asg_capacity_dry_run_live_idempotent_and_restored(executor: AwsExecutor) -> None:
    arn = _asg()
    dry = executor.execute(_plan("set_capacity", arn, dry_run=True, desired_capacity=4), dry_run=True)
    assert _capacity() == (2, 6, 2) and dry["calls"][-1]["params"]["DesiredCapacity"] == 4
    plan = _plan("set_capacity", arn, desired_capacity=4)
    result = executor.execute(plan, dry_run=False)
    assert executor.execute(plan, dry_run=False)["already_applied"]
    assert _capacity() == (2, 6, 4)
    assert executor.verify(_executed(plan, result))[0]
    executor.rollback(_executed(plan, result))
    assert _capacity() == (2, 6, 2)


def test_asg_scale_out_past_the_ceiling_is_refused(executor: AwsExecutor) -> None:
    arn = _asg()
    with pytest.raises(AwsActionError, match="ceiling"):
        executor.execute(_plan("scale_out", arn, increment=3, max_capacity=4), dry_run=False)
    assert _capacity() == (2, 6, 2)


# -- SSM Automation ---------------------------------------------------------------------------------
RUNBOOK = {"schemaVersion": "0.3", "parameters": {"InstanceId": {"type": "String"}},
           "mainSteps": [{"name": "restart", "action": "aws:executeAwsApi",
                          "inputs": {"Service": "ec2", "Api": "RebootInstances", "InstanceIds": ["{{ InstanceId }}"]}}]}


def _runbook(name: str = "RestartWeb") -> str:
    boto3.client("ssm", region_name=REGION).create_document(Name=name, DocumentType="Automation",
                                                            Content=json.dumps(RUNBOOK), DocumentFormat="JSON")
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:automation-definition/{name}:$DEFAULT"


def test_ssm_runbook_dry_run_validates_and_live_starts_once(executor: AwsExecutor) -> None:
    arn = _runbook()
    params = {"automation_parameters": {"InstanceId": "i-0abc"}}
    dry = executor.execute(_plan("run_automation", arn, dry_run=True, **params), dry_run=True)
    assert dry["automation_execution_id"] is None and dry["calls"][-1]["api"] == "ssm:StartAutomationExecution"
    plan = _plan("run_automation", arn, **params)
    first = executor.execute(plan, dry_run=False)
    second = executor.execute(plan, dry_run=False)
    # Then the ClientToken made the retry return the same execution
    assert first["automation_execution_id"] == second["automation_execution_id"]
    ok, why = executor.verify(_executed(plan, first))
    assert ok and "Success" in why


def test_ssm_runbook_with_undeclared_parameter_or_failed_run(executor: AwsExecutor) -> None:
    arn = _runbook()
    with pytest.raises(AwsActionError, match="declares no parameter"):
        executor.execute(_plan("run_automation", arn, automation_parameters={"Bogus": "x"}), dry_run=False)
    fail_documents.add("RestartWeb")
    plan = _plan("run_automation", arn, automation_parameters={"InstanceId": "i-0abc"})
    result = executor.execute(plan, dry_run=False)
    ok, why = executor.verify(_executed(plan, result))
    assert not ok and "Failed" in why


def test_ssm_rollback_runs_the_named_undo_runbook(executor: AwsExecutor) -> None:
    arn = _runbook()
    _runbook("UndoRestartWeb")
    plan = _plan("run_automation", arn, automation_parameters={"InstanceId": "i-0abc"},
                 undo_document="UndoRestartWeb", undo_parameters={"InstanceId": "i-0abc"})
    result = executor.execute(plan, dry_run=False)
    restored = executor.rollback(_executed(plan, result))
    assert restored["calls"][0]["params"]["DocumentName"] == "UndoRestartWeb"
    assert restored["restored_state"]["undo_execution_id"]
