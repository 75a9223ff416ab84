"""get_secret_json: the secret's JSON object through Powertools Parameters, cached."""

from __future__ import annotations

import json

import boto3
import pytest
from aws_test_support import REGION

from sre_copilot.adapters.secrets import get_secret_json
from sre_copilot.errors import ConfigurationError
from sre_copilot.settings import Settings


def test_secret_json_is_read_and_cached(settings: Settings) -> None:
    # Given the Slack credentials as a JSON secret
    client = boto3.client("secretsmanager", region_name=REGION)
    arn = client.create_secret(Name="sre-copilot/slack",
                               SecretString=json.dumps({"bot_token": "xoxb-1", "signing_secret": "s1"}))["ARN"]
    # When it is read, rotated, and read again (cached), then read with force_fetch
    first = get_secret_json(arn, settings=settings)
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({"bot_token": "xoxb-2", "signing_secret": "s2"}))
    cached = get_secret_json(arn, settings=settings)
    fresh = get_secret_json(arn, settings=settings, force_fetch=True)
    # Then the object comes back, the cache spares the second call, and force_fetch sees the rotation
    assert first == cached == {"bot_token": "xoxb-1", "signing_secret": "s1"}
    assert fresh == {"bot_token": "xoxb-2", "signing_secret": "s2"}


def test_unusable_secrets_are_configuration_errors(settings: Settings) -> None:
    # Given a secret that is not JSON and one that is a JSON list
    client = boto3.client("secretsmanager", region_name=REGION)
    plain = client.create_secret(Name="plain", SecretString="hunter2")["ARN"]
    listed = client.create_secret(Name="listed", SecretString="[1, 2]")["ARN"]
    # When they, a missing secret, or no ARN at all are read
    # Then each error says what to fix
    with pytest.raises(ConfigurationError, match="not JSON"):
        get_secret_json(plain, settings=settings)
    with pytest.raises(ConfigurationError, match="not an object"):
        get_secret_json(listed, settings=settings)
    with pytest.raises(ConfigurationError, match="GetSecretValue"):
        get_secret_json(f"arn:aws:secretsmanager:{REGION}:123456789012:secret:missing-AbCdEf", settings=settings)
    with pytest.raises(ConfigurationError, match="SECRET_ARN"):
        get_secret_json("", settings=settings)
