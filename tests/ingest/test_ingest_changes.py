"""Change events: the scenario `changes[]` shape, GitHub deployment_status, CodeDeploy and ECS events.

GitHub, CodeDeploy and ECS bodies follow the documented shapes (GitHub webhook docs "deployment_status";
EventBridge "CodeDeploy Deployment State-change Notification"; ECS "ECS Deployment State Change").
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sre_copilot.domain.types import ChangeKind
from sre_copilot.errors import InvalidPayload, MalformedSignature, Unauthorized
from sre_copilot.ingest.auth import WebhookSecrets, authenticate, sign_github
from sre_copilot.ingest.changes import parse_change

SCENARIOS = Path(__file__).resolve().parents[3] / "shared" / "scenarios"


def test_every_scenario_change_parses() -> None:
    for path in sorted(SCENARIOS.glob("*[0-9].json")):
        for item in json.loads(path.read_text())["changes"]:
            # replay drops null fields before posting, as a CI pipeline would omit them
            body = json.dumps({k: v for k, v in item.items() if v is not None}).encode()
            change = parse_change(body, {"Content-Type": "application/json"}, tenant_id="t1")
            assert change is not None
            assert (change.id, change.service, change.kind.value, change.tenant_id) == \
                (item["id"], item["service"], item["kind"], "t1")
            assert change.version == item.get("version")
            assert change.status == "succeeded" and change.source == "generic"


def test_generic_change_fields_and_in_progress() -> None:
    body = {"at": 1772618520000, "service": "checkout", "kind": "rollback", "id": "rb-1", "version": "v2.3.0",
            "previous_version": "v2.3.1", "summary": "roll back grpc bump", "author": "jane",
            "target": "deployment/checkout", "status": "succeeded"}
    change = parse_change(body, {})
    assert change is not None
    assert (change.kind, change.at, change.target) == (ChangeKind.ROLLBACK, datetime(2026, 3, 4, 10, 2, tzinfo=UTC),
                                                       "deployment/checkout")
    assert parse_change({**body, "status": "in_progress"}, {}) is None
    assert parse_change({**body, "status": "failed"}, {}).status == "failed"  # type: ignore[union-attr]


@pytest.mark.parametrize(("body", "reason"), [
    (b"not json", "not valid JSON"),
    (b"[]", "must be a JSON object"),
    (b'{"service": "checkout", "kind": "deploy", "id": "d"}', r"at 'at': Field required"),
    (b'{"at": "2026-03-04T10:00:00Z", "service": "checkout", "kind": "yolo", "id": "d"}', r"at 'kind'"),
    (b'{"at": "someday", "service": "checkout", "kind": "deploy", "id": "d"}', r"'at' is not a time"),
    (b'{"at": "2026-03-04T10:00:00Z", "service": "", "kind": "deploy", "id": "d"}', r"at 'service'"),
])
def test_garbage_is_invalid(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        parse_change(body, {})


# -- GitHub ---------------------------------------------------------------------------------------
def _github(state: str, **deployment: Any) -> dict[str, Any]:
    return {
        "action": "created",
        "deployment_status": {"id": 1, "state": state, "environment": "production",
                              "description": "Deployment finished successfully.",
                              "created_at": "2026-03-04T10:02:00Z", "updated_at": "2026-03-04T10:02:05Z",
                              "creator": {"login": "deploy-bot"}},
        "deployment": {"id": 987654, "sha": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "ref": "v2.3.1",
                       "task": "deploy", "environment": "production", "description": "bump grpc client",
                       "payload": {"service": "checkout", "previous_version": "v2.3.0",
                                   "target": "deployment/checkout"},
                       "creator": {"login": "jane"}, "created_at": "2026-03-04T10:00:00Z", **deployment},
        "repository": {"name": "checkout-service", "full_name": "acme/checkout-service"},
        "sender": {"login": "deploy-bot"},
    }


GH = {"X-GitHub-Event": "deployment_status", "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}


def test_github_successful_deployment_is_a_change() -> None:
    change = parse_change(json.dumps(_github("success")).encode(), GH)
    assert change is not None
    assert (change.id, change.service, change.kind, change.version, change.previous_version) == \
        ("github-deployment-987654", "checkout", ChangeKind.DEPLOY, "v2.3.1", "v2.3.0")
    assert (change.at, change.author, change.source, change.target, change.status) == \
        (datetime(2026, 3, 4, 10, 2, 5, tzinfo=UTC), "jane", "github", "deployment/checkout", "succeeded")
    assert change.summary == "bump grpc client"


def test_github_failed_branch_and_rollback_deployments() -> None:
    failed = parse_change(_github("failure", ref="main", payload={}), GH)
    assert failed is not None
    assert (failed.status, failed.service, failed.version) == ("failed", "checkout-service", "a1b2c3d4e5f6")
    rollback = parse_change(_github("success", task="deploy:rollback"), GH)
    assert rollback is not None and rollback.kind is ChangeKind.ROLLBACK


@pytest.mark.parametrize("state", ["pending", "queued", "in_progress", "inactive"])
def test_github_unfinished_states_are_not_changes(state: str) -> None:
    assert parse_change(_github(state), GH) is None


def test_github_ping_and_other_events_are_ignored() -> None:
    assert parse_change({"zen": "Design for failure.", "hook_id": 1}, {"x-github-event": "ping"}) is None
    assert parse_change({"ref": "refs/heads/main"}, {"X-GitHub-Event": "push"}) is None


def test_github_garbage_deployment_status_is_invalid() -> None:
    with pytest.raises(InvalidPayload, match="deployment_status"):
        parse_change({"deployment": {}}, GH)


def test_github_signature_is_verified_by_authenticate() -> None:
    raw = json.dumps(_github("success")).encode()
    secrets = WebhookSecrets(github="gh-webhook-secret")
    authenticate("github", {**GH, "X-Hub-Signature-256": sign_github("gh-webhook-secret", raw)}, raw, secrets)
    with pytest.raises(Unauthorized):
        authenticate("github", {**GH, "X-Hub-Signature-256": sign_github("wrong", raw)}, raw, secrets)
    with pytest.raises(MalformedSignature):
        authenticate("github", {**GH, "X-Hub-Signature-256": "sha256=zz"}, raw, secrets)


# -- CodeDeploy and ECS ---------------------------------------------------------------------------------
def _codedeploy(state: str, kind: str = "CodeDeploy Deployment State-change Notification") -> dict[str, Any]:
    return {"account": "123456789012", "region": "us-east-1", "detail-type": kind, "source": "aws.codedeploy",
            "version": "0", "time": "2026-03-04T10:03:00Z", "id": "c071bfbf-83c4-49ca-a6ff-3df053957145",
            "resources": ["arn:aws:codedeploy:us-east-1:123456789012:application:checkout"],
            "detail": {"instanceGroupId": "9fd2fbef", "region": "us-east-1", "application": "checkout",
                       "deploymentId": "d-ABCDEF123", "state": state, "deploymentGroup": "checkout-prod"}}


def test_codedeploy_completed_deployments() -> None:
    success = parse_change(_codedeploy("SUCCESS"), {})
    assert success is not None
    assert (success.id, success.service, success.status, success.source, success.at) == \
        ("d-ABCDEF123", "checkout", "succeeded", "codedeploy", datetime(2026, 3, 4, 10, 3, tzinfo=UTC))
    failure = parse_change(_codedeploy("FAILURE"), {})
    assert failure is not None and failure.status == "failed"
    assert parse_change(_codedeploy("START"), {}) is None
    assert parse_change(_codedeploy("SUCCESS", kind="CodeDeploy Instance State-change Notification"), {}) is None


def _ecs(event_name: str, reason: str = "ECS deployment ecs-svc/123 completed.") -> dict[str, Any]:
    return {"version": "0", "id": "ddca6449-b258-46c0-8653-e0e3a6d0c7e6", "detail-type": "ECS Deployment State Change",
            "source": "aws.ecs", "account": "111122223333", "time": "2026-03-04T10:04:00Z", "region": "us-west-2",
            "resources": ["arn:aws:ecs:us-west-2:111122223333:service/prod/checkout"],
            "detail": {"eventType": "INFO", "eventName": event_name, "deploymentId": "ecs-svc/123",
                       "updatedAt": "2026-03-04T10:03:59Z", "reason": reason}}


def test_ecs_deployment_events() -> None:
    done = parse_change(_ecs("SERVICE_DEPLOYMENT_COMPLETED"), {})
    assert done is not None
    assert (done.id, done.service, done.target, done.status, done.kind) == \
        ("ecs-svc/123", "checkout", "service/prod/checkout", "succeeded", ChangeKind.DEPLOY)
    assert done.at == datetime(2026, 3, 4, 10, 3, 59, tzinfo=UTC)
    failed = parse_change(_ecs("SERVICE_DEPLOYMENT_FAILED", "ECS deployment circuit breaker: rolling back to "
                                                              "deploymentId ecs-svc/122."), {})
    assert failed is not None and (failed.status, failed.kind) == ("failed", ChangeKind.ROLLBACK)
    assert parse_change(_ecs("SERVICE_DEPLOYMENT_IN_PROGRESS"), {}) is None


def test_other_eventbridge_events_are_not_changes() -> None:
    assert parse_change({"id": "1", "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
                         "detail": {"state": "running"}}, {}) is None
