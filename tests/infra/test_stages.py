"""Two stages synthesized from the same app with different context: dev (no vector collection,
short retention, data deleted with the stack, an external OIDC issuer) and prod (cdk.json)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template
from infra_synth import TEST_OVERRIDES, Synthesized

from infra_cdk.app import cdk_json_context, create_app
from infra_cdk.config import ConfigError
from infra_cdk.stages import available

pytestmark = pytest.mark.infra

OKTA = "https://example.okta.com/oauth2/default"


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    context = cdk_json_context() | TEST_OVERRIDES | {"stage": "dev", "api_jwt_issuer": OKTA,
                                                      "api_jwt_audience": "api://sre-copilot"}
    context["enable_opensearch"] = cdk_json_context()["enable_opensearch"]  # leave it to the stage file
    built = create_app(context, outdir=str(tmp_path_factory.mktemp("cdk.out.dev")))
    artifact = built.app.synth().get_stack_artifact(built.stack.artifact_id)
    return {"built": built, "template": artifact.template}


def _of_type(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def test_the_stages_shipped_are_dev_and_prod() -> None:
    assert available() == ["dev", "prod"]


def test_dev_differs_from_prod_where_its_stage_file_says(dev: dict[str, Any], synthesized: Synthesized) -> None:
    prod = synthesized.template_json
    assert dev["built"].stack.stack_name == "SreCopilot-dev" and synthesized.built.stack.stack_name == "SreCopilot-prod"
    assert _of_type(dev["template"], "AWS::OpenSearchServerless::Collection") == []
    assert len(_of_type(prod, "AWS::OpenSearchServerless::Collection")) == 1
    def table(stage: dict[str, Any], built: Any) -> dict[str, Any]:
        return stage["Resources"][built.stack.get_logical_id(built.stack.storage.table.node.default_child)]

    assert table(dev["template"], dev["built"])["DeletionPolicy"] == "Delete"
    assert table(prod, synthesized.built)["DeletionPolicy"] == "Retain"
    dev_logs = {g["Properties"].get("RetentionInDays") for g in _of_type(dev["template"], "AWS::Logs::LogGroup")}
    assert dev_logs == {14}
    names = {f["Properties"]["FunctionName"] for f in _of_type(dev["template"], "AWS::Lambda::Function")
             if isinstance(f["Properties"].get("FunctionName"), str)}
    assert names and all(n.startswith("sre-copilot-dev-") for n in names)


def test_dev_uses_the_external_oidc_issuer_and_creates_no_user_pool(dev: dict[str, Any]) -> None:
    template = Template.from_json(dev["template"])
    template.resource_count_is("AWS::Cognito::UserPool", 0)
    template.has_resource_properties("AWS::ApiGatewayV2::Authorizer", {
        "AuthorizerType": "JWT", "JwtConfiguration": {"Issuer": OKTA, "Audience": ["api://sre-copilot"]}})


def test_a_command_line_value_wins_over_the_stage_file(tmp_path: Any) -> None:
    context = cdk_json_context() | TEST_OVERRIDES | {"stage": "dev", "log_retention_days": 30}
    built = create_app(context, outdir=str(tmp_path))
    assert built.config.log_retention_days == 30 and built.config.environment == "dev"


def test_an_unknown_stage_fails_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="dev, prod"):
        create_app(cdk_json_context() | TEST_OVERRIDES | {"stage": "qa"})
