"""Retention tiers: hot in DynamoDB for 30 days (TTL), warm in S3 Standard-IA for a year, then
Glacier, deleted after three years, through a lifecycle rule on every artefact prefix."""

from __future__ import annotations

from typing import Any

import pytest
from infra_synth import Synthesized

from infra_cdk.constructs.storage import BASELINES_PREFIX, CATALOG_PREFIX, TIERED_PREFIXES
from sre_copilot.adapters.s3_blobs import PREFIXES
from sre_copilot.settings import Settings

pytestmark = pytest.mark.infra


def _artifact_rules(synthesized: Synthesized) -> list[dict[str, Any]]:
    bucket = synthesized.resources("AWS::S3::Bucket")[synthesized.logical_id(synthesized.built.stack.storage.bucket)]
    return list(bucket["Properties"]["LifecycleConfiguration"]["Rules"])


def test_every_artefact_prefix_tiers_to_ia_then_glacier_and_expires_after_three_years(
        synthesized: Synthesized) -> None:
    # Given the synthesized artefact bucket
    rules = {r.get("Prefix"): r for r in _artifact_rules(synthesized)}
    # Then every prefix the application writes has a rule, except the live catalog
    assert set(PREFIXES) - {CATALOG_PREFIX} <= set(rules)
    # And each incident artefact prefix is warm after 30 days, in Glacier after a year, gone after three
    for prefix in TIERED_PREFIXES.values():
        rule = rules[prefix]
        assert rule["Status"] == "Enabled"
        assert rule["Transitions"] == [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30},
                                       {"StorageClass": "GLACIER", "TransitionInDays": 365}]
        assert rule["ExpirationInDays"] == 1095
    # And baselines, rebuilt nightly, simply expire
    assert rules[BASELINES_PREFIX]["ExpirationInDays"] < 60 and "Transitions" not in rules[BASELINES_PREFIX]


def test_old_object_versions_expire_including_the_catalogs(synthesized: Synthesized) -> None:
    rules = _artifact_rules(synthesized)
    assert any("Prefix" not in r and r.get("NoncurrentVersionExpiration") for r in rules)


def test_hot_tier_is_the_tables_ttl_of_30_days(synthesized: Synthesized) -> None:
    # Given the main table, whose items carry a `ttl` epoch the store sets from the settings
    tables = [t for t in synthesized.resources("AWS::DynamoDB::Table").values()
              if t["Properties"].get("TimeToLiveSpecification", {}).get("AttributeName") == "ttl"]
    # Then TTL is enabled on it, and incident and signal items default to 30 days
    assert tables and all(t["Properties"]["TimeToLiveSpecification"]["Enabled"] for t in tables)
    assert Settings().incident_ttl_days == 30 and Settings().signal_ttl_days == 30
