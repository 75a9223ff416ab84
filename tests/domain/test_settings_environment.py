"""Settings read the environment the way the deployed functions set it (SRE_COPILOT_*, AWS_REGION),
and what a caller passes wins over the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sre_copilot.settings import Settings


def test_given_prefixed_variables_then_fields_are_read_and_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SRE_COPILOT_TENANT_ID", "acme")
    monkeypatch.setenv("SRE_COPILOT_DRY_RUN", "false")
    monkeypatch.setenv("sre_copilot_max_body_bytes", "1024")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    settings = Settings()
    assert (settings.tenant_id, settings.dry_run, settings.max_body_bytes, settings.region) == \
        ("acme", False, 1024, "eu-west-1")


def test_given_arguments_then_they_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SRE_COPILOT_TENANT_ID", "acme")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    settings = Settings(tenant_id="globex", region="us-west-2")
    assert (settings.tenant_id, settings.region) == ("globex", "us-west-2")


def test_given_no_variables_then_defaults_apply_and_unrelated_variables_are_ignored(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SRE_COPILOT_TENANT_ID", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("TENANT_ID", "not-ours")
    assert Settings().tenant_id == "default" and Settings().region == "us-east-1"


def test_given_a_bad_value_then_the_error_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SRE_COPILOT_MAX_BODY_BYTES", "lots")
    with pytest.raises(ValidationError, match="max_body_bytes"):
        Settings()
