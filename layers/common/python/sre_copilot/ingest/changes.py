"""Change events from CI/CD: our generic schema, GitHub `deployment_status`, CodeDeploy and ECS.

`parse_change` returns a `ChangeEvent`, or None for a delivery that is not a completed change
(GitHub ping or other events, pending/in-progress deployment states, CodeDeploy instance events),
and raises `InvalidPayload` for anything that is not a payload these senders produce. Signatures
are checked separately (`authenticate(source="github", ...)` for GitHub).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError, field_validator

from sre_copilot.domain.change import ChangeEvent
from sre_copilot.domain.types import ChangeKind
from sre_copilot.errors import InvalidPayload
from sre_copilot.ingest.fields import require_time, text_or_none
from sre_copilot.ingest.normalize import decode_json
from sre_copilot.ingest.payload import PayloadModel, describe, reading, validate

_MAX_BYTES = 262_144
_IN_PROGRESS = {"in_progress", "in-progress", "pending", "queued", "started", "running", "created"}
_STATUS_WORDS = {"succeeded": "succeeded", "success": "succeeded", "successful": "succeeded",
                 "completed": "succeeded", "done": "succeeded", "failed": "failed", "failure": "failed",
                 "error": "failed", "rolled_back": "rolled_back", "rolled-back": "rolled_back"}


class GenericChange(PayloadModel):
    id: str = Field(min_length=1, max_length=256)
    service: str = Field(min_length=1, max_length=256)
    kind: ChangeKind
    at: str | int | float
    version: str | None = Field(default=None, max_length=256)
    previous_version: str | None = Field(default=None, max_length=256)
    summary: str = Field(default="", max_length=2048)
    author: str | None = Field(default=None, max_length=256)
    target: str | None = Field(default=None, max_length=512)
    status: str = "succeeded"
    source: str = Field(default="generic", max_length=64)

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        word = value.strip().lower()
        if word not in _STATUS_WORDS and word not in _IN_PROGRESS:
            raise ValueError("status must be succeeded, failed, rolled_back or in_progress")
        return word


class GhUser(PayloadModel):
    login: str | None = None


class GhDeployment(PayloadModel):
    id: int | str
    sha: str | None = None
    ref: str | None = None
    task: str | None = None
    environment: str | None = None
    description: str | None = None
    payload: dict[str, Any] | str | None = None
    creator: GhUser | None = None
    created_at: str | None = None


class GhDeploymentStatus(PayloadModel):
    state: str = Field(min_length=1, max_length=64)
    environment: str | None = None
    description: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    creator: GhUser | None = None


class GhRepository(PayloadModel):
    name: str = Field(min_length=1, max_length=256)
    full_name: str | None = None


class GhDeploymentStatusEvent(PayloadModel):
    deployment_status: GhDeploymentStatus
    deployment: GhDeployment
    repository: GhRepository
    sender: GhUser | None = None


class AwsEvent(PayloadModel):
    id: str = Field(min_length=1, max_length=256)
    detail_type: str = Field(alias="detail-type", max_length=256)
    source: str = Field(max_length=128)
    time: str | None = None
    resources: list[str] = Field(default_factory=list)
    detail: dict[str, Any]


class CodeDeployDetail(PayloadModel):
    deploymentId: str = Field(min_length=1, max_length=256)
    application: str = Field(min_length=1, max_length=256)
    deploymentGroup: str | None = None
    state: str = Field(min_length=1, max_length=64)


class EcsDeploymentDetail(PayloadModel):
    eventName: str = Field(min_length=1, max_length=128)
    deploymentId: str = Field(min_length=1, max_length=256)
    updatedAt: str | None = None
    reason: str | None = None


_GITHUB_STATES = {"success": "succeeded", "failure": "failed", "error": "failed"}
_CODEDEPLOY_STATES = {"SUCCESS": "succeeded", "FAILURE": "failed", "STOP": "failed"}
_ECS_EVENTS = {"SERVICE_DEPLOYMENT_COMPLETED": "succeeded", "SERVICE_DEPLOYMENT_FAILED": "failed"}
_VERSION_REF = re.compile(r"^v?\d+(?:\.\d+)*(?:[-+.][0-9A-Za-z.-]+)?$")


def parse_change(body: bytes | str | Mapping[str, Any], headers: Mapping[str, str], *,
                 tenant_id: str = "default") -> ChangeEvent | None:
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    document = decode_json(body, max_bytes=_MAX_BYTES, what="change event")
    if not isinstance(document, dict):
        raise InvalidPayload("change event must be a JSON object")
    github_event = lowered.get("x-github-event")
    if github_event is not None:
        return _github(document, tenant_id) if github_event == "deployment_status" else None
    if "detail-type" in document:
        return _aws(document, tenant_id)
    return _generic(document, tenant_id)


def _generic(document: dict[str, Any], tenant_id: str) -> ChangeEvent | None:
    change = validate(GenericChange, document, "changes")
    if change.status in _IN_PROGRESS:
        return None
    with reading("changes"):
        at = require_time(change.at, "at")
    if at is None:
        raise InvalidPayload("change event is invalid at 'at': not a time")
    return _change(id=change.id, tenant_id=tenant_id, service=change.service, kind=change.kind, at=at,
                       version=change.version, previous_version=change.previous_version, summary=change.summary,
                       author=change.author, source=change.source, target=change.target,
                       status=_STATUS_WORDS[change.status])


def _github(document: dict[str, Any], tenant_id: str) -> ChangeEvent | None:
    event = validate(GhDeploymentStatusEvent, document, "changes")
    status = _GITHUB_STATES.get(event.deployment_status.state.lower())
    if status is None:
        return None
    deployment = event.deployment
    payload = deployment.payload if isinstance(deployment.payload, dict) else {}
    with reading("changes"):
        at = (require_time(event.deployment_status.updated_at, "deployment_status.updated_at")
              or require_time(event.deployment_status.created_at, "deployment_status.created_at"))
    if at is None:
        raise InvalidPayload("GitHub deployment_status has no created_at or updated_at time")
    ref = text_or_none(deployment.ref)
    sha = text_or_none(deployment.sha)
    version = (text_or_none(payload.get("version"))
               or (ref if ref and _VERSION_REF.match(ref) else None) or (sha[:12] if sha else ref))
    task = (deployment.task or "deploy").lower()
    rollback = "rollback" in task or bool(payload.get("rollback"))
    environment = event.deployment_status.environment or deployment.environment
    summary = (text_or_none(deployment.description) or text_or_none(event.deployment_status.description)
               or f"{task} {ref or sha or ''} to {environment or 'an environment'}")
    author = (deployment.creator.login if deployment.creator else None) or \
        (event.sender.login if event.sender else None)
    return _change(
        id=f"github-deployment-{str(deployment.id)[:200]}", tenant_id=tenant_id,
        service=(text_or_none(payload.get("service")) or event.repository.name)[:256],
        kind=ChangeKind.ROLLBACK if rollback else ChangeKind.DEPLOY, at=at,
        version=version[:256] if version else None,
        previous_version=(text_or_none(payload.get("previous_version")) or "")[:256] or None,
        summary=summary[:2048], author=author, source="github",
        target=(text_or_none(payload.get("target")) or "")[:512] or None, status=status,
    )


def _aws(document: dict[str, Any], tenant_id: str) -> ChangeEvent | None:
    event = validate(AwsEvent, document, "changes")
    with reading("changes"):
        event_time = require_time(event.time, "time")
    if event.source == "aws.codedeploy" and event.detail_type == "CodeDeploy Deployment State-change Notification":
        detail = validate(CodeDeployDetail, event.detail, "changes", "detail")
        status = _CODEDEPLOY_STATES.get(detail.state.upper())
        if status is None or event_time is None:
            return None
        group = detail.deploymentGroup or detail.application
        return _change(id=detail.deploymentId, tenant_id=tenant_id, service=detail.application,
                           kind=ChangeKind.DEPLOY, at=event_time, source="codedeploy",
                           summary=f"CodeDeploy deployment {detail.deploymentId} of {group}: {detail.state.lower()}",
                           target=f"codedeploy/{detail.application}/{group}"[:512], status=status)
    if event.source == "aws.ecs" and event.detail_type == "ECS Deployment State Change":
        detail_ecs = validate(EcsDeploymentDetail, event.detail, "changes", "detail")
        status = _ECS_EVENTS.get(detail_ecs.eventName)
        if status is None:
            return None
        with reading("changes"):
            at = require_time(detail_ecs.updatedAt, "detail.updatedAt") or event_time
        arn = next((r for r in event.resources if ":service/" in r), None)
        if at is None or arn is None:
            raise InvalidPayload("ECS deployment event names no service ARN or time")
        path = arn.split(":service/", 1)[1]
        reason = detail_ecs.reason or ""
        rollback = "rollback" in reason.lower() or "rolling back" in reason.lower()
        return _change(id=detail_ecs.deploymentId, tenant_id=tenant_id, service=path.rsplit("/", 1)[-1][:256],
                           kind=ChangeKind.ROLLBACK if rollback else ChangeKind.DEPLOY, at=at, source="ecs",
                           summary=(reason or f"ECS deployment {detail_ecs.deploymentId}")[:2048],
                           target=f"service/{path}"[:512], status=status)
    return None


def _change(**fields: Any) -> ChangeEvent:
    try:
        return ChangeEvent(**fields)
    except ValidationError as exc:
        raise InvalidPayload(describe("change event", exc)) from None
