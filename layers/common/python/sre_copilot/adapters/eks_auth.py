"""EKS authentication as `aws eks get-token` does it, without the AWS CLI or kubectl.

The token is a presigned STS GetCallerIdentity URL whose signature covers an `x-k8s-aws-id`
header naming the cluster, base64url-encoded (no padding) behind `k8s-aws-v1.`. The API server's
authenticator replays it to STS with its own cluster name, so a token made for another cluster, or
older than its 60-second presign window plus EKS's 15-minute acceptance, is refused. Tokens are
cached for 14 minutes and refreshed through the kubernetes client's `refresh_api_key_hook`.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import boto3

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_HEADER = "x-k8s-aws-id"
PRESIGN_EXPIRES_S = 60
REFRESH_AFTER_S = 14 * 60


def eks_token(cluster_name: str, region: str, session: boto3.session.Session | None = None) -> str:
    session = session or boto3.session.Session()
    sts = session.client("sts", region_name=region, endpoint_url=f"https://sts.{region}.amazonaws.com")

    def add_cluster_header(request: Any, **_: Any) -> None:
        request.headers[CLUSTER_HEADER] = cluster_name

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=PRESIGN_EXPIRES_S, HttpMethod="GET")
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


class EksTokenSource:
    """Fresh tokens for a kubernetes `Configuration` (install with `install`)."""

    def __init__(self, cluster_name: str, region: str, session: boto3.session.Session | None = None) -> None:
        self.cluster_name, self.region, self.session = cluster_name, region, session
        self._token = ""
        self._made_at = 0.0

    def token(self) -> str:
        if not self._token or time.monotonic() - self._made_at > REFRESH_AFTER_S:
            self._token = eks_token(self.cluster_name, self.region, self.session)
            self._made_at = time.monotonic()
        return self._token

    def install(self, configuration: Any) -> None:
        configuration.api_key = {"BearerToken": self.token()}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}

        def refresh(config: Any) -> None:
            config.api_key["BearerToken"] = self.token()

        configuration.refresh_api_key_hook = refresh
