"""Issue 13 in the infrastructure: the prod stage refuses insecure sources; controls in SSM; the
internet-facing functions read only verification secrets; audit records cannot be rewritten."""

from __future__ import annotations

from typing import Any

import pytest
from infra_synth import REPO, Synthesized, arn

from infra_cdk.app import cdk_json_context, create_app
from infra_cdk.config import ConfigError, load_config

pytestmark = pytest.mark.infra


def test_prod_stage_refuses_insecure_sources_at_synth() -> None:
    # Given cdk.json with an insecure source in the stage named prod
    context = cdk_json_context(REPO) | {"environment": "prod", "insecure_sources": ["generic"]}
    # When the app is synthesised, Then synthesis fails naming the key
    with pytest.raises(ConfigError, match="'insecure_sources': the prod stage refuses unauthenticated sources"):
        create_app(context)


def test_a_dev_stage_may_open_a_named_source_and_only_known_ones() -> None:
    config = load_config({"environment": "dev", "insecure_sources": "generic,alertmanager"})
    assert config.insecure_sources == ["generic", "alertmanager"]
    with pytest.raises(ConfigError, match="unknown source"):
        load_config({"environment": "dev", "insecure_sources": ["smoke-signals"]})


def _policies_of(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    return [r["Properties"]["PolicyDocument"] for lid, r in template["Resources"].items()
            if r["Type"] == "AWS::IAM::Policy" and lid.startswith(f"Functions{function}Role")]


def _secret_refs(statements: list[dict[str, Any]]) -> set[str]:
    refs: set[str] = set()
    for st in statements:
        if "secretsmanager:GetSecretValue" in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]]):
            resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            refs |= {r["Ref"] for r in resources if isinstance(r, dict) and "Ref" in r}
    return refs


def test_internet_facing_functions_read_no_api_token(synthesized: Synthesized) -> None:
    template = synthesized.template_json
    for function, allowed in (("Ingest", {"Webhook"}), ("Callbacks", {"Webhook", "Twilio", "Slack"})):
        statements = [s for doc in _policies_of(template, function) for s in doc["Statement"]]
        refs = _secret_refs(statements)
        assert refs, f"{function} reads its verification secret"
        assert {r for r in refs if "Pagerduty" in r} == set(), f"{function} must not read the PagerDuty API token"
        assert all(any(a in r for a in allowed) for r in refs), refs


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


REWRITES = {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def test_every_function_is_denied_audit_updates_and_deletes(synthesized: Synthesized) -> None:
    # Given every function role, the audit table and the main table of the synthesized stack
    template, stack = synthesized.template_json, synthesized.built.stack
    audit_table = arn(synthesized.logical_id(stack.audit.table))
    main_table = arn(synthesized.logical_id(stack.storage.table))
    roles = {lid for lid, r in template["Resources"].items()
             if r["Type"] == "AWS::IAM::Role" and lid.startswith("Functions") and "Role" in lid}
    # When we collect the explicit denies of rewrites, by the table they cover
    denied_audit_table: set[str] = set()
    denied_main_audit_partitions: set[str] = set()
    for r in template["Resources"].values():
        if r["Type"] != "AWS::IAM::Policy":
            continue
        for st in r["Properties"]["PolicyDocument"]["Statement"]:
            if st["Effect"] != "Deny" or not set(_as_list(st["Action"])) >= REWRITES:
                continue
            holders = {role["Ref"] for role in r["Properties"]["Roles"]}
            resources = _as_list(st["Resource"])
            if audit_table in resources:
                # every record of the audit table, whatever its key
                assert "Condition" not in st, st
                denied_audit_table |= holders
            if main_table in resources:
                # only the main table's audit partitions (records written before the audit table)
                assert st["Condition"] == {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["TENANT#default#AUDIT#*"]}}
                denied_main_audit_partitions |= holders
    # Then every function is denied rewriting audit records wherever they live
    assert roles and roles <= denied_audit_table, roles - denied_audit_table
    assert roles <= denied_main_audit_partitions, roles - denied_main_audit_partitions


def test_run_time_controls_are_ssm_parameters_read_by_act(synthesized: Synthesized) -> None:
    template = synthesized.template_json
    names = {r["Properties"]["Name"] for r in template["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"}
    assert {f"/sre-copilot/prod/controls/{n}" for n in
            ("emergency_stop", "disabled_services", "manual_override", "change_freezes", "dry_run", "approvers")} <= names
    act = [s for doc in _policies_of(template, "Act") for s in doc["Statement"]]
    assert any(s["Action"] == "ssm:GetParametersByPath" for s in act)
