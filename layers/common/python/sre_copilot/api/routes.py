"""The read API's HTTP routes (Powertools Event Handler). API Gateway's JWT authorizer has already
checked the token's signature, issuer, audience and expiry before a request gets here; this module
turns its claims into a principal, runs the operation under that principal's tenant and role, and
audits it. `python -m sre_copilot.api.openapi` writes the OpenAPI document these routes describe."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from sre_copilot.api.access import Principal, principal_from_claims
from sre_copilot.api.models import (
    ActionResult,
    History,
    HypothesisList,
    IncidentDetail,
    IncidentList,
    Postmortem,
    Timeline,
)
from sre_copilot.api.service import ReadApi
from sre_copilot.services.container import get_container
from sre_copilot.services.edge import error_response

PREFIX = "/v1"
app = APIGatewayHttpResolver(enable_validation=True)
app.exception_handler(Exception)(error_response)


def _principal() -> Principal:
    authorizer = app.current_event.request_context.authorizer
    claims: dict[str, Any] = dict(authorizer.jwt_claim or {}) if authorizer else {}
    settings = get_container().settings
    return principal_from_claims(claims, tenant_claim=settings.api_tenant_claim, roles_claim=settings.api_roles_claim)


def _api() -> ReadApi:
    return ReadApi(get_container())


@app.get(f"{PREFIX}/incidents", summary="Open incidents of the caller's tenant (viewer)")
def list_incidents() -> IncidentList:
    who = _principal()
    return _api().audited(who, "incidents.list", "incidents", lambda: _api().incidents(who))


@app.get(f"{PREFIX}/incidents/<incident_id>", summary="One incident (viewer)")
def get_incident(incident_id: str) -> IncidentDetail:
    who = _principal()
    return _api().audited(who, "incidents.get", incident_id, lambda: _api().incident(who, incident_id))


@app.get(f"{PREFIX}/incidents/<incident_id>/hypotheses", summary="Ranked hypotheses as scored (viewer)")
def get_hypotheses(incident_id: str) -> HypothesisList:
    who = _principal()
    return _api().audited(who, "hypotheses.get", incident_id, lambda: _api().hypotheses(who, incident_id))


@app.get(f"{PREFIX}/incidents/<incident_id>/timeline",
         summary="Lifecycle transitions, notifications and actions in time order (viewer)")
def get_timeline(incident_id: str) -> Timeline:
    who = _principal()
    return _api().audited(who, "timeline.get", incident_id, lambda: _api().timeline(who, incident_id))


@app.get(f"{PREFIX}/incidents/<incident_id>/postmortem", summary="Postmortem draft in Markdown (viewer)")
def get_postmortem(incident_id: str) -> Postmortem:
    who = _principal()
    return _api().audited(who, "postmortem.get", incident_id, lambda: _api().postmortem(who, incident_id))


@app.get(f"{PREFIX}/incidents/<incident_id>/history", summary="The incident's audit trail (viewer)")
def get_history(incident_id: str) -> History:
    who = _principal()
    return _api().audited(who, "history.get", incident_id, lambda: _api().history(who, incident_id))


@app.post(f"{PREFIX}/incidents/<incident_id>/acknowledge", summary="Acknowledge an incident (responder)")
def acknowledge(incident_id: str) -> ActionResult:
    who = _principal()
    return _api().audited(who, "incidents.acknowledge", incident_id, lambda: _api().acknowledge(who, incident_id))


@app.post(f"{PREFIX}/incidents/<incident_id>/plans/<plan_id>/approve", summary="Approve a plan (approver)")
def approve(incident_id: str, plan_id: str) -> ActionResult:
    who = _principal()
    return _api().audited(who, "plans.approve", incident_id,
                          lambda: _api().decide(who, incident_id, plan_id, approve=True))


@app.post(f"{PREFIX}/incidents/<incident_id>/plans/<plan_id>/reject", summary="Reject a plan (approver)")
def reject(incident_id: str, plan_id: str) -> ActionResult:
    who = _principal()
    return _api().audited(who, "plans.reject", incident_id,
                          lambda: _api().decide(who, incident_id, plan_id, approve=False))


# (method, path) of every route, for the CDK construct that puts them behind the JWT authorizer.
ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", f"{PREFIX}/incidents"), ("GET", f"{PREFIX}/incidents/{{incident_id}}"),
    ("GET", f"{PREFIX}/incidents/{{incident_id}}/hypotheses"), ("GET", f"{PREFIX}/incidents/{{incident_id}}/timeline"),
    ("GET", f"{PREFIX}/incidents/{{incident_id}}/postmortem"), ("GET", f"{PREFIX}/incidents/{{incident_id}}/history"),
    ("POST", f"{PREFIX}/incidents/{{incident_id}}/acknowledge"),
    ("POST", f"{PREFIX}/incidents/{{incident_id}}/plans/{{plan_id}}/approve"),
    ("POST", f"{PREFIX}/incidents/{{incident_id}}/plans/{{plan_id}}/reject"),
)
