"""Webhook authentication: the PagerDuty v3 signature vector, GitHub/Grafana HMACs, bearer, basic, headers.

The PagerDuty vector (secret, raw body, header) is PagerDuty/go-pagerduty's webhookv3 test vector,
copied with its raw body into tests/fixtures/webhooks/ (see SOURCES.md there).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sre_copilot.errors import MalformedSignature, SourceNotConfigured, Unauthorized
from sre_copilot.ingest.auth import (
    AuthPolicy,
    WebhookSecrets,
    authenticate,
    sign_github,
    sign_grafana,
    sign_pagerduty,
)


@pytest.fixture(scope="module")
def vector(fixtures_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((fixtures_dir / "pagerduty_v3_signature_test_vector.json").read_text())
    return data


@pytest.fixture(scope="module")
def signed_body(fixtures_dir: Path) -> bytes:
    return (fixtures_dir / "pagerduty_v3_incident.priority_updated_signed_body.raw.json").read_bytes()


@pytest.fixture(scope="module")
def occurred(signed_body: bytes) -> datetime:
    """The vector event's occurred_at: PagerDuty's signed timestamp, checked against a replay window."""
    return datetime.fromisoformat(json.loads(signed_body)["event"]["occurred_at"].replace("Z", "+00:00"))


def _case(vector: dict[str, Any], name: str) -> str:
    header: str = next(c for c in vector["cases"] if c["name"] == name)["header"]
    return header


# -- PagerDuty ------------------------------------------------------------------------------------
def test_pagerduty_vector_valid_signature_is_accepted(vector: dict[str, Any], signed_body: bytes,
                                                      occurred: datetime) -> None:
    # Given the vector's secret and its raw body file (byte-identical to the vector's raw_body)
    assert signed_body == vector["raw_body"].encode()
    secrets = WebhookSecrets(pagerduty=[vector["secret"]])
    # When the vector's valid header is checked, under any header-name casing, Then it passes
    authenticate("pagerduty", {"X-PagerDuty-Signature": _case(vector, "valid")}, signed_body, secrets, now=occurred)
    authenticate("pagerduty", {"x-pagerduty-signature": _case(vector, "valid")}, signed_body, secrets, now=occurred)


def test_sign_pagerduty_reproduces_the_vector(vector: dict[str, Any], signed_body: bytes) -> None:
    assert sign_pagerduty(vector["secret"], signed_body) == _case(vector, "valid")


def test_pagerduty_rotation_accepts_any_valid_entry_and_any_configured_secret(vector: dict[str, Any],
                                                                               signed_body: bytes,
                                                                               occurred: datetime) -> None:
    header = f"{_case(vector, 'mismatch')}, v1={'0' * 64},{_case(vector, 'valid')}"
    authenticate("pagerduty", {"X-PagerDuty-Signature": header}, signed_body,
                 WebhookSecrets(pagerduty=[vector["secret"]]), now=occurred)
    # and during secret rotation both the old and the new secret are configured
    authenticate("pagerduty", {"X-PagerDuty-Signature": _case(vector, "valid")}, signed_body,
                 WebhookSecrets(pagerduty=["the-new-secret", vector["secret"]]), now=occurred)


def test_pagerduty_mismatch_is_unauthorized(vector: dict[str, Any], signed_body: bytes) -> None:
    with pytest.raises(Unauthorized, match="does not match"):
        authenticate("pagerduty", {"X-PagerDuty-Signature": _case(vector, "mismatch")}, signed_body,
                     WebhookSecrets(pagerduty=[vector["secret"]]))


def test_pagerduty_signature_of_another_body_is_unauthorized(vector: dict[str, Any], signed_body: bytes) -> None:
    # the vector's "malformed_body" case: a valid header over an empty body
    with pytest.raises(Unauthorized):
        authenticate("pagerduty", {"X-PagerDuty-Signature": _case(vector, "valid")}, b"",
                     WebhookSecrets(pagerduty=[vector["secret"]]))
    with pytest.raises(Unauthorized):
        authenticate("pagerduty", {"X-PagerDuty-Signature": _case(vector, "valid")}, signed_body + b" ",
                     WebhookSecrets(pagerduty=[vector["secret"]]))


@pytest.mark.parametrize("header", ["", "   ", "v1", "v1=", "0c0b9495", "v1=xyz", "v1=0c0b94,,", "v2=" + "a" * 64,
                                    "v1=" + "g" * 64])
def test_pagerduty_malformed_header_is_malformed_signature(header: str, vector: dict[str, Any],
                                                           signed_body: bytes) -> None:
    # "" is the vector's "malformed_header" case
    with pytest.raises(MalformedSignature):
        authenticate("pagerduty", {"X-PagerDuty-Signature": header}, signed_body,
                     WebhookSecrets(pagerduty=[vector["secret"]]))


def test_pagerduty_missing_header_is_unauthorized(vector: dict[str, Any], signed_body: bytes) -> None:
    with pytest.raises(Unauthorized, match="not signed"):
        authenticate("pagerduty", {"Content-Type": "application/json"}, signed_body,
                     WebhookSecrets(pagerduty=[vector["secret"]]))


def test_pagerduty_without_configured_secret_is_refused(signed_body: bytes) -> None:
    # Fail closed (issue 13): an unset secret no longer means "no authentication"
    with pytest.raises(SourceNotConfigured, match="source not configured"):
        authenticate("pagerduty", {}, signed_body, WebhookSecrets())


def test_pagerduty_signed_but_stale_event_is_refused(vector: dict[str, Any], signed_body: bytes,
                                                     occurred: datetime) -> None:
    from datetime import timedelta

    secrets = WebhookSecrets(pagerduty=[vector["secret"]])
    with pytest.raises(Unauthorized, match="replay window"):
        authenticate("pagerduty", {"X-PagerDuty-Signature": _case(vector, "valid")}, signed_body, secrets,
                     now=occurred + timedelta(hours=2))


# -- GitHub and Grafana HMACs ----------------------------------------------------------------------
BODY = b'{"hello": "world"}'


def test_github_signature() -> None:
    secrets = WebhookSecrets(github="gh-secret")
    authenticate("github", {"X-Hub-Signature-256": sign_github("gh-secret", BODY)}, BODY, secrets)
    with pytest.raises(Unauthorized):
        authenticate("github", {"X-Hub-Signature-256": sign_github("other", BODY)}, BODY, secrets)
    with pytest.raises(Unauthorized):
        authenticate("github", {}, BODY, secrets)
    with pytest.raises(MalformedSignature):
        authenticate("github", {"X-Hub-Signature-256": "sha1=abc"}, BODY, secrets)


def test_grafana_hmac_with_and_without_timestamp() -> None:
    secrets = WebhookSecrets(grafana_hmac="g-secret")
    authenticate("grafana", {"X-Grafana-Alerting-Signature": sign_grafana("g-secret", BODY)}, BODY, secrets)
    stamped = {"X-Grafana-Alerting-Signature": sign_grafana("g-secret", BODY, "1700000000"),
               "X-Grafana-Alerting-Timestamp": "1700000000"}
    then = datetime.fromtimestamp(1700000000 + 30, tz=UTC)
    authenticate("grafana", stamped, BODY, secrets, now=then)
    with pytest.raises(Unauthorized):
        # the timestamp is part of what is signed: changing it breaks the signature
        authenticate("grafana", {**stamped, "X-Grafana-Alerting-Timestamp": "1700000001"}, BODY, secrets, now=then)
    with pytest.raises(Unauthorized, match="replay window"):
        # and a signed timestamp outside the window is a replay
        authenticate("grafana", stamped, BODY, secrets, now=datetime.fromtimestamp(1700000000 + 7200, tz=UTC))
    with pytest.raises(Unauthorized):
        authenticate("grafana", {}, BODY, secrets)
    with pytest.raises(MalformedSignature):
        authenticate("grafana", {"X-Grafana-Alerting-Signature": "not-hex"}, BODY, secrets)


def test_grafana_header_name_is_configurable() -> None:
    secrets = WebhookSecrets(grafana_hmac="g", grafana_signature_header="X-Signature")
    authenticate("grafana", {"x-signature": sign_grafana("g", BODY)}, BODY, secrets)


# -- bearer, basic and custom headers ----------------------------------------------------------------
def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_alertmanager_bearer_or_basic() -> None:
    secrets = WebhookSecrets(alertmanager_bearer="tok", alertmanager_basic=("am", "pw"))
    authenticate("alertmanager", {"Authorization": "Bearer tok"}, BODY, secrets)
    authenticate("alertmanager", {"authorization": "bearer tok"}, BODY, secrets)
    authenticate("alertmanager", {"Authorization": _basic("am", "pw")}, BODY, secrets)
    with pytest.raises(Unauthorized):
        authenticate("alertmanager", {"Authorization": "Bearer nope"}, BODY, secrets)
    with pytest.raises(Unauthorized):
        authenticate("alertmanager", {"Authorization": _basic("am", "wrong")}, BODY, secrets)
    with pytest.raises(Unauthorized):
        authenticate("alertmanager", {}, BODY, secrets)
    with pytest.raises(MalformedSignature):
        authenticate("alertmanager", {"Authorization": "Basic !!!notbase64"}, BODY, secrets)


def test_generic_bearer_and_changes_fallback() -> None:
    secrets = WebhookSecrets(generic_bearer="g")
    authenticate("generic", {"Authorization": "Bearer g"}, BODY, secrets)
    authenticate("changes", {"Authorization": "Bearer g"}, BODY, secrets)
    with pytest.raises(Unauthorized):
        authenticate("changes", {}, BODY, secrets)
    with pytest.raises(MalformedSignature):
        authenticate("generic", {"Authorization": "Bearer "}, BODY, secrets)
    # a dedicated CI token replaces the generic one for /changes
    dedicated = WebhookSecrets(generic_bearer="g", changes_bearer="ci")
    authenticate("changes", {"Authorization": "Bearer ci"}, BODY, dedicated)
    with pytest.raises(Unauthorized):
        authenticate("changes", {"Authorization": "Bearer g"}, BODY, dedicated)


def test_datadog_and_opsgenie_custom_header_or_basic() -> None:
    secrets = WebhookSecrets(datadog_header=("X-Webhook-Token", "dd"), opsgenie_basic=("og", "pw"))
    authenticate("datadog", {"x-webhook-token": "dd"}, BODY, secrets)
    with pytest.raises(Unauthorized):
        authenticate("datadog", {"X-Webhook-Token": "nope"}, BODY, secrets)
    authenticate("opsgenie", {"Authorization": _basic("og", "pw")}, BODY, secrets)
    with pytest.raises(Unauthorized):
        authenticate("opsgenie", {}, BODY, secrets)


def test_unconfigured_sources_are_refused_unless_named_insecure_and_unknown_sources_are_refused() -> None:
    sources = ("pagerduty", "alertmanager", "grafana", "datadog", "opsgenie", "generic", "cloudwatch",
               "cloudwatch-sns", "github", "changes")
    # Fail closed (issue 13): with no credentials every source answers "source not configured"
    for source in sources:
        with pytest.raises(SourceNotConfigured, match="source not configured"):
            authenticate(source, {}, BODY, WebhookSecrets())
    # unless a development deployment opens it by name
    for source in sources:
        authenticate(source, {}, BODY, WebhookSecrets(), policy=AuthPolicy(insecure_sources=frozenset({source})))
    with pytest.raises(Unauthorized, match="no authentication scheme"):
        authenticate("smoke-signals", {}, BODY, WebhookSecrets())
