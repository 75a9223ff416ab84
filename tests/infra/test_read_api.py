"""The read API in the template: every route behind the JWT authorizer, the webhook routes not;
the default Cognito issuer with the four role groups and a tenant attribute."""

from __future__ import annotations

import pytest
from infra_synth import Synthesized

from sre_copilot.api.access import Role
from sre_copilot.api.routes import ROUTES

pytestmark = pytest.mark.infra


def test_every_read_api_route_requires_a_jwt_and_no_webhook_route_does(synthesized: Synthesized) -> None:
    (authorizer_id, authorizer), = synthesized.resources("AWS::ApiGatewayV2::Authorizer").items()
    assert authorizer["Properties"]["AuthorizerType"] == "JWT"
    assert authorizer["Properties"]["IdentitySource"] == ["$request.header.Authorization"]
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in synthesized.resources("AWS::ApiGatewayV2::Route").values()}
    for method, path in ROUTES:
        props = routes[f"{method} {path}"]
        assert props["AuthorizationType"] == "JWT" and props["AuthorizerId"] == {"Ref": authorizer_id}, path
    for key, props in routes.items():
        if " /v1/" not in key:
            assert props.get("AuthorizationType", "NONE") == "NONE", key


def test_the_default_issuer_is_a_cognito_pool_with_role_groups_and_a_tenant_attribute(
        synthesized: Synthesized) -> None:
    stack = synthesized.built.stack
    (authorizer,) = synthesized.resources("AWS::ApiGatewayV2::Authorizer").values()
    jwt = authorizer["Properties"]["JwtConfiguration"]
    pool_id = synthesized.logical_id(stack.read_api.user_pool)
    assert jwt["Audience"] == [{"Ref": synthesized.logical_id(stack.read_api.client)}]
    assert {"Ref": pool_id} in jwt["Issuer"]["Fn::Join"][1]
    groups = {g["Properties"]["GroupName"] for g in synthesized.resources("AWS::Cognito::UserPoolGroup").values()}
    assert groups == {role.name.lower() for role in Role}
    (pool,) = synthesized.resources("AWS::Cognito::UserPool").values()
    props = pool["Properties"]
    assert props["MfaConfiguration"] == "ON"
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert {"AttributeDataType": "String", "Mutable": False, "Name": "tenant_id",
            "StringAttributeConstraints": {"MaxLength": "32", "MinLength": "1"}} in props["Schema"]


def test_the_api_function_gets_the_claim_names_and_no_sdk_layer(synthesized: Synthesized) -> None:
    stack = synthesized.built.stack
    function = synthesized.template_json["Resources"][synthesized.logical_id(stack.functions["api"].function)]
    env = function["Properties"]["Environment"]["Variables"]
    assert env["SRE_COPILOT_API_TENANT_CLAIM"] == "custom:tenant_id"
    assert env["SRE_COPILOT_API_ROLES_CLAIM"] == "cognito:groups"
    assert len(function["Properties"]["Layers"]) == 1
