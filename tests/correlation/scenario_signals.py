"""Scenario deliveries -> `Signal`s for the correlation tests, two ways.

`scenario_signals` is a small test-only extractor: it reads only what correlation needs (service,
instance and host hints, severity, status, fingerprint) from the six source shapes in the samples plus
the SNS wrapping and generic JSON, and resolves names with `Catalog.resolve`, so the engine is tested
without depending on how ingestion parses payloads. `ingested_signals` runs the real ingestion
normaliser instead, to check the engine on exactly what the pipeline hands it. Both set priorities
with ingestion's classifier and mark repeats of a fingerprint+status within 15 minutes as
`duplicate_of` the first, as ingestion's dedup does; info alerts are background.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.signal import Origin, Signal
from sre_copilot.domain.types import Severity, SignalStatus, parse_time
from sre_copilot.ingest.classify import classify
from sre_copilot.ingest.normalize import normalize

SCENARIOS = Path(__file__).resolve().parents[2].parent / "shared" / "scenarios"
DEDUP_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Raw:
    """What one alert item says, before catalog resolution."""

    status: SignalStatus | None
    severity: Severity
    title: str
    key: str
    event_time: datetime
    services: tuple[str | None, ...] = ()
    instances: tuple[str | None, ...] = ()
    hosts: tuple[str | None, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LoadedScenario:
    name: str
    document: dict[str, Any]
    truth: dict[str, Any]
    catalog: Catalog
    signals: list[Signal]


def load_scenarios(directory: Path = SCENARIOS, *, cloudwatch_severity: Severity = Severity.CRITICAL,
                   ingestion: bool = False) -> list[LoadedScenario]:
    """Labelled scenarios with signals from the extractor, or from ingestion's normaliser."""
    out = []
    for truth_path in sorted(directory.glob("*.truth.json")):
        document = json.loads(truth_path.with_name(truth_path.name.replace(".truth.json", ".json")).read_text())
        catalog = Catalog.model_validate(document["catalog"])
        signals = (ingested_signals(document, catalog) if ingestion
                   else scenario_signals(document, catalog, cloudwatch_severity=cloudwatch_severity))
        out.append(LoadedScenario(name=document["name"], document=document,
                                  truth=json.loads(truth_path.read_text()), catalog=catalog, signals=signals))
    return out


def ingested_signals(document: dict[str, Any], catalog: Catalog) -> list[Signal]:
    signals: list[Signal] = []
    for index, delivery in enumerate(document["deliveries"]):
        result = normalize(delivery["source"], delivery["body"], catalog=catalog,
                           received_at=parse_time(delivery["at"]), origin_delivery=index, delivery_id=f"d{index}")
        signals.extend(s.model_copy(update={"priority": classify(s, catalog)}) for s in result.signals)
    return _mark_duplicates(signals)


def _mark_duplicates(signals: list[Signal]) -> list[Signal]:
    first_by_key: dict[tuple[str, SignalStatus], Signal] = {}
    out = []
    for signal in signals:
        first = first_by_key.get((signal.fingerprint, signal.status))
        if first is not None and signal.event_time - first.event_time <= DEDUP_WINDOW:
            signal = signal.model_copy(update={"duplicate_of": first.id})
        else:
            first_by_key[(signal.fingerprint, signal.status)] = signal
        out.append(signal)
    return out


def scenario_signals(document: dict[str, Any], catalog: Catalog, *,
                     cloudwatch_severity: Severity = Severity.CRITICAL) -> list[Signal]:
    signals: list[Signal] = []
    name = document.get("name", "scenario")
    for index, delivery in enumerate(document["deliveries"]):
        received = parse_time(delivery["at"])
        for item, raw in enumerate(_items(delivery["source"], delivery["body"], received, cloudwatch_severity)):
            if raw.status is None:
                continue
            resolution = catalog.resolve(service_hints=raw.services, instance_hints=raw.instances,
                                         host_hints=raw.hosts)
            fingerprint = hashlib.sha256(f"{delivery['source']}|{raw.key}".encode()).hexdigest()[:32]
            signal = Signal(
                id=f"sig-{name}-{index:03d}-{item}", source=delivery["source"], status=raw.status,
                severity=raw.severity, event_time=raw.event_time,
                received_at=received, title=raw.title[:1024], labels=dict(raw.labels),
                origin=Origin(delivery=index, item=item), service=resolution.service, entity=resolution.entity,
                entity_kind=resolution.entity_kind, host=resolution.host, fingerprint=fingerprint,
                background=raw.severity is Severity.INFO,
            )
            signals.append(signal.model_copy(update={"priority": classify(signal, catalog)}))
    return _mark_duplicates(signals)


def _severity(text: str | None, default: Severity = Severity.WARNING) -> Severity:
    value = (text or "").strip().lower()
    mapping = {"critical": Severity.CRITICAL, "page": Severity.CRITICAL, "high": Severity.CRITICAL,
               "error": Severity.ERROR, "major": Severity.ERROR, "warning": Severity.WARNING, "warn": Severity.WARNING,
               "low": Severity.WARNING, "info": Severity.INFO, "none": Severity.INFO, "success": Severity.INFO}
    return mapping.get(value, default)


def _items(source: str, body: Any, received: datetime, cloudwatch_severity: Severity) -> Iterator[Raw]:
    if source in ("alertmanager", "grafana"):
        for alert in body.get("alerts", []):
            labels = {**body.get("commonLabels", {}), **alert.get("labels", {})}
            status = SignalStatus.RESOLVED if alert.get("status") == "resolved" else SignalStatus.FIRING
            summary = (alert.get("annotations") or {}).get("summary") or labels.get("alertname", "alert")
            yield Raw(status=status, severity=_severity(labels.get("severity")), title=summary,
                      key=alert.get("fingerprint") or json.dumps(labels, sort_keys=True),
                      event_time=parse_time(alert.get("startsAt") or received),
                      services=(labels.get("service"), labels.get("job"), labels.get("app")),
                      instances=(labels.get("pod"), labels.get("container"), labels.get("instance")),
                      hosts=(labels.get("node"), labels.get("host"), labels.get("instance")),
                      labels=tuple(sorted(labels.items())))
    elif source in ("cloudwatch", "cloudwatch-sns"):
        yield from _cloudwatch(body, received, cloudwatch_severity)
    elif source == "pagerduty":
        event = body.get("event", {})
        data = event.get("data", {})
        kind = event.get("event_type", "")
        pd_status = {"incident.triggered": SignalStatus.FIRING, "incident.resolved": SignalStatus.RESOLVED,
                     "incident.acknowledged": SignalStatus.ACKNOWLEDGED}.get(kind)
        summary = (data.get("service") or {}).get("summary")
        yield Raw(status=pd_status, severity=Severity.CRITICAL if data.get("urgency") == "high" else Severity.WARNING,
                  title=data.get("title", "PagerDuty incident"), key=data.get("incident_key") or data.get("id", ""),
                  event_time=parse_time(event.get("occurred_at") or received), services=(summary,),
                  labels=(("alertname", data.get("title", "")),))
    elif source == "opsgenie":
        alert = body.get("alert", {})
        action = body.get("action", "")
        og_status = {"Create": SignalStatus.FIRING, "Close": SignalStatus.RESOLVED,
                     "Acknowledge": SignalStatus.ACKNOWLEDGED}.get(action)
        tags = dict(t.split(":", 1) for t in alert.get("tags", []) if ":" in t)
        severity = {"P1": Severity.CRITICAL, "P2": Severity.ERROR, "P3": Severity.WARNING}.get(
            alert.get("priority", ""), Severity.INFO)
        yield Raw(status=og_status, severity=severity, title=alert.get("message", "Opsgenie alert"),
                  key=alert.get("alias") or alert.get("alertId", ""),
                  event_time=parse_time(alert.get("createdAt") or received),
                  services=(alert.get("entity"), tags.get("service"), (alert.get("details") or {}).get("service")),
                  hosts=(tags.get("host"),), labels=(("alertname", alert.get("message", "")),))
    elif source == "datadog":
        tags = dict(t.split(":", 1) for t in str(body.get("tags", "")).split(",") if ":" in t)
        transition = str(body.get("alert_transition", ""))
        status = SignalStatus.RESOLVED if transition in ("Recovered", "Resolved") else SignalStatus.FIRING
        yield Raw(status=status, severity=_severity(body.get("alert_type"), Severity.WARNING),
                  title=body.get("title", "Datadog alert"), key=str(body.get("alert_id") or body.get("id")),
                  event_time=parse_time(body.get("date") or body.get("last_updated") or received),
                  services=(tags.get("service"),), hosts=(tags.get("host"),),
                  labels=(("alertname", re.sub(r"^\[[^]]*\]\s*", "", body.get("title", ""))),))
    elif source == "generic":
        yield Raw(status=SignalStatus(body.get("status", "firing")), severity=_severity(body.get("severity")),
                  title=body.get("title", "alert"), key=body.get("fingerprint") or body.get("title", ""),
                  event_time=parse_time(body.get("time") or received), services=(body.get("service"),),
                  instances=(body.get("instance"),), hosts=(body.get("host"),))


def _cloudwatch(body: Any, received: datetime, severity: Severity) -> Iterator[Raw]:
    if isinstance(body, dict) and "Records" in body:
        for record in body["Records"]:
            yield from _cloudwatch(json.loads(record["Sns"]["Message"]), received, severity)
        return
    if isinstance(body, dict) and body.get("Type") == "Notification":
        yield from _cloudwatch(json.loads(body["Message"]), received, severity)
        return
    detail = body.get("detail", body)
    name = detail.get("alarmName") or detail.get("AlarmName", "")
    state = (detail.get("state") or {}).get("value") or detail.get("NewStateValue")
    status = {"ALARM": SignalStatus.FIRING, "OK": SignalStatus.RESOLVED}.get(state or "")
    dims: dict[str, str] = {}
    for metric in (detail.get("configuration") or {}).get("metrics", []):
        dims.update(((metric.get("metricStat") or {}).get("metric") or {}).get("dimensions") or {})
    for dim in (detail.get("Trigger") or {}).get("Dimensions", []):
        dims[dim.get("name", "")] = dim.get("value", "")
    prefixes = _prefixes(name)
    timestamp = (detail.get("state") or {}).get("timestamp") or detail.get("StateChangeTime") or received
    yield Raw(status=status, severity=severity, title=name, key=name, event_time=parse_time(timestamp),
              services=(dims.get("Service"), dims.get("ServiceName"), dims.get("DBInstanceIdentifier"), *prefixes),
              hosts=(dims.get("InstanceId"), dims.get("NodeName"), *prefixes), labels=(("alertname", name),))


def _prefixes(alarm_name: str) -> tuple[str, ...]:
    """'search-os-cpuutilization-high' -> ('search-os-cpuutilization', 'search-os', 'search'): longest first."""
    parts = alarm_name.split("-")
    return tuple("-".join(parts[:n]) for n in range(len(parts) - 1, 0, -1))
