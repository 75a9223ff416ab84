"""The tenant of a delivery that AWS vouches for: EventBridge and SNS send no custom headers, so such
a delivery cannot carry a per-tenant webhook key (ingest/tenant_keys.py).

Its origin names the tenant instead: the AWS account of an EventBridge event (`account`), or the
topic of an SNS message (`TopicArn`), mapped to a served tenant by cdk.json `aws_source_tenants`
(`Settings.aws_source_tenant_map`). The origin is trustworthy only because something checked it
before: IAM, when EventBridge or SNS invoked the ingest function (only this account's rules and
subscriptions can), or the SNS message signature, verified before this runs.

Unmapped origins: IAM-invoked deliveries belong to the deployment's tenant. An SNS delivery over
HTTPS belongs to it too while no tenant keys are in force; once they are, it must be mapped, or it
is refused like any webhook without a key (fail closed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from sre_copilot.errors import MalformedSignature, Unauthorized
from sre_copilot.ingest.auth import sns_messages


def origin_of(source: str, raw: bytes) -> str | None:
    """The SNS topic ARN (`cloudwatch-sns`) or the EventBridge event's account, if the body has one."""
    if source == "cloudwatch-sns":
        try:
            topic = sns_messages(raw)[0].get("TopicArn")
        except MalformedSignature:
            return None
        return topic if isinstance(topic, str) else None
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    account = document.get("account") if isinstance(document, dict) else None
    return account if isinstance(account, str) else None


def resolve(source: str, raw: bytes, origin_tenants: Mapping[str, str], deployment_tenant: str, *,
            invoked_by_iam: bool, keys_in_force: bool) -> str:
    """The tenant `origin_tenants` maps the delivery's origin to; else the deployment's, or 401 for
    an unmapped SNS HTTPS delivery while tenant keys are in force."""
    origin = origin_of(source, raw)
    mapped = origin_tenants.get(origin or "")
    if mapped:
        return mapped
    if invoked_by_iam or not keys_in_force:
        return deployment_tenant
    raise Unauthorized(f"SNS topic {origin or '(none)'} is not mapped to a tenant; this deployment requires a "
                       "tenant for every delivery: add the topic to the cdk.json context aws_source_tenants")
