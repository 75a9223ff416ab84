"""Findings 1, 2, 7 and 8 of the security review, replayed as attacks against the deployed ingest
handler with the secrets as the stack creates them (every secret `{}`, no insecure sources).

Each test is the attack; each asserts the refusal and that nothing was stored or queued.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sre_copilot.ingest.auth import sign_pagerduty
from sre_copilot.local.runtime import LocalDeployment
from sre_copilot.services.ingest_service import delivery_id_for

T0 = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
STACK_SECRETS: dict[str, dict[str, Any]] = {name: {} for name in
                                            ("pagerduty", "slack", "twilio", "llm", "webhook", "kubernetes")}
"""What `infra_cdk.constructs.secrets` creates: every secret an empty JSON object."""

CATALOG = {"services": [{"name": "checkout", "tier": 1, "depends_on": []}]}
GENERIC_P0 = json.dumps({"title": "checkout down", "severity": "critical", "service": "checkout",
                         "fingerprint": "forged-p0"}).encode()
PD_RESOLVED = json.dumps({"event": {"id": "01FORGED", "event_type": "incident.resolved", "resource_type": "incident",
                                    "occurred_at": "2026-03-10T19:59:00Z", "data": {
                                        "id": "PABC123", "type": "incident", "title": "checkout down",
                                        "status": "resolved", "service": {"summary": "checkout"},
                                        "urgency": "high"}}}).encode()


def _stored_objects(d: LocalDeployment) -> list[str]:
    listing = d.session.client("s3").list_objects_v2(Bucket="sre-copilot-artifacts")
    return [o["Key"] for o in listing.get("Contents", []) if not o["Key"].startswith("catalog/")]


def _queued(d: LocalDeployment) -> int:
    sqs = d.session.client("sqs")
    urls = [*d.queue_urls.values(), d.review_queue_url]
    return sum(int(sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["ApproximateNumberOfMessages"])
                   ["Attributes"]["ApproximateNumberOfMessages"]) for u in urls)


@pytest.fixture()
def as_deployed() -> Iterator[LocalDeployment]:
    with LocalDeployment(start=T0, secrets=STACK_SECRETS, insecure_sources=()) as d:
        d.put_catalog(CATALOG)
        yield d


@pytest.mark.parametrize("source", ["pagerduty", "cloudwatch", "cloudwatch-sns", "alertmanager", "grafana",
                                    "datadog", "opsgenie", "generic"])
def test_finding_1_unset_secret_no_longer_means_no_authentication(as_deployed: LocalDeployment,
                                                                   source: str) -> None:
    # Given the stack's empty secrets, When an unauthenticated delivery arrives
    status, body = as_deployed.http("POST", f"/webhooks/{source}", GENERIC_P0, {"Content-Type": "application/json"})
    # Then it is refused in one sentence and nothing is archived, stored or queued
    assert status == 401
    assert isinstance(body, dict)
    if source == "cloudwatch-sns":  # needs no secret: the SNS signature is always checked
        assert body["code"] == "unauthorized" and "not signed" in body["error"]
    else:
        assert body["code"] == "source_not_configured"
        assert body["error"].startswith("source not configured")
    assert _stored_objects(as_deployed) == [] and _queued(as_deployed) == 0


def test_finding_1_forged_resolve_and_forged_p0_change_nothing_and_ring_no_phone(as_deployed: LocalDeployment) -> None:
    # When an attacker posts a PagerDuty incident.resolved with a signature of their own secret
    forged = {"X-PagerDuty-Signature": sign_pagerduty("attacker-secret", PD_RESOLVED)}
    status, _ = as_deployed.http("POST", "/webhooks/pagerduty", PD_RESOLVED, forged)
    assert status == 401
    # and a P0 to the generic route, letting the deployment run its timers
    status, _ = as_deployed.http("POST", "/webhooks/generic", GENERIC_P0, {})
    assert status == 401
    as_deployed.settle()
    # Then no incident exists and nobody was called
    assert as_deployed.container.store.open_incidents("default") == []
    assert as_deployed.sinks.requests == []  # no Slack post, no Twilio call, no PagerDuty request


def test_finding_2_a_github_header_does_not_switch_changes_to_an_unset_scheme() -> None:
    # Given /changes configured with a CI bearer token and no GitHub secret
    secrets = {**STACK_SECRETS, "webhook": {"changes_bearer": "ci-token"}}
    change = json.dumps({"at": "2026-03-10T19:55:00Z", "service": "checkout", "kind": "deploy",
                         "id": "deploy-evil"}).encode()
    with LocalDeployment(start=T0, secrets=secrets, insecure_sources=()) as d:
        # When the attacker adds X-GitHub-Event and no credentials
        status, body = d.http("POST", "/changes", change, {"X-GitHub-Event": "deployment_status"})
        # Then the configured bearer scheme still applies
        assert status == 401, body
        assert d.container.store.changes_between("default", T0.replace(hour=0), T0) == []
        # and the CI token is what works
        status, _ = d.http("POST", "/changes", change, {"Authorization": "Bearer ci-token"})
        assert status == 202


def test_finding_7_idempotency_key_ignores_unsigned_headers() -> None:
    # Given one signed body sent twice with different delivery headers
    key_a = delivery_id_for("pagerduty", {"X-Webhook-Id": "a", "X-Delivery-Id": "1"}, PD_RESOLVED)
    key_b = delivery_id_for("pagerduty", {"X-Webhook-Id": "b", "X-Delivery-Id": "2"}, PD_RESOLVED)
    # Then both map to the event id inside the signed body: the second is a retry, not a new delivery
    assert key_a == key_b == "pagerduty:01FORGED"
    raw = b'{"title": "x"}'
    assert delivery_id_for("generic", {"X-GitHub-Delivery": "1"}, raw) == delivery_id_for("generic", {}, raw)


def test_finding_7_a_replayed_signed_pagerduty_event_outside_the_window_is_refused() -> None:
    secret = "pd-secret"
    secrets = {**STACK_SECRETS, "webhook": {"pagerduty_webhook_secrets": [secret]}}
    later = datetime(2026, 3, 10, 23, 0, tzinfo=UTC)  # three hours after occurred_at
    with LocalDeployment(start=later, secrets=secrets, insecure_sources=()) as d:
        status, body = d.http("POST", "/webhooks/pagerduty", PD_RESOLVED,
                              {"X-PagerDuty-Signature": sign_pagerduty(secret, PD_RESOLVED)})
        assert status == 401 and "replay window" in body["error"]
        assert _stored_objects(d) == []


def test_finding_8_unauthenticated_bodies_cost_nothing_and_parse_failures_are_400(as_deployed: LocalDeployment) -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    # An unauthenticated deeply nested body is refused before it is parsed or archived
    status, _ = as_deployed.http("POST", "/webhooks/generic", deep[:250_000], {})
    assert status == 401 and _stored_objects(as_deployed) == []


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"title": "\xff\xfe"}', b"[1, 2]",
                                  b'"just a string"', b'{"title": NaN}'])
def test_finding_8_authenticated_parse_failures_are_400_never_500(body: bytes) -> None:
    secrets = {**STACK_SECRETS, "webhook": {"generic_bearer": "tok"}}
    with LocalDeployment(start=T0, secrets=secrets, insecure_sources=()) as d:
        d.put_catalog(CATALOG)
        status, answer = d.http("POST", "/webhooks/generic", body, {"Authorization": "Bearer tok"})
    assert status == 400, answer
