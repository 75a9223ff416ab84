"""The remediation infrastructure: an append-only audit, its Object Lock export, and executor roles
that grant only the calls the executors make, on the resources named in configuration."""

from __future__ import annotations

from typing import Any

from infra_synth import Synthesized

from infra_cdk.constructs.audit import TAMPERING_ACTIONS
from infra_cdk.constructs.executors import UNSCOPED_ACTIONS
from infra_cdk.constructs.table_access import AUDIT_APPENDERS
from infra_cdk.stack import METRIC_READ_ACTIONS

EXECUTORS = ("act", "verify", "rollback")
EXECUTOR_SERVICES = ("ecs:", "lambda:", "autoscaling:", "ssm:", "eks:", "ec2:")


def _statements(synthesized: Synthesized, function: str) -> list[dict[str, Any]]:
    role = synthesized.logical_id(synthesized.built.stack.functions[function].role)
    out: list[dict[str, Any]] = []
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            out.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return out


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _resources(statement: dict[str, Any]) -> list[Any]:
    resources = statement["Resource"]
    return resources if isinstance(resources, list) else [resources]


def _audit_table(synthesized: Synthesized) -> tuple[str, dict[str, Any]]:
    logical = synthesized.logical_id(synthesized.built.stack.audit.table)
    return logical, synthesized.template_json["Resources"][logical]


def _writes_audit(statement: dict[str, Any], audit_arn: dict[str, Any]) -> bool:
    """An Allow of a write call on the audit table, including by wildcard (`*`, `dynamodb:*`, `dynamodb:Put*`)."""
    if statement["Effect"] != "Allow" or not any(r == audit_arn or r == "*" for r in _resources(statement)):
        return False
    writes = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
    return any(a == "*" or (a.endswith("*") and any(w.startswith(a[:-1]) for w in writes)) or a in writes
               for a in _actions(statement))


def test_audit_table_is_append_only_for_every_runtime_role(synthesized: Synthesized) -> None:
    logical, table = _audit_table(synthesized)
    audit_arn = {"Fn::GetAtt": [logical, "Arn"]}
    writer = synthesized.built.stack.functions["audit_writer"]
    # Given every function role
    for name in synthesized.built.stack.functions:
        statements = _statements(synthesized, name)
        on_audit = [s for s in statements if audit_arn in _resources(s)]
        allowed = {a for s in on_audit if s["Effect"] == "Allow" for a in _actions(s)}
        # Then none may change or remove an audit record, and each carries an explicit Deny of those calls
        assert not allowed & set(TAMPERING_ACTIONS), name
        assert not any(a.endswith("*") for a in allowed), name
        denied = {a for s in on_audit if s["Effect"] == "Deny" for a in _actions(s)}
        assert {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} <= denied, name
        # And only the audit writer may PutItem (IAM cannot force a caller's write to be conditional);
        # every other role is denied it, and those that audit append by invoking the writer
        writes = [s for s in statements if _writes_audit(s, audit_arn)]
        if name == "audit_writer":
            assert allowed == {"dynamodb:PutItem"}
        else:
            assert not writes, name
            assert "dynamodb:PutItem" in denied, name
            invokes = any(s["Effect"] == "Allow" and "lambda:InvokeFunction" in _actions(s)
                          and {"Fn::GetAtt": [synthesized.logical_id(writer.function), "Arn"]} in _resources(s)
                          for s in statements)
            # Least privilege: ingest and the pure analysis steps never audit
            assert invokes is (name in AUDIT_APPENDERS), f"{name}: appends through the writer iff it audits"
    # And the table's own resource policy denies the same calls to everyone, and PutItem to all but the
    # writer's role, and records never expire
    policy = table["Properties"]["ResourcePolicy"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Principal"] == {"AWS": "*"} and set(TAMPERING_ACTIONS) <= set(_actions(s))
               for s in policy)
    writer_role = {"Fn::GetAtt": [synthesized.logical_id(writer.role), "Arn"]}
    assert any(s["Effect"] == "Deny" and s["Principal"] == {"AWS": "*"} and _actions(s) == ["dynamodb:PutItem"]
               and s["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": writer_role}} for s in policy)
    assert "TimeToLiveSpecification" not in table["Properties"]
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_functions_write_the_audit_to_its_table(synthesized: Synthesized) -> None:
    logical, _ = _audit_table(synthesized)
    for name, f in synthesized.built.stack.functions.items():
        variables = synthesized.template_json["Resources"][synthesized.logical_id(f.function)]["Properties"][
            "Environment"]["Variables"]
        assert variables["SRE_COPILOT_AUDIT_TABLE_NAME"] == {"Ref": logical}, name
        # And every function that audits appends through the writer; the writer, the read-only export,
        # ingestion and the pure analysis steps get no writer to call
        writer = {"Ref": synthesized.logical_id(synthesized.built.stack.functions["audit_writer"].function)}
        if name not in AUDIT_APPENDERS:
            assert "SRE_COPILOT_AUDIT_WRITER_FUNCTION" not in variables, name
        else:
            assert variables["SRE_COPILOT_AUDIT_WRITER_FUNCTION"] == writer, name


def test_export_bucket_has_object_lock_in_compliance_mode_for_the_configured_retention(
        synthesized: Synthesized) -> None:
    bucket = synthesized.template_json["Resources"][synthesized.logical_id(synthesized.built.stack.audit.bucket)]
    properties = bucket["Properties"]
    assert properties["ObjectLockEnabled"] is True
    assert properties["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 400}}}
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["DeletionPolicy"] == "Retain"


def test_the_export_runs_daily_and_may_only_put_objects(synthesized: Synthesized) -> None:
    export = synthesized.logical_id(synthesized.built.stack.functions["audit_export"].function)
    rules = [r for r in synthesized.resources("AWS::Events::Rule").values()
             if any(t["Arn"] == {"Fn::GetAtt": [export, "Arn"]} for t in r["Properties"].get("Targets", []))]
    assert [r["Properties"]["ScheduleExpression"] for r in rules] == ["cron(15 0 * * ? *)"]
    s3_actions = {a for s in _statements(synthesized, "audit_export") if s["Effect"] == "Allow"
                  for a in _actions(s) if a.startswith("s3:")}
    assert s3_actions == {"s3:PutObject", "s3:PutObjectRetention"}


def test_no_executor_role_has_a_wildcard_action_or_an_unscoped_resource_its_api_does_not_need(
        synthesized: Synthesized) -> None:
    for name in EXECUTORS:
        statements = [s for s in _statements(synthesized, name) if s["Effect"] == "Allow"
                      and any(a.startswith(EXECUTOR_SERVICES) for a in _actions(s))]
        assert statements, f"{name} has no executor grants"
        for statement in statements:
            actions = _actions(statement)
            assert not any("*" in a for a in actions), (name, actions)
            if "*" in _resources(statement):
                # CDK merges all "*" statements of a role; GetMetricData & co. are unscoped too.
                assert set(actions) <= UNSCOPED_ACTIONS | set(METRIC_READ_ACTIONS), (name, actions)


def test_executor_grants_name_the_configured_resources(synthesized: Synthesized) -> None:
    statements = [s for s in _statements(synthesized, "act") if s["Effect"] == "Allow"]
    by_action = {a: _resources(s) for s in statements for a in _actions(s)}
    assert by_action["ecs:UpdateService"] == ["arn:aws:ecs:us-east-1:123456789012:service/shop/checkout"]
    assert by_action["lambda:UpdateAlias"] == ["arn:aws:lambda:us-east-1:123456789012:function:pricing:live"]
    assert by_action["lambda:ListVersionsByFunction"] == ["arn:aws:lambda:us-east-1:123456789012:function:pricing"]
    assert "autoScalingGroupName/web" in str(by_action["autoscaling:UpdateAutoScalingGroup"])
    assert "RestartWeb" in str(by_action["ssm:StartAutomationExecution"])
    assert "cluster/prod-eks" in str(by_action["eks:DescribeCluster"])
    # And functions that do not act get none of it
    for name in ("notify", "document", "check_recovery"):
        assert not any(a.startswith(("ecs:", "lambda:Update", "autoscaling:Update", "ssm:Start"))
                       for s in _statements(synthesized, name) for a in _actions(s)), name


def test_executor_functions_run_in_the_configured_vpc_and_get_the_eks_cluster(synthesized: Synthesized) -> None:
    for name, f in synthesized.built.stack.functions.items():
        properties = synthesized.template_json["Resources"][synthesized.logical_id(f.function)]["Properties"]
        if name in EXECUTORS:
            assert properties["VpcConfig"] == {"SubnetIds": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"],
                                               "SecurityGroupIds": ["sg-0a1b2c3d"]}
            assert properties["Environment"]["Variables"]["SRE_COPILOT_EKS_CLUSTER_NAME"] == "prod-eks"
        else:
            assert "VpcConfig" not in properties, name


def test_the_evidence_step_may_read_a_spilled_correlation_state(synthesized: Synthesized) -> None:
    # Given the evidence step weighs alerts by the correlation state's alert history, which the
    # store spills to S3 under snapshots/ when it is large
    reads = [r for s in _statements(synthesized, "aggregate_evidence") if "s3:GetObject" in _actions(s)
             for r in _resources(s)]
    # Then its role may read that prefix
    assert any("/snapshots/*" in str(r) for r in reads)
