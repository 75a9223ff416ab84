"""Context assembly (seed 001 "CONTEXT ASSEMBLY ENGINE"): an immutable snapshot in six parts.

Sources are passed in; a source that is absent or fails is recorded in `snapshot.missing[part]`
with the reason and the other parts are still built, so analysis never stops on one broken feed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from statistics import fmean, pstdev
from typing import Any

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.change import ChangeEvent
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.reasoning import ContextSnapshot
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import ChangeKind, EntityKind, format_time
from sre_copilot.ports.executors import MetricsReader
from sre_copilot.reasoning.symptoms import LOCAL, Symptom, classify, is_cosmetic

PARTS = ("topology", "recent_changes", "traffic_baseline", "dependency_health", "slo_state", "correlated_signals")
DEFAULT_METRICS: tuple[str, ...] = ("RequestCount", "ErrorRate", "Latency-p50", "Latency-p95", "Latency-p99",
                                    "CPUUtilization")
CHANGE_LOOKBACK = timedelta(hours=24)
BASELINE_WINDOW = timedelta(days=7)
# Metrics usually move a few minutes before an alarm's evaluation periods fill, so the "current"
# window starts a little before the first symptom.
CURRENT_LEAD = timedelta(minutes=5)
MAX_METRIC_SERVICES = 12
_RUNTIME_KINDS_WE_RUN = frozenset({"kubernetes", "ecs", "ec2", "lambda", "vm", "nomad", "fargate"})


def assemble_context(
    *,
    incident: Incident,
    signals: list[Signal],
    catalog: Catalog,
    changes: list[ChangeEvent],
    metrics: MetricsReader | None,
    now: datetime,
    extra_sources: Mapping[str, Callable[[], Any]] | None = None,
    metric_names: Sequence[str] = DEFAULT_METRICS,
) -> ContextSnapshot:
    missing: dict[str, str] = {}
    parts: dict[str, Any] = {"topology": {}, "recent_changes": [], "traffic_baseline": {}, "dependency_health": {},
                             "slo_state": {}, "correlated_signals": []}

    rows = _guard(missing, "correlated_signals", lambda: correlated_signals(signals, catalog), [])
    parts["correlated_signals"] = rows
    alerts = [r for r in rows if r["alert"]]
    first = min((_t(r["event_time"]) for r in alerts), default=incident.opened_at)
    alerting = sorted({r["service"] for r in alerts if r.get("service") and catalog.service(r["service"])})

    parts["topology"] = _guard(missing, "topology", lambda: topology(catalog, alerts, alerting, changes, first, now), {})
    parts["recent_changes"] = _guard(
        missing, "recent_changes", lambda: recent_changes(changes, catalog, alerting, first, now), [])
    if metrics is None:
        missing["traffic_baseline"] = "no metrics reader configured"
    else:
        reader = metrics
        names = _metric_names(metric_names, signals)
        parts["traffic_baseline"] = _guard(
            missing, "traffic_baseline", lambda: traffic_baseline(reader, catalog, alerting, names, first, now), {})
        services = parts["traffic_baseline"].get("services") if parts["traffic_baseline"] else None
        if "traffic_baseline" not in missing and not services:
            errors = parts["traffic_baseline"].get("errors") or []
            missing["traffic_baseline"] = (f"metric reads failed: {errors[0]}" if errors else
                                           "no metric data for the alerting services in the last 7 days")
    parts["dependency_health"] = _guard(
        missing, "dependency_health", lambda: dependency_health(catalog, alerts, alerting, parts["traffic_baseline"]), {})
    parts["slo_state"] = _guard(missing, "slo_state",
                                lambda: slo_state(catalog, alerts, alerting, parts["traffic_baseline"], missing), {})

    for name, source in (extra_sources or {}).items():
        try:
            value = _jsonable(source())
        except Exception as exc:  # a broken optional feed is recorded, never fatal
            missing[name] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        _merge_extra(parts, name, value)

    return ContextSnapshot(
        incident_id=incident.id, tenant_id=incident.tenant_id, taken_at=now, evidence_version=incident.evidence_version,
        topology=parts["topology"], recent_changes=parts["recent_changes"], traffic_baseline=parts["traffic_baseline"],
        dependency_health=parts["dependency_health"], slo_state=parts["slo_state"],
        correlated_signals=parts["correlated_signals"], missing=missing,
    )


# -- 6. correlated signals ------------------------------------------------------------------------
def correlated_signals(signals: Iterable[Signal], catalog: Catalog) -> list[dict[str, Any]]:
    """One row per signal, with catalog identities filled in and a symptom class; `alert` is False
    for background noise and for repeats of an alert already listed (same fingerprint)."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for signal in sorted(signals, key=lambda s: (s.event_time, s.id)):
        service = catalog.find_service(signal.service) or signal.service
        entity, kind, host = signal.entity, signal.entity_kind, signal.host
        if kind is EntityKind.INSTANCE and entity:
            found = catalog.find_instance(entity)
            if found:
                service = service or found[0]
                host = host or found[1]
        if kind is EntityKind.HOST and entity:
            host = catalog.find_host(entity) or host or entity
            entity = host
        if kind is None and not service and host:
            entity, kind = host, EntityKind.HOST
        key = f"{signal.source}:{signal.fingerprint}"
        alert = not signal.background and signal.duplicate_of is None and key not in seen
        seen.add(key)
        rows.append({
            "id": signal.id, "source": signal.source, "status": signal.status.value,
            "severity": signal.severity.value, "title": signal.title[:300], "event_time": format_time(signal.event_time),
            "service": service, "entity": entity or service, "entity_kind": (kind or (EntityKind.SERVICE if service
                                                                                   else None)),
            "host": host, "symptom": classify(signal, _names(signal, service, entity, host, catalog)).value, "sigma": signal.sigma,
            "metric_value": signal.metric_value, "fingerprint": signal.fingerprint, "alert": alert,
            "duplicate_of": signal.duplicate_of,
            # Names the catalog does not know cannot be explained by any hypothesis; reasoning skips them.
            "resolved": bool((service and catalog.service(service)) or (host and catalog.find_host(host))),
        })
    for row in rows:
        if isinstance(row["entity_kind"], EntityKind):
            row["entity_kind"] = row["entity_kind"].value
    return rows


def _names(signal: Signal, service: str | None, entity: str | None, host: str | None, catalog: Catalog) -> list[str]:
    names = [service, entity, host, signal.service, signal.entity, signal.host]
    svc = catalog.service(service) if service else None
    if svc is not None:
        names += svc.aliases
    return [n for n in names if n]


# -- 1. topology ----------------------------------------------------------------------------------
def is_managed(catalog: Catalog, name: str) -> bool:
    """A datastore or managed dependency we do not run ourselves (no instances, non-workload runtime)."""
    service = catalog.service(name)
    if service is None:
        return False
    kind = str(service.runtime.get("kind", "")).lower()
    return not service.instances and kind not in _RUNTIME_KINDS_WE_RUN


def topology(catalog: Catalog, alerts: list[dict[str, Any]], alerting: list[str], changes: list[ChangeEvent],
             first: datetime, now: datetime) -> dict[str, Any]:
    alerting_hosts = sorted({r["host"] for r in alerts if r.get("host")})
    involved: set[str] = set(alerting)
    for name in alerting:
        involved |= catalog.downstream_closure(name)
        involved |= set(catalog.callers(name))
    for host in alerting_hosts:
        involved |= {svc for svc, _ in catalog.instances_on_host(host)}
    alerting_instances = {r["entity"] for r in alerts if r.get("entity_kind") == EntityKind.INSTANCE.value}
    unhealthy = {r["entity"] for r in alerts if r.get("entity_kind") == EntityKind.INSTANCE.value
                 and Symptom(r["symptom"]) in LOCAL}
    down_hosts = {r["host"] for r in alerts if r.get("host") and r.get("symptom") == Symptom.HOST_DOWN.value}
    deploys = sorted((c for c in changes if c.kind in (ChangeKind.DEPLOY, ChangeKind.ROLLBACK) and c.at <= now
                      and c.status != "failed"), key=lambda c: c.at)
    latest = {catalog.find_service(c.service) or c.service: c for c in deploys}
    services: dict[str, Any] = {}
    for name in sorted(involved):
        svc = catalog.service(name)
        if svc is None:
            continue
        instances = [{"name": i.name, "host": i.host, "alerting": i.name in alerting_instances,
                      "healthy": i.name not in unhealthy and i.host not in down_hosts} for i in svc.instances]
        deploy = latest.get(name)
        services[name] = {
            "depends_on": list(svc.depends_on), "callers": catalog.callers(name), "tier": svc.tier, "team": svc.team,
            "runtime_kind": svc.runtime.get("kind"), "workload": svc.runtime.get("workload"),
            "managed": is_managed(catalog, name), "alerting": name in alerting,
            "version": deploy.version if deploy else None,
            "previous_version": deploy.previous_version if deploy else None,
            "deployed_at": format_time(deploy.at) if deploy else None,
            "replicas": len(instances), "healthy_replicas": sum(1 for i in instances if i["healthy"]),
            "instances": instances,
        }
    hosts: dict[str, Any] = {}
    for host in alerting_hosts:
        on_host = catalog.instances_on_host(host)
        hosts[host] = {
            "instances": [[svc, inst] for svc, inst in on_host],
            "alerting_instances": sorted(inst for _, inst in on_host if inst in alerting_instances),
            "host_alarm": host in down_hosts or any(r.get("entity_kind") == EntityKind.HOST.value
                                                    and r.get("entity") == host for r in alerts),
            "known": catalog.find_host(host) is not None,
        }
    return {"first_symptom_at": format_time(first), "alerting_services": alerting, "alerting_hosts": alerting_hosts,
            "involved": sorted(services), "services": services, "hosts": hosts}


# -- 2. recent changes ----------------------------------------------------------------------------
def recent_changes(changes: Iterable[ChangeEvent], catalog: Catalog, alerting: list[str], first: datetime,
                   now: datetime) -> list[dict[str, Any]]:
    """Changes from 24 h before the first symptom up to now, each placed relative to the incident:
    `relation` says how the changed thing relates to the alerting services, `lag_s` how long before
    the first symptom it landed (negative: after)."""
    alerting_set = set(alerting)
    below: set[str] = set()
    above: set[str] = set()
    for name in alerting:
        below |= catalog.downstream_closure(name)
        above |= set(catalog.callers(name))
    out: list[dict[str, Any]] = []
    for change in sorted(changes, key=lambda c: (c.at, c.id)):
        if not (first - CHANGE_LOOKBACK <= change.at <= now):
            continue
        service = catalog.find_service(change.service)
        host = None if service else catalog.find_host(change.service)
        if service in alerting_set:
            relation = "alerting"
        elif service in below:
            relation = "dependency"
        elif host:
            relation = "host"
        elif service in above:
            relation = "caller"
        else:
            relation = "unrelated"
        lag = (first - change.at).total_seconds()
        out.append({
            **change.model_dump(mode="json"), "service": service or host or change.service,
            "relation": relation, "lag_s": round(lag, 3), "before_first_symptom": lag >= -30,
            "cosmetic": is_cosmetic(change),
        })
    return out


# -- 3. traffic baseline --------------------------------------------------------------------------
def _metric_names(defaults: Sequence[str], signals: Iterable[Signal]) -> list[str]:
    names = list(defaults)
    for signal in signals:
        for key in ("metric", "metric_name", "MetricName"):
            value = signal.labels.get(key)
            if value and value not in names and len(names) < 12:
                names.append(value)
    return names


def series_stats(points: Sequence[tuple[datetime, float]], first: datetime) -> dict[str, Any] | None:
    """7-day moving average and spread before the incident, the current level, and sigma between them."""
    cut = first - CURRENT_LEAD
    base = [v for t, v in points if t < cut and not math.isnan(v)]
    current = [v for t, v in points if t >= cut and not math.isnan(v)]
    if not base and not current:
        return None
    out: dict[str, Any] = {"baseline_points": len(base), "current_points": len(current)}
    if base:
        mean = fmean(base)
        std = pstdev(base) if len(base) > 1 else 0.0
        ordered = sorted(base)
        out.update(baseline_mean=round(mean, 6), baseline_std=round(std, 6),
                   baseline_p50=ordered[len(ordered) // 2], baseline_p95=ordered[min(len(ordered) - 1,
                                                                                  int(len(ordered) * 0.95))])
    if current:
        # The upper half of the current window: an incident that is already recovering, or whose
        # metric rose part-way through the window, still shows how far it went.
        top = sorted(current)[len(current) // 2:]
        out["current"] = round(fmean(top), 6)
        out["current_max"] = max(current)
    if len(base) >= 5 and current:
        mean, std = out["baseline_mean"], out["baseline_std"]
        floor = max(std, abs(mean) * 0.01, 1e-9)
        out["sigma"] = round((out["current"] - mean) / floor, 3)
    return out


def traffic_baseline(metrics: MetricsReader, catalog: Catalog, alerting: list[str], names: Sequence[str],
                     first: datetime, now: datetime) -> dict[str, Any]:
    targets: list[str] = list(alerting)
    for name in alerting:
        targets += [d for d in catalog.dependencies(name) if d not in targets]
    services: dict[str, Any] = {}
    errors: list[str] = []
    start = first - BASELINE_WINDOW
    wanted = [(service, metric) for service in targets[:MAX_METRIC_SERVICES] for metric in names]
    try:
        found = metrics.series_many(wanted, start, now)
    except Exception as exc:  # an unreadable metrics store is recorded, not fatal to the context
        listed = ", ".join(f"{service}/{metric}" for service, metric in wanted[:3])
        more = f" and {len(wanted) - 3} more" if len(wanted) > 3 else ""
        errors.append(f"{listed}{more}: {type(exc).__name__}: {exc}"[:300])
        found = {}
    for (service, metric), points in found.items():
        stats = series_stats(points, first)
        if stats:
            services.setdefault(service, {})[metric] = stats
    return {"window": {"start": format_time(start), "end": format_time(now), "current_from": format_time(
        first - CURRENT_LEAD)}, "services": services, "errors": errors}


# -- 4. dependency health -------------------------------------------------------------------------
def dependency_health(catalog: Catalog, alerts: list[dict[str, Any]], alerting: list[str],
                      baseline: Mapping[str, Any]) -> dict[str, Any]:
    by_service: dict[str, list[str]] = {}
    for row in alerts:
        if row.get("service"):
            by_service.setdefault(row["service"], []).append(row["symptom"])
    metric_rows: Mapping[str, Any] = (baseline or {}).get("services", {})
    out: dict[str, Any] = {}
    for caller in alerting:
        for dep in catalog.dependencies(caller):
            if dep not in out:
                svc = catalog.service(dep)
                out[dep] = {
                    "callers_alerting": [], "alerting": dep in by_service,
                    "symptoms": sorted(set(by_service.get(dep, []))), "managed": is_managed(catalog, dep),
                    "runtime_kind": svc.runtime.get("kind") if svc else None,
                    "metric_sigma": {m: s.get("sigma") for m, s in metric_rows.get(dep, {}).items()
                                     if s.get("sigma") is not None},
                }
            out[dep]["callers_alerting"].append(caller)
    return {"dependencies": out}


# -- 5. SLO state ---------------------------------------------------------------------------------
def _target_fraction(slo: Mapping[str, Any]) -> float | None:
    for key in ("availability", "target", "objective", "availability_target"):
        value = slo.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) / 100.0 if value > 1 else float(value)
    return None


def slo_state(catalog: Catalog, alerts: list[dict[str, Any]], alerting: list[str], baseline: Mapping[str, Any],
              missing: dict[str, str]) -> dict[str, Any]:
    """Error-budget burn rate and time to exhaust the budget, where a service has an SLO and an
    error-rate series. Burn rate = current error fraction / allowed error fraction; without budget
    history the whole window's budget is assumed left, so time to breach = window / burn rate."""
    burning = sorted({r["service"] for r in alerts if r.get("symptom") == Symptom.SLO_BURN.value and r.get("service")})
    services: dict[str, Any] = {}
    metric_rows: Mapping[str, Any] = (baseline or {}).get("services", {})
    for name in alerting:
        svc = catalog.service(name)
        if svc is None or not svc.slo:
            continue
        target = _target_fraction(svc.slo)
        window_days = float(svc.slo.get("window_days", 30))
        entry: dict[str, Any] = {"slo": dict(svc.slo), "target": target, "window_days": window_days,
                                 "alerting_burn": name in burning}
        error_rate = next((metric_rows.get(name, {}).get(m) for m in ("ErrorRate", "error_rate", "5xxErrorRate")
                           if metric_rows.get(name, {}).get(m)), None)
        if target is not None and target < 1 and error_rate and error_rate.get("current") is not None:
            fraction = float(error_rate["current"]) / 100.0
            burn = fraction / (1 - target)
            entry["burn_rate"] = round(burn, 3)
            entry["time_to_breach_h"] = round(window_days * 24 / burn, 2) if burn > 0 else None
            entry["compliant_now"] = fraction <= (1 - target)
        services[name] = entry
    if not services and not burning:
        missing["slo_state"] = "no SLO configured for the alerting services"
    return {"services": services, "burn_alerts": burning}


# -- helpers --------------------------------------------------------------------------------------
def _guard(missing: dict[str, str], part: str, build: Callable[[], Any], empty: Any) -> Any:
    try:
        return build()
    except Exception as exc:  # assembly never raises: the part is recorded as missing instead
        missing[part] = f"{type(exc).__name__}: {exc}"[:300]
        return empty


def _t(value: str) -> datetime:
    from sre_copilot.domain.types import parse_time

    return parse_time(value)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _merge_extra(parts: dict[str, Any], name: str, value: Any) -> None:
    """Extra sources named after a part are merged into it; any other lands under
    dependency_health["extra"][name] (extras are usually pool, cache or queue readings)."""
    if name in PARTS and isinstance(parts[name], dict) and isinstance(value, dict):
        parts[name] = {**parts[name], **value}
    elif name in PARTS and isinstance(parts[name], list) and isinstance(value, list):
        parts[name] = [*parts[name], *value]
    else:
        parts["dependency_health"] = {**parts["dependency_health"],
                                      "extra": {**parts["dependency_health"].get("extra", {}), name: value}}
