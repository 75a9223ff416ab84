"""The read API through its real routes (API Gateway HTTP API v2 events carrying the claims the JWT
authorizer passes on) over moto's DynamoDB: tenant isolation, roles, and the audit of every call.
The vector-search half of tenant isolation is at the end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from aws_test_support import REGION, START

from sre_copilot.adapters.dynamodb_store import DynamoStore
from sre_copilot.api.routes import app
from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.types import Approval, Priority, Risk
from sre_copilot.local.clock import SimClock
from sre_copilot.reasoning.evidence import VectorPrecedents
from sre_copilot.reasoning.vectors import HashingEmbedder, LocalVectorIndex
from sre_copilot.runtime_settings import ApproverRule, Approvers, RuntimeControls, write_controls
from sre_copilot.services.container import Container, set_container
from sre_copilot.settings import Settings


def _incident(tenant: str, incident_id: str, title: str) -> Incident:
    return Incident.open(incident_id=incident_id, tenant_id=tenant, priority=Priority.P1, title=title,
                         service="checkout", at=START, actor="test", reason="opened")


def _plan(incident_id: str, plan_id: str) -> ActionPlan:
    return ActionPlan(id=plan_id, incident_id=incident_id, action="rollback_deploy", target="checkout",
                      risk=Risk.MEDIUM, created_at=START, updated_at=START)


@pytest.fixture
def world(settings: Settings, store: DynamoStore) -> Iterator[DynamoStore]:
    """Given two tenants in one table, each with one open incident and one pending plan."""
    boto3.client("events", region_name=REGION).create_event_bus(Name=settings.event_bus_name)
    for tenant, incident_id in (("acme", "inc-acme-1"), ("globex", "inc-globex-1")):
        store.put_incident(_incident(tenant, incident_id, f"{tenant} checkout errors"))
        store.put_action(tenant, _plan(incident_id, f"plan-{tenant}"))
    container = Container(settings)
    # The API must read and audit through the store under test (moto or the memory backend), not
    # a DynamoStore of its own on moto: on the memory variant that table does not exist.
    container.__dict__["store"] = store
    container.__dict__["blobs"] = store.blobs
    set_container(container)
    yield store
    set_container(None)


def _call(method: str, path: str, *, tenant: str | None, roles: list[str] | str | None,
          sub: str = "user-1") -> tuple[int, dict[str, Any]]:
    claims: dict[str, Any] = {"sub": sub, "iss": "https://cognito-idp.eu-west-1.amazonaws.com/pool"}
    if tenant is not None:
        claims["custom:tenant_id"] = tenant
    if roles is not None:
        claims["cognito:groups"] = roles
    event = {
        "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/json"}, "isBase64Encoded": False,
        "requestContext": {"accountId": "123456789012", "apiId": "api", "domainName": "api.example",
                           "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1",
                                    "userAgent": "test"},
                           "authorizer": {"jwt": {"claims": claims, "scopes": None}},
                           "requestId": "req-1", "routeKey": f"{method} {path}", "stage": "$default",
                           "time": "14/May/2024:09:00:00 +0000", "timeEpoch": 1715677200000},
    }
    response = app.resolve(event, None)
    return response["statusCode"], json.loads(response["body"] or "{}")


def _api_audit(store: DynamoStore, tenant: str, subject: str) -> list[tuple[str, str]]:
    return [(r.action, r.details.get("outcome", "")) for r in store.for_subject(tenant, subject)
            if r.action.startswith("api.")]


# -- tenant isolation --------------------------------------------------------------------------
def test_a_tenant_lists_and_reads_only_its_own_incidents(world: DynamoStore) -> None:
    status, body = _call("GET", "/v1/incidents", tenant="globex", roles=["viewer"])
    assert status == 200 and [i["id"] for i in body["incidents"]] == ["inc-globex-1"]
    for path in ("", "/hypotheses", "/timeline", "/postmortem", "/history"):
        status, body = _call("GET", f"/v1/incidents/inc-acme-1{path}", tenant="globex", roles=["admin"])
        assert status == 404 and body["code"] == "not_found", path
    status, body = _call("GET", "/v1/incidents/inc-acme-1", tenant="acme", roles=["viewer"])
    assert status == 200 and body["title"] == "acme checkout errors"


def test_a_tenant_cannot_act_on_another_tenants_incident_or_plan(world: DynamoStore) -> None:
    status, _ = _call("POST", "/v1/incidents/inc-acme-1/acknowledge", tenant="globex", roles=["admin"])
    assert status == 404
    status, _ = _call("POST", "/v1/incidents/inc-acme-1/plans/plan-acme/approve", tenant="globex", roles=["admin"])
    assert status == 404
    incident = world.get_incident("acme", "inc-acme-1")
    assert incident is not None and incident.state is IncidentState.DETECTED
    assert [p.approval for p in world.actions_for("acme", "inc-acme-1")] == [Approval.PENDING]
    # Then the refused attempts are audited under the caller's tenant, not the target's.
    assert ("api.incidents.acknowledge", "not_found") in _api_audit(world, "globex", "inc-acme-1")
    assert _api_audit(world, "acme", "inc-acme-1") == []


# -- roles ----------------------------------------------------------------------------------------
def _api_approvers(settings: Settings, *subjects: str) -> None:
    """The approvers control naming read-API token subjects (issue 13: the role lets a caller ask,
    the approvers control decides)."""
    write_controls(settings, RuntimeControls(approvers=Approvers(rules=[
        ApproverRule(services=["*"], max_risk=Risk.CRITICAL, api_users=list(subjects))])),
        boto3.client("ssm", region_name=REGION))


def test_roles_grant_read_acknowledge_and_approve_in_order(world: DynamoStore, settings: Settings,
                                                           clock: SimClock) -> None:
    _api_approvers(settings, "lead-7")
    status, body = _call("POST", "/v1/incidents/inc-acme-1/acknowledge", tenant="acme", roles=["viewer"])
    assert status == 403 and body["code"] == "forbidden" and "responder" in body["error"]
    status, body = _call("POST", "/v1/incidents/inc-acme-1/acknowledge", tenant="acme", roles=["responder"])
    assert status == 200 and body["result"] == "acknowledged"
    status, body = _call("POST", "/v1/incidents/inc-acme-1/plans/plan-acme/approve", tenant="acme",
                         roles=["responder"])
    assert status == 403 and "approver" in body["error"]
    # API Gateway flattens array claims to "[a b]" text: the highest role listed counts.
    # An approver role alone is not enough: the approvers control must name the caller.
    status, body = _call("POST", "/v1/incidents/inc-acme-1/plans/plan-acme/approve", tenant="acme",
                         roles=["approver"], sub="intern-3")
    assert status == 403 and "not an approver" in body["error"]
    assert [p.approval for p in world.actions_for("acme", "inc-acme-1")] == [Approval.PENDING]
    status, body = _call("POST", "/v1/incidents/inc-acme-1/plans/plan-acme/approve", tenant="acme",
                         roles="[viewer approver]", sub="lead-7")
    assert status == 200 and body["result"].endswith("approved")
    (plan,) = world.actions_for("acme", "inc-acme-1")
    assert plan.approval is Approval.APPROVED and plan.approver == "api:lead-7"
    incident = world.get_incident("acme", "inc-acme-1")
    assert incident is not None and incident.state is IncidentState.ACKNOWLEDGED


def test_a_token_without_tenant_or_role_is_refused_before_any_read(world: DynamoStore) -> None:
    status, body = _call("GET", "/v1/incidents", tenant=None, roles=["admin"])
    assert status == 401 and body["code"] == "unauthorized"
    status, body = _call("GET", "/v1/incidents", tenant="acme", roles=["superuser"])
    assert status == 403
    status, body = _call("GET", "/v1/incidents", tenant="acme", roles=None)
    assert status == 403


def test_every_api_call_is_audited_with_its_outcome_and_role(world: DynamoStore) -> None:
    _call("GET", "/v1/incidents/inc-acme-1/timeline", tenant="acme", roles=["viewer"])
    _call("POST", "/v1/incidents/inc-acme-1/acknowledge", tenant="acme", roles=["viewer"])
    records = [r for r in world.for_subject("acme", "inc-acme-1") if r.action.startswith("api.")]
    assert [(r.action, r.details["outcome"], r.details["role"], r.actor) for r in records] == [
        ("api.timeline.get", "ok", "viewer", "api:user-1"),
        ("api.incidents.acknowledge", "forbidden", "viewer", "api:user-1")]


# -- vector search ---------------------------------------------------------------------------------
def test_precedent_search_returns_only_the_callers_tenant(tmp_path: Any) -> None:
    # Given the same resolved incident in two tenants' history, indexed in one shared index
    index, embedder = LocalVectorIndex(tmp_path / "vectors.json"), HashingEmbedder()
    for tenant in ("acme", "globex"):
        incident = _incident(tenant, f"inc-{tenant}-old", "checkout 5xx after deploy")
        incident.hypotheses = [{"entity": "checkout", "fault": "bad_deploy", "summary": f"{tenant} deploy"}]
        VectorPrecedents(index=index, embedder=embedder, tenant_id=tenant).add(
            incident.model_copy(update={"state": IncidentState.RESOLVED, "resolved_at": START + timedelta(hours=1)}))
    # When each tenant searches for it, then it finds only its own
    for tenant in ("acme", "globex"):
        found = VectorPrecedents(index=index, embedder=embedder, tenant_id=tenant).similar(
            "checkout 5xx after deploy bad_deploy checkout")
        assert [p.incident_id for p in found] == [f"inc-{tenant}-old"], tenant
    # And a tenant with no history finds nothing, even though the index is not empty
    assert VectorPrecedents(index=index, embedder=embedder, tenant_id="initech").similar("checkout 5xx") == []


def test_runbook_search_returns_only_the_callers_tenants_runbooks(tmp_path: Any) -> None:
    # Given one shared index where acme indexed its own runbook for crash-looping pods
    from pathlib import Path

    from sre_copilot.reasoning.recommend import RunbookIndex, index_runbooks

    index, embedder = LocalVectorIndex(tmp_path / "vectors.json"), HashingEmbedder()
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "runbooks" / "restart-crashlooping-pods.md"
    assert index_runbooks([example], index, embedder, tenant_id="acme") == 1
    query = "pods crash looping restart checkout"
    acme = RunbookIndex(index=index, embedder=embedder, tenant_id="acme")
    globex = RunbookIndex(index=index, embedder=embedder, tenant_id="globex")
    acme_ids = {r.id for _, r in acme.search(query, k=20)}
    globex_ids = {r.id for _, r in globex.search(query, k=20)}
    custom = acme_ids - globex_ids
    # Then acme finds its runbook, globex never does, and both still find the starter runbooks
    assert len(custom) == 1 and {r.id for r in acme.runbooks} >= custom
    assert not custom & {r.id for r in globex.runbooks}
    assert globex_ids and globex_ids <= acme_ids
    # And every runbook document in the index is scoped to one tenant
    stored = index.query("runbooks", embedder.embed([query])[0], 1000)
    assert {doc.get("tenant_id") for _, doc in stored} == {"acme", "globex"}
