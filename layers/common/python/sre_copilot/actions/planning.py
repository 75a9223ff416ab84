"""Action plan generator (seed 001): parameters, preconditions, rollback strategy, verification criteria.

Plans name the workload the executor will touch, taken from the catalog's `runtime` block, so the
executor never guesses a namespace.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sre_copilot.domain.action import ActionPlan, Recommendation
from sre_copilot.domain.catalog import Catalog, Service
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.types import ActionStatus, Approval

SCALE_OUT_INCREMENT = 2
SCALE_OUT_MAX_REPLICAS = 20


def _service_for(rec: Recommendation, incident: Incident, catalog: Catalog) -> Service | None:
    for service in catalog.services:
        if service.runtime.get("workload") == rec.target or service.runtime.get("resource") == rec.target:
            return service
    name = catalog.find_service(rec.target.rsplit("/", 1)[-1]) or incident.service
    return catalog.service(name) if name else None


def _workload_params(rec: Recommendation, service: Service | None) -> dict[str, Any]:
    runtime = service.runtime if service else {}
    kind, _, name = rec.target.partition("/") if "/" in rec.target else ("", "", rec.target)
    params: dict[str, Any] = {"runtime": runtime.get("kind", "unknown")}
    if runtime.get("kind") == "kubernetes":
        workload_kind, _, workload_name = str(runtime.get("workload", "")).partition("/")
        params.update({"cluster": runtime.get("cluster"), "namespace": runtime.get("namespace", "default"),
                       "kind": kind or workload_kind or "deployment", "name": name or workload_name})
    elif runtime.get("kind") == "aws":
        params["resource"] = runtime.get("resource", rec.target)
    return params


def _preconditions(rec: Recommendation, params: dict[str, Any]) -> list[str]:
    where = f"{rec.target} in namespace {params['namespace']}" if "namespace" in params else rec.target
    common = [f"{where} exists and the executor can read it",
              f"no other remediation is running on {rec.target}"]
    specific = {
        "rollback": [f"{rec.target} has a previous revision to return to",
                     "the previous revision ran healthily before the suspected change"],
        "restart": [f"{rec.target} runs at least 2 replicas, so a rolling restart keeps serving"],
        "scale_out": [f"{rec.target} is below {params.get('max_replicas', SCALE_OUT_MAX_REPLICAS)} replicas",
                      "the cluster has capacity for the extra pods"],
    }
    return common + specific.get(rec.action, [])


def _rollback_strategy(rec: Recommendation) -> str:
    strategies = {
        "rollback": "re-apply the pod template captured before the rollback (the revision that was live)",
        "restart": "re-apply the pod template captured before the restart (drops the restartedAt annotation)",
        "scale_out": "scale back to the replica count captured before scaling",
    }
    return strategies.get(rec.action, f"manual: follow runbook {rec.runbook}" if rec.runbook
                          else "manual: no automatic undo for this action")


def _verification(rec: Recommendation, params: dict[str, Any], service: Service | None) -> str:
    if params.get("runtime") == "kubernetes":
        text = (f"rollout of {rec.target} complete: observedGeneration ≥ generation and updated = available = "
                f"desired replicas")
    else:
        text = f"{rec.target} reports healthy after the action"
    slo = service.slo if service else {}
    if slo:
        text += "; then the service meets its SLO (" + ", ".join(f"{k} {v}" for k, v in sorted(slo.items())) + ")"
    return text + "; the incident's alerts resolve"


def plan_from_recommendation(
    rec: Recommendation,
    incident: Incident,
    *,
    plan_id: str,
    now: datetime,
    dry_run: bool,
    catalog: Catalog,
    environment: str = "prod",
) -> ActionPlan:
    """`environment` defaults to prod so that a caller that forgets it gets the strictest rules."""
    service = _service_for(rec, incident, catalog)
    params = _workload_params(rec, service)
    params.update({"service": service.name if service else incident.service, "environment": environment,
                   "hypothesis_id": rec.hypothesis_id, "runbook": rec.runbook, "blast_radius": rec.blast_radius})
    if rec.action == "scale_out":
        params.update({"increment": SCALE_OUT_INCREMENT, "max_replicas": SCALE_OUT_MAX_REPLICAS})
    return ActionPlan(
        id=plan_id, incident_id=incident.id, action=rec.action, target=rec.target, params=params, risk=rec.risk,
        preconditions=_preconditions(rec, params), rollback=_rollback_strategy(rec),
        verification=_verification(rec, params, service), approval=Approval.PENDING, status=ActionStatus.PLANNED,
        dry_run=dry_run, detail=rec.rationale, created_at=now, updated_at=now,
    )
