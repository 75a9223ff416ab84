"""The local API server's check of an EKS token, as the cluster's authenticator does before it asks STS.

It decodes the presigned GetCallerIdentity URL and recomputes its SigV4 signature with the
`x-k8s-aws-id` header set to this cluster's name: a token for another cluster, a token whose
signature does not cover the header, or a stale one is refused. Secret keys come from `known_keys`
(the test credentials; in AWS, STS itself holds them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlsplit

TOKEN_PREFIX = "k8s-aws-v1."
MAX_AGE_S = 15 * 60
known_keys: dict[str, str] = {"testing": "testing"}
"""access key id -> secret access key."""


def _sign(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def check_eks_token(authorization: str, cluster: str, now: datetime | None = None) -> str | None:
    """None when the header carries a valid token for `cluster`; otherwise why not."""
    if not authorization.startswith("Bearer " + TOKEN_PREFIX):
        return "expected a bearer token k8s-aws-v1.<base64url presigned STS URL>"
    encoded = authorization.removeprefix("Bearer " + TOKEN_PREFIX)
    try:
        url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except ValueError:
        return "the token is not base64url"
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if not parts.hostname or not parts.hostname.startswith("sts.") or query.get("Action") != "GetCallerIdentity":
        return "the token is not a presigned STS GetCallerIdentity URL"
    signed = query.get("X-Amz-SignedHeaders", "").split(";")
    if "x-k8s-aws-id" not in signed:
        return "the token's signature does not cover the x-k8s-aws-id header"
    try:
        access_key, date, region, service, _ = query["X-Amz-Credential"].split("/")
        issued = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        signature = query["X-Amz-Signature"]
    except (KeyError, ValueError):
        return "the token's presigned URL lacks its SigV4 parameters"
    age = ((now or datetime.now(UTC)) - issued).total_seconds()
    if age > MAX_AGE_S or age < -300:
        return f"the token is {age:.0f}s old; EKS accepts 15 minutes"
    secret = known_keys.get(access_key)
    if secret is None:
        return f"unknown access key {access_key}"
    headers = {"host": parts.netloc, "x-k8s-aws-id": cluster}
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                               for k, v in sorted(query.items()) if k != "X-Amz-Signature")
    canonical = "\n".join([
        "GET", parts.path or "/", canonical_query,
        "".join(f"{name}:{headers.get(name, '')}\n" for name in signed), ";".join(signed),
        hashlib.sha256(b"").hexdigest()])
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", query["X-Amz-Date"], scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = _sign(_sign(_sign(_sign(f"AWS4{secret}".encode(), date), region), service), "aws4_request")
    if not hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), signature):
        return f"the token was not signed for cluster {cluster}"
    return None
