"""cdk.json configuration: every key documented in cdk.json, bad values rejected by name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from infra_synth import REPO

from infra_cdk.app import cdk_json_context
from infra_cdk.config import ConfigError, DeploymentConfig, load_config

pytestmark = pytest.mark.infra


def _error_for(values: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config(values)
    return str(raised.value)


def test_cdk_json_runs_the_app_from_the_repository_root() -> None:
    assert json.loads((REPO / "cdk.json").read_text())["app"] == ".venv/bin/python -m infra_cdk.app"


def test_cdk_json_sets_every_configuration_key_and_they_validate() -> None:
    context = cdk_json_context(REPO)
    assert set(DeploymentConfig.model_fields) <= set(context), "document every key in cdk.json"
    config = load_config(context)
    assert config.stack_name == "SreCopilot-prod"
    assert config.enable_opensearch, "runbooks and precedents live in the vector collection by default"


@pytest.mark.parametrize(("values", "key"), [
    ({"log_retention_days": 8}, "log_retention_days"),
    ({"environment": "Prod_1"}, "environment"),
    ({"llm_provider": "openai"}, "llm_provider"),
    ({"reserved_concurrency": {"no_such_function": 2}}, "reserved_concurrency"),
    ({"max_receive_count": 0}, "max_receive_count"),
    ({"p2_batching_window_s": 900}, "p2_batching_window_s"),
    ({"alarm_email": "not-an-address"}, "alarm_email"),
    ({"queue_visibility_timeout_s": 30, "lambda_timeout_s": 60}, "queue_visibility_timeout_s"),
    ({"function_timeout_s": {"ingest": 60}}, "function_timeout_s"),
    ({"raw_payload_glacier_days": 20000}, "raw_payload_glacier_days"),
    ({"enable_opensarch": True}, "enable_opensarch"),
    ({"confidence_calibration": {"kind": "logistic", "a": -1.0}}, "confidence_calibration"),
    ({"tenants": ["acme", "bad#tenant"]}, "tenants"),  # '#' would reach into another tenant's keys
    ({"tenants": ["acme"], "slack_channel_tenants": {"C1": "initech"}}, "slack_channel_tenants"),  # not served
    ({"aws_source_tenants": {"123456789012": "initech"}}, "aws_source_tenants"),
])
def test_a_bad_value_is_reported_with_its_key(values: dict[str, Any], key: str) -> None:
    assert f"cdk.json context '{key}" in _error_for(values)


def test_a_misspelt_key_is_named_with_the_closest_known_one() -> None:
    assert "did you mean 'enable_opensearch'?" in _error_for({"enable_opensarch": True})


def test_cdk_own_context_keys_are_not_mistaken_for_ours() -> None:
    load_config({"@aws-cdk/core:target-partitions": ["aws"], "aws:cdk:bundling-stacks": [],
                 "acknowledged-issue-numbers": [1], "availability-zones:account=1:region=x": ["a"]})


def test_command_line_strings_are_parsed_like_cdk_json_values() -> None:
    config = load_config({"enable_opensearch": "true", "max_receive_count": "5",
                          "reserved_concurrency": '{"correlate": 4}', "bundle_layer": "false"})
    assert config.enable_opensearch is True
    assert config.max_receive_count == 5
    assert config.reserved_concurrency == {"correlate": 4}
    assert config.should_bundle_layer(environ={"CDK_DEFAULT_ACCOUNT": "123456789012"}) is False


def test_auto_bundling_follows_the_credentials_the_cli_found() -> None:
    config = load_config({})
    assert config.should_bundle_layer(environ={}) is False
    assert config.should_bundle_layer(environ={"CDK_DEFAULT_ACCOUNT": "123456789012"}) is True


def test_partial_queue_age_alarms_keep_the_other_priorities() -> None:
    assert load_config({"queue_age_alarm_s": {"P0": 60}}).queue_age_alarm_s == {
        "P0": 60, "P1": 300, "P2": 900, "P3": 1800}


def test_the_cli_entry_point_exits_with_the_key_name_on_bad_config() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["CDK_CONTEXT_JSON"] = json.dumps({"log_retention_days": 8})
    result = subprocess.run([sys.executable, "-m", "infra_cdk.app"], cwd=REPO, env=env, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 2
    assert "cdk.json context 'log_retention_days'" in result.stderr
