"""The read API's routes on the HTTP API, behind API Gateway's JWT authorizer.

By default a Cognito user pool issues the tokens: users carry the tenant in `custom:tenant_id` and
their role as membership of the groups viewer, responder, approver or admin. With `api_jwt_issuer`
and `api_jwt_audience` any OIDC issuer does instead (Okta, Entra ID, Auth0, Google...), with
`api_tenant_claim` and `api_roles_claim` naming its claims. The webhook and callback routes keep
their own authentication (source signatures), so they are not behind this authorizer.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra_cdk.config import DeploymentConfig
from sre_copilot.api.access import Role
from sre_copilot.api.routes import ROUTES


class ReadApi(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, api: apigwv2.HttpApi,
                 function: lambda_.Function) -> None:
        super().__init__(scope, construct_id)
        self.user_pool: cognito.UserPool | None = None
        self.client: cognito.UserPoolClient | None = None
        if config.api_jwt_issuer:
            issuer = config.api_jwt_issuer
            audience = [a.strip() for a in config.api_jwt_audience.split(",") if a.strip()]
        else:
            issuer, audience = self._cognito(config)
        self.authorizer = authorizers.HttpJwtAuthorizer(
            "JwtAuthorizer", issuer, jwt_audience=audience, authorizer_name=f"{config.prefix}-read-api",
            identity_source=["$request.header.Authorization"])
        integration = integrations.HttpLambdaIntegration("ReadApi", function)
        self.routes: list[apigwv2.HttpRoute] = []
        for method, path in ROUTES:
            self.routes += api.add_routes(path=path, methods=[apigwv2.HttpMethod(method)], integration=integration,
                                          authorizer=self.authorizer)
        function.add_environment("SRE_COPILOT_API_TENANT_CLAIM", config.api_tenant_claim)
        function.add_environment("SRE_COPILOT_API_ROLES_CLAIM", config.api_roles_claim)
        CfnOutput(self, "Issuer", value=issuer, description="Issuer of the read API's JWTs")

    def _cognito(self, config: DeploymentConfig) -> tuple[str, list[str]]:
        pool = cognito.UserPool(
            self, "Users",
            user_pool_name=f"{config.prefix}-read-api",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(min_length=12, require_digits=True, require_lowercase=True,
                                                   require_uppercase=True, require_symbols=True),
            custom_attributes={"tenant_id": cognito.StringAttribute(min_len=1, max_len=32, mutable=False)},
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        for role in Role:
            cognito.CfnUserPoolGroup(self, f"{role.name.capitalize()}Group", user_pool_id=pool.user_pool_id,
                                     group_name=role.name.lower(), precedence=10 - int(role),
                                     description=f"SRE Copilot {role.name.lower()}")
        client = pool.add_client(
            "Client", user_pool_client_name=f"{config.prefix}-read-api",
            auth_flows=cognito.AuthFlow(user_srp=True), generate_secret=False,
            id_token_validity=Duration.hours(1), access_token_validity=Duration.hours(1),
            read_attributes=cognito.ClientAttributes().with_custom_attributes("tenant_id").with_standard_attributes(
                email=True))
        self.user_pool, self.client = pool, client
        CfnOutput(self, "UserPoolId", value=pool.user_pool_id, description="Cognito user pool of the read API")
        CfnOutput(self, "ClientId", value=client.user_pool_client_id, description="App client (token audience)")
        return f"https://cognito-idp.{Aws.REGION}.amazonaws.com/{pool.user_pool_id}", [client.user_pool_client_id]
