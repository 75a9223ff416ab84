"""Least privilege on the tables, asserted on the synthesized template (aws_cdk.assertions).

A small evaluator reads each function role's policies as IAM would for the requests below: an
explicit Deny wins, then an Allow whose action, resource and `dynamodb:LeadingKeys` condition match.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest
from aws_cdk.assertions import Match
from infra_synth import Synthesized, arn

from infra_cdk.constructs.table_access import AUDIT_READERS, PARTITIONS, TABLE_ACCESS

pytestmark = pytest.mark.infra

T = "TENANT#default"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class Role:
    """The statements of one function's role, and IAM's answer for one DynamoDB request."""

    def __init__(self, synthesized: Synthesized, function: str) -> None:
        template = synthesized.template_json
        role_id = synthesized.logical_id(synthesized.built.stack.functions[function].role)
        self.statements = [st for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"
                           and {"Ref": role_id} in r["Properties"]["Roles"]
                           for st in r["Properties"]["PolicyDocument"]["Statement"]]
        stack = synthesized.built.stack
        self.tables = {"main": arn(synthesized.logical_id(stack.storage.table)),
                       "audit": arn(synthesized.logical_id(stack.audit.table)),
                       "idempotency": arn(synthesized.logical_id(stack.storage.idempotency_table))}

    def _resource(self, table: str, index: str | None) -> Any:
        if index is None:
            return self.tables[table]
        return {"Fn::Join": ["", [self.tables[table], f"/index/{index}"]]}

    @staticmethod
    def _matches(st: dict[str, Any], action: str, resource: Any, keys: list[str]) -> bool:
        if not any(fnmatchcase(action, a) for a in _list(st["Action"])):
            return False
        resources = _list(st["Resource"])
        if resource not in resources and "*" not in resources and not (
                isinstance(resource, dict) and "Fn::Join" in resource and any(
                    isinstance(r, dict) and "Fn::Join" in r and r["Fn::Join"][1][0] == resource["Fn::Join"][1][0]
                    and r["Fn::Join"][1][-1].endswith("/index/*") for r in resources)):
            return False
        for operator, condition in st.get("Condition", {}).items():
            patterns = _list(condition.get("dynamodb:LeadingKeys", []))
            if operator == "ForAllValues:StringLike":
                if not all(any(fnmatchcase(k, p) for p in patterns) for k in keys):
                    return False
            elif operator == "ForAnyValue:StringLike":
                if not any(fnmatchcase(k, p) for k in keys for p in patterns):
                    return False
            elif operator == "Null":
                if condition["dynamodb:LeadingKeys"] == "false" and not keys:
                    return False
            else:
                raise AssertionError(f"unexpected condition {operator}")
        return True

    def allows(self, action: str, key: str | None, table: str = "main", index: str | None = None) -> bool:
        resource, keys = self._resource(table, index), [key] if key else []
        denied = any(self._matches(st, action, resource, keys) for st in self.statements if st["Effect"] == "Deny")
        allowed = any(self._matches(st, action, resource, keys) for st in self.statements if st["Effect"] == "Allow")
        return allowed and not denied


WRITES = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


def test_ingest_writes_signals_and_changes_but_never_incidents_plans_or_audit(synthesized: Synthesized) -> None:
    # Given the internet-facing ingest function's role
    ingest = Role(synthesized, "ingest")
    # Then it stores signals, dedup windows and change events
    assert ingest.allows("dynamodb:PutItem", f"{T}#SIGNAL#sig-1")
    assert ingest.allows("dynamodb:UpdateItem", f"{T}#FINGERPRINT#fp")
    assert ingest.allows("dynamodb:PutItem", f"{T}#SERVICE#checkout")
    # And it cannot write an incident, a plan (the incident's partition), the correlation state or audit
    for action in WRITES:
        assert not ingest.allows(action, f"{T}#INCIDENT#inc-1")
        assert not ingest.allows(action, f"{T}#CORRELATION")
        assert not ingest.allows(action, f"{T}#AUDIT#inc-1", table="audit")
        assert not ingest.allows(action, f"{T}#AUDIT#inc-1")
    # Nor read them
    assert not ingest.allows("dynamodb:GetItem", f"{T}#INCIDENT#inc-1")
    assert not ingest.allows("dynamodb:Query", f"{T}#OPEN_INCIDENTS", index="gsi1")


def test_notify_cannot_touch_signals_correlation_or_the_risk_budget(synthesized: Synthesized) -> None:
    notify = Role(synthesized, "notify")
    assert notify.allows("dynamodb:PutItem", f"{T}#INCIDENT#inc-1")  # the card's ts and its notifications
    assert notify.allows("dynamodb:UpdateItem", T)  # per-channel rate counters
    for action in WRITES:
        for key in (f"{T}#SIGNAL#s", f"{T}#CORRELATION", f"{T}#RISKBUDGET#checkout", f"{T}#EXECUTION#e"):
            assert not notify.allows(action, key), (action, key)
    # Notify never deletes or updates the incident's collection (a plan, the wait token)
    assert not notify.allows("dynamodb:DeleteItem", f"{T}#INCIDENT#inc-1")
    assert not notify.allows("dynamodb:UpdateItem", f"{T}#INCIDENT#inc-1")


def test_read_only_analysis_steps_write_nothing(synthesized: Synthesized) -> None:
    for function in ("aggregate_evidence", "generate_hypotheses"):
        role = Role(synthesized, function)
        assert role.allows("dynamodb:GetItem", f"{T}#INCIDENT#inc-1")
        for action in WRITES:
            for family in PARTITIONS.values():
                assert not role.allows(action, f"{T}{family.replace('*', 'x')}"), (function, action, family)
            assert not role.allows(action, f"{T}#AUDIT#inc-1", table="audit")


def test_no_role_scans_uses_wildcards_or_leaves_another_tenant_open(synthesized: Synthesized) -> None:
    for function in TABLE_ACCESS:
        role = Role(synthesized, function)
        for st in role.statements:
            actions = _list(st["Action"])
            assert "dynamodb:*" not in actions and "dynamodb:Scan" not in actions, (function, st)
            assert not any(a in actions for a in ("dynamodb:BatchWriteItem", "dynamodb:PartiQLSelect",
                                                  "dynamodb:TransactWriteItems")) or st["Effect"] == "Deny"
        for table in ("main", "idempotency", "audit"):
            assert not role.allows("dynamodb:Scan", None, table=table), (function, table)
        if function != "api":  # the read API serves the tenant in the caller's token
            for action in ("dynamodb:GetItem", *WRITES):
                assert not role.allows(action, "TENANT#other#INCIDENT#inc-1"), (function, action)


def test_every_role_gets_exactly_its_table_access(synthesized: Synthesized) -> None:
    # Each granted (action, family) is allowed, and each action not granted on a family is refused.
    for function, access in TABLE_ACCESS.items():
        role = Role(synthesized, function)
        for action in ("GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "DeleteItem"):
            granted = access.items.get(action, frozenset())  # type: ignore[call-overload]
            for family, suffix in PARTITIONS.items():
                key = T + suffix.replace("*", "x")
                assert role.allows(f"dynamodb:{action}", key) is (family in granted), (function, action, family)
        for index in ("gsi1", "gsi2"):
            assert role.allows("dynamodb:Query", f"{T}#DUE", index=index) is (index in access.indexes), \
                (function, index)


def test_only_appenders_write_the_audit_trail_and_none_rewrites_it(synthesized: Synthesized) -> None:
    for function in TABLE_ACCESS:
        role = Role(synthesized, function)
        key = f"{T}#AUDIT#inc-1"
        # Only the audit writer puts a record; appenders invoke it (tests/infra/test_remediation_infra.py)
        assert role.allows("dynamodb:PutItem", key, table="audit") is (function == "audit_writer"), function
        assert role.allows("dynamodb:Query", key, table="audit") is (function in AUDIT_READERS), function
        for action in ("dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"):
            assert not role.allows(action, key, table="audit"), (function, action)
            assert not role.allows(action, key), (function, action)
        # The writer writes audit partitions only, never a record under another key shape
        assert not role.allows("dynamodb:PutItem", f"{T}#INCIDENT#inc-1", table="audit"), function


def test_idempotency_table_gets_only_what_powertools_calls(synthesized: Synthesized) -> None:
    for function in ("ingest", "anomaly_detector"):
        role = Role(synthesized, function)
        for action in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
            assert role.allows(f"dynamodb:{action}", "id-1", table="idempotency"), (function, action)
        assert not role.allows("dynamodb:Query", "id-1", table="idempotency")
    assert not Role(synthesized, "notify").allows("dynamodb:GetItem", "id-1", table="idempotency")


def test_table_statements_carry_the_leading_keys_condition(synthesized: Synthesized) -> None:
    # aws_cdk.assertions: the ingest role's item statement names exactly its partition families
    role_id = synthesized.logical_id(synthesized.built.stack.functions["ingest"].role)
    synthesized.template.has_resource_properties("AWS::IAM::Policy", {
        "Roles": Match.array_with([{"Ref": role_id}]),
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Action": "dynamodb:PutItem",
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [
                f"{T}#FINGERPRINT#*", f"{T}#SERVICE#*", f"{T}#SIGNAL#*"]},
                "Null": {"dynamodb:LeadingKeys": "false"}}})])}})
