"""The tenant of deliveries AWS vouches for (EventBridge events, SNS messages), which carry no key."""

from __future__ import annotations

import json

import pytest

from sre_copilot.errors import Unauthorized
from sre_copilot.ingest.aws_origin_tenants import origin_of, resolve

TOPIC = "arn:aws:sns:eu-west-1:210987654321:alarms"
ORIGINS = {"210987654321": "globex", TOPIC: "acme"}


def _event(account: str) -> bytes:
    return json.dumps({"detail-type": "CloudWatch Alarm State Change", "account": account, "detail": {}}).encode()


def _sns_records(topic: str) -> bytes:
    return json.dumps({"Records": [{"EventSource": "aws:sns", "Sns": {"TopicArn": topic, "Message": "{}"}}]}).encode()


def _sns_https(topic: str) -> bytes:
    return json.dumps({"Type": "Notification", "TopicArn": topic, "Message": "{}"}).encode()


def test_the_origin_is_the_events_account_or_the_messages_topic() -> None:
    assert origin_of("cloudwatch", _event("210987654321")) == "210987654321"
    assert origin_of("cloudwatch-sns", _sns_records(TOPIC)) == TOPIC
    assert origin_of("cloudwatch-sns", _sns_https(TOPIC)) == TOPIC
    assert origin_of("cloudwatch", b"not json") is None


@pytest.mark.parametrize(("source", "body", "tenant"), [
    ("cloudwatch", _event("210987654321"), "globex"),
    ("cloudwatch-sns", _sns_records(TOPIC), "acme"),
    ("cloudwatch", _event("123456789012"), "default"),  # unmapped: IAM vouched for this account's rule
])
def test_iam_invoked_deliveries_take_the_mapped_tenant_else_the_deployments(source: str, body: bytes,
                                                                           tenant: str) -> None:
    assert resolve(source, body, ORIGINS, "default", invoked_by_iam=True, keys_in_force=True) == tenant


def test_an_unmapped_sns_https_delivery_is_refused_while_tenant_keys_are_in_force() -> None:
    # Given an SNS message over HTTPS (its signature verified) from a topic no tenant is mapped to
    other = _sns_https("arn:aws:sns:eu-west-1:999999999999:someone-elses")
    # Then with tenant keys in force it is refused, naming the setting; without, it is the deployment's
    with pytest.raises(Unauthorized, match="aws_source_tenants"):
        resolve("cloudwatch-sns", other, ORIGINS, "default", invoked_by_iam=False, keys_in_force=True)
    assert resolve("cloudwatch-sns", other, ORIGINS, "default", invoked_by_iam=False, keys_in_force=False) == "default"
    # And a mapped topic over HTTPS names its tenant
    assert resolve("cloudwatch-sns", _sns_https(TOPIC), ORIGINS, "default", invoked_by_iam=False,
                   keys_in_force=True) == "acme"
