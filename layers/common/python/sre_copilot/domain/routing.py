"""Routing policy: which Slack channel and which phone an incident reaches, and how long a plan
waits for a human. Pure functions of the incident, the service catalog and the deployment's
settings, so they are tested without any adapter (they were the composition root's before)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only (cold start: a step that never routes does not load them)
    from sre_copilot.actions.policy import ActionPolicy
    from sre_copilot.domain.catalog import Catalog
    from sre_copilot.domain.incident import Incident

TRIAGE_SERVICE = "triage"
"""The channel suffix of an incident no catalog service owns: `#inc-triage`."""


def slack_channel_for(incident: Incident, catalog: Catalog) -> str:
    """The owning service's `oncall.slack` channel from the catalog, else `#inc-<service>`, else
    `#inc-triage` for an incident no service owns."""
    service = catalog.service(incident.service) if incident.service else None
    configured = service.oncall.get("slack") if service else None
    return configured or f"#inc-{incident.service or TRIAGE_SERVICE}"


def oncall_phone_for(incident: Incident, catalog: Catalog, default_oncall: str) -> str:
    """The owning service's `oncall.phone` from the catalog, else the deployment's default on-call
    number (the twilio secret's `default_oncall`)."""
    service = catalog.service(incident.service) if incident.service else None
    if service and service.oncall.get("phone"):
        return service.oncall["phone"]
    return default_oncall


def with_approval_timeout(policy: ActionPolicy, timeout_s: int) -> ActionPolicy:
    """`policy` with the deployment's notify-and-wait timeout (cdk.json `approval_timeout_s`) on
    every rule and on the default: one deployment, one answer to "how long do we wait for a human"."""
    return policy.model_copy(update={
        "rules": [r.model_copy(update={"approval_timeout_s": timeout_s}) for r in policy.rules],
        "default": policy.default.model_copy(update={"approval_timeout_s": timeout_s})})
