"""`sre-copilot replay`: feed a scenario through the local deployment and write the result.

Implements ../shared/docs/scenario-format.md: scenario `sre-copilot/scenario@1` in, result
`sre-copilot/replay-result@1` out. Changes go to `/changes` and deliveries to their webhook routes,
each at its simulated time, through the real handlers, queues, tables and state machine.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sre_copilot.domain.types import format_time, parse_time
from sre_copilot.errors import InvalidPayload

SCENARIO_FORMAT = "sre-copilot/scenario@1"
RESULT_FORMAT = "sre-copilot/replay-result@1"
SETTLE_AFTER_S = 30 * 60


class ScenarioDelivery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    at: datetime
    source: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None

    def model_post_init(self, __context: Any) -> None:
        self.at = parse_time(self.at)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: str
    name: str
    description: str = ""
    catalog: dict[str, Any]
    changes: list[dict[str, Any]] = Field(default_factory=list)
    deliveries: list[ScenarioDelivery] = Field(default_factory=list)
    metrics: list[dict[str, Any]] = Field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Scenario:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidPayload(f"cannot read scenario {path}: {exc}") from exc
        if document.get("format") != SCENARIO_FORMAT:
            raise InvalidPayload(f"{path} is not a {SCENARIO_FORMAT} document (format={document.get('format')!r})")
        for delivery in document.get("deliveries", []):
            delivery["at"] = parse_time(delivery["at"])
        return cls.model_validate(document)


@dataclass
class ReplayRun:
    scenario: Scenario
    result: dict[str, Any]
    histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    transcript: str = ""
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    provider_requests: list[dict[str, Any]] = field(default_factory=list)
    """What the real SDK clients sent to the local Slack/Twilio/PagerDuty stand-ins, in order."""
    audits: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Each incident's audit trail, as `sre-copilot audit` prints it."""
    postmortems: dict[str, str] = field(default_factory=dict)
    """Incident id -> the postmortem Markdown the Document step stored (read back from local S3)."""
    learning: dict[str, Any] = field(default_factory=dict)
    """Validation history and confirmed precedents at the end of the run (local/learning.py)."""
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    paging_histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Incident id -> history of its paging execution (statemachines/escalation.asl.json)."""


Progress = Callable[[str], None]


def replay(scenario: Scenario, *, approve: str = "none", progress: Progress | None = None,
           settle_after_s: int = SETTLE_AFTER_S, backend: str = "moto", controls: Any = None,
           learning: dict[str, Any] | None = None, verdicts: list[dict[str, Any]] | None = None,
           calibration: str = "", trails: bool = True, llm: dict[str, Any] | None = None) -> ReplayRun:
    """`backend`: `moto`, or `memory` for the table, bucket and queues (see adapters/memory).
    `controls`: RuntimeControls for the local deployment (`sre-copilot kill-switch --local`).
    `learning`/`verdicts`: what earlier replays learned, and verdicts to apply (local/learning.py).
    `calibration`: the confidence calibration record (JSON) the deployment scores with.
    `trails`: False returns the result alone, without execution and paging histories, audit
    trails, transcript or postmortems (an evaluation scores only the result; reading 84
    executions' histories back was 6% of a FORGE evaluation).
    `llm`: the Anthropic `llm` secret (api_key, base_url, model) the workflow's hypothesis step
    proposes with; None: no LLM, the deterministic product alone."""
    from sre_copilot.local.runtime import LocalDeployment, Responders

    say = progress or (lambda _msg: None)
    timeline: list[tuple[datetime, int, str, Any]] = []
    for i, change in enumerate(scenario.changes):
        timeline.append((parse_time(change["at"]), 0, "change", (i, change)))
    for i, delivery in enumerate(scenario.deliveries):
        timeline.append((delivery.at, 1, "delivery", (i, delivery)))
    timeline.sort(key=lambda item: (item[0], item[1], item[3][0]))
    start = (timeline[0][0] if timeline else datetime.now().astimezone()) - timedelta(minutes=1)
    outcomes: dict[int, tuple[int, Any]] = {}
    with LocalDeployment(start=start, responders=Responders(approve=approve), backend=backend,
                         controls=controls, confidence_calibration=calibration,
                         llm_provider="anthropic" if llm else "none", llm_secret=llm) as deployment:
        deployment.put_catalog(scenario.catalog)
        if learning:  # what people taught an earlier replay (local/learning.py)
            from sre_copilot.local.learning import import_learning

            import_learning(deployment.container, learning)
        _load_metrics(deployment, scenario)
        say(f"deployed locally: {len(deployment.function_arns)} functions, state machine "
            f"{deployment.state_machine_arn.rsplit(':', 1)[-1]}")
        for at, _order, kind, (index, item) in timeline:
            deployment.advance_to(at)
            if kind == "change":
                body = json.dumps(_change_body(item)).encode()
                status, payload = deployment.http("POST", "/changes", body, {"Content-Type": "application/json"})
                say(f"{format_time(at)} change {item.get('id')} on {item.get('service')} -> {status}")
                continue
            status, payload = _deliver(deployment, item)
            outcomes[index] = (status, payload)
            say(f"{format_time(at)} delivery #{index} {item.source} -> {status} {_short(payload)}")
            deployment.settle()
        end = deployment.clock.now() + timedelta(seconds=settle_after_s)
        deployment.advance_to(end)
        say(f"settled until {format_time(end)}")
        from sre_copilot.local.learning import apply_verdicts, export_learning

        applied = apply_verdicts(deployment.container, verdicts or [])
        learned = export_learning(deployment.container)
        result = build_result(deployment, scenario, outcomes)
        if not trails:
            return ReplayRun(scenario=scenario, result=result, dead_letters=list(deployment.dead_letters),
                             learning=learned, verdicts=applied)
        histories = {inc["id"]: deployment.execution_history(inc["execution"])
                     for inc in result["incidents"] if inc.get("execution")}
        transcript = deployment.sinks.printable_transcript()
        from sre_copilot.local.people import paging_histories

        audits = {inc["id"]: [r.model_dump(mode="json") for r in
                              deployment.container.store.for_subject(deployment.tenant_id, inc["id"])]
                  for inc in result["incidents"]}
        postmortems = {inc["id"]: deployment.container.blobs.get_bytes(inc["postmortem"]).decode()
                       for inc in result["incidents"] if inc.get("postmortem")}
        return ReplayRun(scenario=scenario, result=result, histories=histories, transcript=transcript, audits=audits,
                         dead_letters=list(deployment.dead_letters),
                         provider_requests=list(deployment.sinks.requests), postmortems=postmortems,
                         learning=learned, verdicts=applied,
                         paging_histories=paging_histories(deployment, result))


def _deliver(deployment: Any, delivery: ScenarioDelivery) -> tuple[int, Any]:
    from sre_copilot.ingest.auth import sign_pagerduty
    from sre_copilot.local.runtime import LOCAL_SECRETS

    body = delivery.body if isinstance(delivery.body, str | bytes) else json.dumps(delivery.body)
    raw = body.encode() if isinstance(body, str) else body
    headers = {"Content-Type": "application/json", **delivery.headers}
    if delivery.source == "pagerduty" and not any(k.lower() == "x-pagerduty-signature" for k in headers):
        # Replay signs with the local deployment's secret, as PagerDuty signs with yours.
        headers["X-PagerDuty-Signature"] = sign_pagerduty(LOCAL_SECRETS["pagerduty"]["webhook_secrets"][0], raw)
    return deployment.http("POST", f"/webhooks/{delivery.source}", raw, headers)


def _change_body(change: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in change.items() if v is not None}


def _load_metrics(deployment: Any, scenario: Scenario) -> None:
    if not scenario.metrics:
        return
    from sre_copilot.adapters.cloudwatch_metrics import CloudWatchMetrics

    writer = CloudWatchMetrics(deployment.session.client("cloudwatch"))
    for series in scenario.metrics:
        start = parse_time(series["start"])
        points = [(start + timedelta(seconds=i * int(series.get("period_s", 60))), float(v))
                  for i, v in enumerate(series.get("values", [])) if v is not None]
        writer.put_series(series["service"], series["name"], series.get("unit", "None"), points)


def _short(payload: Any) -> str:
    if isinstance(payload, dict):
        if payload.get("error"):
            return f"rejected: {payload['error']}"
        if payload.get("ignored"):
            return f"ignored: {payload['ignored']}"
        return f"{len(payload.get('signals', []))} signal(s)"
    return str(payload)[:80]


def build_result(deployment: Any, scenario: Scenario, outcomes: dict[int, tuple[int, Any]]) -> dict[str, Any]:
    store = deployment.container.store
    tenant = deployment.tenant_id
    signals: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    ignored: list[dict[str, Any]] = []
    stored_by_id = store.signals_by_id(tenant, [
        summary["id"] for status, payload in outcomes.values()
        if status < 400 and isinstance(payload, dict) and not payload.get("retry") and not payload.get("ignored")
        for summary in payload.get("signals", [])])
    for index in range(len(scenario.deliveries)):
        status, payload = outcomes.get(index, (500, {"error": "not delivered"}))
        body = payload if isinstance(payload, dict) else {"error": str(payload)}
        if status >= 400:
            rejected.append({"origin": {"delivery": index}, "error": body.get("error", f"HTTP {status}")})
            continue
        if body.get("retry") or body.get("ignored"):
            ignored.append({"origin": {"delivery": index}, "reason": body.get("ignored")})
            continue
        for item, summary in enumerate(body.get("signals", [])):
            stored = stored_by_id.get(summary["id"])
            s = stored.model_dump(mode="json") if stored else summary
            signals.append({
                "id": s["id"], "origin": {"delivery": index, "item": item}, "source": s["source"],
                "status": s["status"], "severity": s["severity"], "priority": s["priority"],
                "service": s.get("service"), "entity": s.get("entity"), "title": s.get("title"),
                "fingerprint": s.get("fingerprint"), "duplicate_of": s.get("duplicate_of"),
                "incident_id": s.get("incident_id"),
            })
    by_id = {s["id"]: s for s in signals}
    for s in signals:  # a duplicate ends up in its original's incident
        if s["duplicate_of"] and not s["incident_id"]:
            original = by_id.get(s["duplicate_of"]) or _stored(store, tenant, s["duplicate_of"])
            s["incident_id"] = original.get("incident_id") if original else None
    incident_ids = sorted({s["incident_id"] for s in signals if s["incident_id"]})
    incidents = [_incident_result(deployment, store, tenant, iid) for iid in incident_ids]
    return {"format": RESULT_FORMAT, "scenario": scenario.name, "signals": signals, "rejected": rejected,
            "ignored": ignored, "incidents": [i for i in incidents if i is not None]}


def _stored(store: Any, tenant: str, signal_id: str) -> dict[str, Any] | None:
    signal = store.get_signal(tenant, signal_id)
    return signal.model_dump(mode="json") if signal else None


def _incident_result(deployment: Any, store: Any, tenant: str, incident_id: str) -> dict[str, Any] | None:
    incident = store.get_incident(tenant, incident_id)
    if incident is None or incident.merged_into:
        return None
    hypotheses = [{
        "rank": h.get("rank"), "entity": h.get("entity"), "entity_kind": h.get("entity_kind"),
        "service": h.get("service"), "change_id": h.get("change_id"), "fault": h.get("fault"),
        "confidence": h.get("confidence"), "confidence_range": h.get("confidence_range"),
        "factors": h.get("factors"), "summary": h.get("summary"),
    } for h in incident.hypotheses]
    rec = incident.recommendation
    return {
        "id": incident.id, "state": incident.state.value, "priority": incident.priority.value,
        "signal_ids": list(incident.signal_ids),
        "hypotheses": hypotheses,
        "decision": incident.decision.value if incident.decision else None,
        "recommendation": None if not rec else {"action": rec.get("action"), "target": rec.get("target"),
                                                "risk": rec.get("risk"), "runbook": rec.get("runbook")},
        "notifications": [{"at": format_time(n.at), "channel": n.channel.value, "target": n.target,
                           "kind": n.kind.value, "status": n.status}
                          for n in sorted(store.notifications_for(tenant, incident.id), key=lambda n: n.at)],
        "actions": [{"action": a.action, "target": a.target, "risk": a.risk.value, "approval": a.approval.value,
                     "status": a.status.value, "dry_run": a.dry_run}
                    for a in store.actions_for(tenant, incident.id)],
        "timeline": [{"at": format_time(t.at), "state": t.state.value, "actor": t.actor, "reason": t.reason}
                     for t in incident.timeline],
        "grouping": [g.model_dump(mode="json") for g in incident.grouping],
        "postmortem": incident.postmortem_ref,
        "execution": incident.execution,
        "execution_status": deployment.execution_status(incident.execution) if incident.execution else None,
    }
