"""Test support: labelled scenario incidents -> signals -> context -> evidence -> hypotheses -> score -> policy.

Signals come from either the real ingestion normaliser (`sre_copilot.ingest.normalize`) or a tiny
test-only extractor that pulls service / instance / host hints out of the six sample source shapes
and resolves them with `Catalog.resolve`. The two disagree on details (CloudWatch severity, titles),
which is the point: reasoning must not depend on one normaliser's choices.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.change import ChangeEvent
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.reasoning import ContextSnapshot, Decision, EvidencePackage, Hypothesis
from sre_copilot.domain.signal import Origin, Signal
from sre_copilot.domain.types import Priority, Severity, SignalStatus, parse_time
from sre_copilot.ports.executors import MetricsReader
from sre_copilot.ports.knowledge import HypothesisAssistant
from sre_copilot.reasoning.confidence import score_hypotheses
from sre_copilot.reasoning.context import assemble_context
from sre_copilot.reasoning.evidence import PrecedentLookup, aggregate_evidence
from sre_copilot.reasoning.hypotheses import generate_hypotheses
from sre_copilot.reasoning.policy import apply_policy

SCENARIOS = Path(__file__).resolve().parents[2].parent / "shared" / "scenarios"


@dataclass(frozen=True)
class LabelledIncident:
    scenario: str
    index: int
    label: dict[str, Any]
    catalog: Catalog
    signals: list[Signal]
    changes: list[ChangeEvent]
    now: datetime

    @property
    def name(self) -> str:
        return f"{self.scenario}#{self.index}"


@dataclass(frozen=True)
class Outcome:
    snapshot: ContextSnapshot
    evidence: EvidencePackage
    hypotheses: list[Hypothesis]
    decision: Decision


# -- test-only extractor --------------------------------------------------------------------------
_SEVERITY = {"critical": Severity.CRITICAL, "error": Severity.ERROR, "high": Severity.CRITICAL,
             "warning": Severity.WARNING, "info": Severity.INFO, "low": Severity.WARNING}


def _hints(source: str, body: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """(title, severity, status, key, time, service/instance/host hints) per alert item."""
    if source in ("alertmanager", "grafana"):
        for alert in body.get("alerts", []):
            labels = alert.get("labels", {})
            yield {"title": alert.get("annotations", {}).get("summary") or labels.get("alertname", ""),
                   "severity": labels.get("severity", "warning"), "status": alert.get("status", "firing"),
                   "key": alert.get("fingerprint") or json.dumps(labels, sort_keys=True), "at": alert.get("startsAt"),
                   "services": [labels.get("service")], "instances": [labels.get("pod")], "hosts": [labels.get("node")],
                   "labels": {k: str(v) for k, v in labels.items()}}
    elif source == "cloudwatch":
        detail = body["detail"]
        metric = detail["configuration"]["metrics"][0]["metricStat"]["metric"]
        dims = metric.get("dimensions", {})
        yield {"title": f"{metric['name']} alarm {detail['alarmName']}", "severity": "critical",
               "status": "firing" if detail["state"]["value"] == "ALARM" else "resolved", "key": detail["alarmName"],
               "at": detail["state"]["timestamp"], "services": [dims.get("Service")],
               "instances": [dims.get("InstanceId")], "hosts": [dims.get("InstanceId")],
               "labels": {"metric": metric["name"]}}
    elif source == "pagerduty":
        data = body["event"]["data"]
        yield {"title": data.get("title", ""), "severity": data.get("urgency", "high"), "status": "firing",
               "key": data.get("id", ""), "at": body["event"].get("occurred_at"),
               "services": [data.get("service", {}).get("summary")], "instances": [], "hosts": [], "labels": {}}
    elif source == "datadog":
        tags = dict(t.split(":", 1) for t in body.get("tags", "").split(",") if ":" in t)
        yield {"title": body.get("title", ""), "severity": body.get("alert_type", "error"), "status": "firing",
               "key": body.get("alert_id", ""), "at": int(body.get("date", 0)), "services": [tags.get("service")],
               "instances": [], "hosts": [tags.get("host")], "labels": tags}
    elif source == "opsgenie":
        alert = body["alert"]
        tags = dict(t.split(":", 1) for t in alert.get("tags", []) if ":" in t)
        yield {"title": alert.get("message", ""), "severity": {"P1": "critical", "P2": "error"}.get(
            alert.get("priority"), "warning"), "status": "firing", "key": alert.get("alias", ""),
               "at": alert.get("createdAt"), "services": [tags.get("service"), alert.get("entity")],
               "instances": [], "hosts": [], "labels": tags}
    else:
        yield {"title": str(body.get("title", "")), "severity": str(body.get("severity", "warning")),
               "status": str(body.get("status", "firing")), "key": str(body.get("id", body.get("title", ""))),
               "at": body.get("time"), "services": [body.get("service")], "instances": [body.get("instance")],
               "hosts": [body.get("host")], "labels": {}}


def simple_signals(source: str, body: dict[str, Any], *, catalog: Catalog, received_at: datetime,
                   delivery: int) -> list[Signal]:
    out = []
    for item, hint in enumerate(_hints(source, body)):
        resolved = catalog.resolve(service_hints=hint["services"], instance_hints=hint["instances"],
                                   host_hints=hint["hosts"])
        severity = _SEVERITY.get(str(hint["severity"]).lower(), Severity.WARNING)
        at = parse_time(hint["at"]) if hint["at"] else received_at
        out.append(Signal(
            id=f"sig-{delivery}-{item}", source=source, origin=Origin(delivery=delivery, item=item),
            status=SignalStatus.FIRING if hint["status"] == "firing" else SignalStatus.RESOLVED,
            severity=severity, priority=Priority.P2, event_time=at, received_at=received_at, title=hint["title"][:1024],
            labels=hint["labels"], service=resolved.service, entity=resolved.entity, entity_kind=resolved.entity_kind,
            host=resolved.host, fingerprint=hashlib.sha1(f"{source}:{hint['key']}".encode()).hexdigest()[:32],
            background=severity is Severity.INFO,
        ))
    return out


def ingest_signals(source: str, body: dict[str, Any], *, catalog: Catalog, received_at: datetime,
                   delivery: int) -> list[Signal]:
    from sre_copilot.ingest.normalize import normalize

    result = normalize(source, body, catalog=catalog, received_at=received_at, origin_delivery=delivery,
                       delivery_id=f"d{delivery}")
    return [s.model_copy(update={"id": f"sig-{delivery}-{i}"}) for i, s in enumerate(result.signals)]


NORMALISERS = {"simple": simple_signals, "ingest": ingest_signals}


def load_labelled(normaliser: str = "simple", directory: Path = SCENARIOS) -> list[LabelledIncident]:
    extract = NORMALISERS[normaliser]
    out: list[LabelledIncident] = []
    for truth_path in sorted(directory.glob("*.truth.json")):
        truth = json.loads(truth_path.read_text())
        document = json.loads(truth_path.with_name(truth_path.name.replace(".truth.json", ".json")).read_text())
        catalog = Catalog.model_validate(document["catalog"])
        changes = [ChangeEvent.model_validate(c) for c in document.get("changes", [])]
        for index, label in enumerate(truth["incidents"]):
            signals: list[Signal] = []
            last = None
            for delivery in label["deliveries"]:
                raw = document["deliveries"][delivery]
                received = parse_time(raw["at"])
                last = received if last is None or received > last else last
                signals += extract(raw["source"], raw["body"], catalog=catalog, received_at=received, delivery=delivery)
            assert last is not None
            out.append(LabelledIncident(scenario=document["name"], index=index, label=label, catalog=catalog,
                                        signals=signals, changes=changes, now=last + timedelta(minutes=1)))
    return out


def run(case: LabelledIncident, *, assistant: HypothesisAssistant | None = None,
        precedents: PrecedentLookup | None = None, metrics: MetricsReader | None = None) -> Outcome:
    first = min(s.event_time for s in case.signals)
    incident = Incident.open(incident_id=f"inc-{case.scenario}-{case.index}", tenant_id="default", priority=Priority.P1,
                             title=case.signals[0].title, service=case.signals[0].service, at=first, actor="test",
                             reason="labelled")
    changes = [c for c in case.changes if c.at <= case.now]
    snapshot = assemble_context(incident=incident, signals=case.signals, catalog=case.catalog, changes=changes,
                                metrics=metrics, now=case.now)
    package = aggregate_evidence(snapshot=snapshot, signals=case.signals, catalog=case.catalog, precedents=precedents)
    hypotheses = generate_hypotheses(snapshot=snapshot, evidence=package, signals=case.signals, catalog=case.catalog,
                                     assistant=assistant)
    ranked = score_hypotheses(hypotheses, evidence=package, snapshot=snapshot)
    decision = apply_policy(ranked, evidence=package, now=case.now)
    return Outcome(snapshot=snapshot, evidence=package, hypotheses=ranked, decision=decision)


def names_root_cause(h: Hypothesis, label: dict[str, Any]) -> bool:
    """The scenario-format rule: the entity itself, or an instance/change naming the labelled service."""
    if h.entity == label["entity"]:
        return True
    return label.get("entity_kind") == "service" and h.service == label["entity"]


def accuracy(cases: list[LabelledIncident], **kwargs: Any) -> dict[str, Any]:
    rows = []
    for case in cases:
        ranked = run(case, **kwargs).hypotheses
        label = case.label
        rows.append({
            "case": case.name, "truth": f"{label['entity']}/{label.get('change_id')}",
            "top": f"{ranked[0].entity}/{ranked[0].change_id}" if ranked else None,
            "confidence": ranked[0].confidence if ranked else None,
            "top1": bool(ranked) and names_root_cause(ranked[0], label),
            "top3": any(names_root_cause(h, label) for h in ranked[:3]),
            "change": (bool(ranked) and ranked[0].change_id == label["change_id"]) if label.get("change_id") else None,
            "decoy_blamed": bool(ranked) and ranked[0].change_id not in (None, label.get("change_id")),
        })
    n = len(rows)
    with_change = [r for r in rows if r["change"] is not None]
    return {"rows": rows, "top1": sum(bool(r["top1"]) for r in rows) / n, "top3": sum(bool(r["top3"]) for r in rows) / n,
            "change": sum(bool(r["change"]) for r in with_change) / len(with_change) if with_change else None,
            "decoys_blamed": sum(bool(r["decoy_blamed"]) for r in rows), "incidents": n}
