"""The scheduled anomaly detector: baselines, real-time scoring and capacity forecasts → signals.

Every run (EventBridge, every 5 minutes):
1. For each catalog service and watched metric, load its seasonal baseline from S3
   (`baselines/<tenant>/<service>/<metric>.json`), rebuilding it from 30 days of CloudWatch data
   when it is missing or a day old (one GetMetricData request per 500 series).
2. Score the last 6 hours against it, at the level of the 24 hours before (anomaly/detector.py).
3. Forecast the capacity metrics 3, 6, 12 and 24 hours ahead (anomaly/forecast.py).
4. Hand what it found to ingestion as generic alerts (firing, and resolved when a series is back to
   normal), with the baseline and the deviation as evidence in labels and description, so anomalies
   are deduplicated, classified, correlated and paged like any other alert.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypedDict

from sre_copilot.anomaly.baseline import SeasonalBaseline, build_baseline
from sre_copilot.anomaly.detector import DEFAULT_CONFIG, Anomaly, DetectorConfig, detect
from sre_copilot.anomaly.forecast import CapacityForecast, forecast
from sre_copilot.domain.json_types import as_object, strings
from sre_copilot.domain.types import format_time
from sre_copilot.ports.executors import MetricsReader
from sre_copilot.services import tenancy
from sre_copilot.services.container import Container
from sre_copilot.services.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

SCORE_HOURS = 6
REFERENCE_HOURS = 24
FORECAST_HISTORY_HOURS = 12
REBUILD_AFTER = timedelta(hours=24)
STEP_S = 300


@dataclass(frozen=True)
class CapacityRule:
    metric: str
    threshold: float


def parse_capacity(text: str) -> list[CapacityRule]:
    """"DiskUsedPercent=90,MemoryUsedPercent=90" -> rules (the settings' compact form)."""
    rules = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        rules.append(CapacityRule(name.strip(), float(value)))
    return rules


class AnomalyService:
    def __init__(self, container: Container, *, reader: MetricsReader | None = None,
                 config: DetectorConfig = DEFAULT_CONFIG) -> None:
        self.c = container
        self.tenant = tenancy.current(container.settings.tenant_id)
        self.reader = reader or self._reader()
        self.config = config

    def _reader(self) -> MetricsReader:
        from sre_copilot.adapters import aws_clients
        from sre_copilot.adapters.cloudwatch_metrics import CloudWatchMetrics

        return CloudWatchMetrics(aws_clients.client("cloudwatch", self.c.settings.region), period_s=STEP_S)

    # -- the run ----------------------------------------------------------------------------------
    def run(self, now: datetime, lambda_context: LambdaContext | None = None) -> dict[str, int]:
        """`lambda_context`: the detector's invocation, so ingestion's idempotency record expires if it
        times out mid-way (rather than blocking the same delivery for a day)."""
        services = list(self.c.catalog().service_names)
        metrics = [m.strip() for m in self.c.settings.anomaly_metrics.split(",") if m.strip()]
        capacity = parse_capacity(self.c.settings.capacity_thresholds)
        watched = [(s, m) for s in services for m in metrics]
        baselines = self._baselines(watched, now)
        recent = self.reader.series_many(
            watched + [(s, r.metric) for s in services for r in capacity],
            now - timedelta(hours=SCORE_HOURS + REFERENCE_HOURS), now)
        alerts: list[GeneratedAlert] = []
        firing: set[str] = set()
        for key, baseline in baselines.items():
            points = recent.get(key, [])
            window = [p for p in points if p[0] > now - timedelta(hours=SCORE_HOURS)]
            reference = [p for p in points if p[0] <= now - timedelta(hours=SCORE_HOURS)]
            found = detect(baseline, window, self.config, reference)
            if found is not None:
                alert = anomaly_alert(found)
                alerts.append(alert)
                firing.add(alert["fingerprint"])
        for service in services:
            for rule in capacity:
                points = [p for p in recent.get((service, rule.metric), [])
                          if p[0] > now - timedelta(hours=FORECAST_HISTORY_HOURS)]
                result = forecast(service, rule.metric, points, threshold=rule.threshold)
                if result is not None and result.breach_at is not None:
                    alert = forecast_alert(result)
                    alerts.append(alert)
                    firing.add(alert["fingerprint"])
        open_before = self._open_fingerprints()
        alerts += [{"title": f"{fp.split(':', 1)[1]} back to normal", "status": "resolved", "fingerprint": fp,
                    "at": format_time(now), "service": fp.split(":")[1], "severity": "info"}
                   for fp in sorted(open_before - firing)]
        self._save_open(firing)
        if alerts:
            self._ingest(alerts, lambda_context)
        return {"series": len(baselines), "anomalies": sum(1 for a in alerts if a["fingerprint"].startswith("anomaly:")
                                                            and a["status"] == "firing"),
                "forecasts": sum(1 for a in alerts if a["fingerprint"].startswith("forecast:")
                                 and a["status"] == "firing"),
                "cleared": len(open_before - firing)}

    # -- baselines --------------------------------------------------------------------------------
    def _key(self, service: str, metric: str) -> str:
        return f"baselines/{self.tenant}/{service}/{metric}.json"

    def _baselines(self, watched: list[tuple[str, str]], now: datetime) -> dict[tuple[str, str], SeasonalBaseline]:
        out: dict[tuple[str, str], SeasonalBaseline] = {}
        stale: list[tuple[str, str]] = []
        for service, metric in watched:
            try:
                baseline = SeasonalBaseline.from_json(as_object(self.c.blobs.get_json(self._key(service, metric))))
            except Exception:  # missing or unreadable: rebuild it below
                baseline = None
            if baseline is None or now - datetime.fromisoformat(baseline.built_at) >= REBUILD_AFTER:
                stale.append((service, metric))
            else:
                out[(service, metric)] = baseline
        if stale:
            history = self.reader.series_many(stale, now - timedelta(days=30), now)
            for service, metric in stale:
                built = build_baseline(service, metric, history.get((service, metric), []), now)
                if built is None:
                    continue  # no data for this series: nothing to compare against
                self.c.blobs.put_json(self._key(service, metric), built.to_json())
                out[(service, metric)] = built
        return out

    def _open_fingerprints(self) -> set[str]:
        try:
            return set(strings(self.c.blobs.get_json(f"baselines/{self.tenant}/_open.json")))
        except Exception:  # first run
            return set()

    def _save_open(self, firing: set[str]) -> None:
        self.c.blobs.put_json(f"baselines/{self.tenant}/_open.json", sorted(firing))

    def _ingest(self, alerts: list[GeneratedAlert], lambda_context: LambdaContext | None) -> None:
        from sre_copilot.services.ingest_service import IngestService

        raw = json.dumps({"alerts": alerts}, sort_keys=True).encode()
        # Invoked by EventBridge under its own IAM role: no webhook secret to check.
        result = IngestService(self.c).handle_webhook("generic", {"user-agent": "sre-copilot-anomaly"}, raw,
                                                      iam_trusted=True, tenant=self.tenant,
                                                      lambda_context=lambda_context)
        if result.status >= 400:
            logger.error("anomaly signals rejected by ingestion", extra={"body": result.body})


class _Alert(TypedDict):
    title: str
    status: str
    severity: str
    service: str
    at: str
    fingerprint: str


class GeneratedAlert(_Alert, total=False):
    """One alert the detector sends through the generic webhook (ingest/sources/generic)."""

    description: str
    metric_value: float
    labels: dict[str, str]


def anomaly_alert(found: Anomaly) -> GeneratedAlert:
    severity = "error" if abs(found.z) >= 8 else "warning"
    return {
        "title": f"Anomaly: {found.metric} of {found.service} {'high' if found.direction == 'up' else 'low'}",
        "status": "firing", "severity": severity, "service": found.service, "at": format_time(found.at),
        "fingerprint": f"anomaly:{found.service}:{found.metric}", "description": found.describe(),
        "metric_value": found.observed,
        "labels": {"alertname": f"Anomaly{found.metric}", "source": "anomaly-detector", "metric": found.metric,
                   "anomaly_kind": found.kind, "direction": found.direction, "baseline": f"{found.expected:.6g}",
                   "baseline_p05": f"{found.p05:.6g}", "baseline_p95": f"{found.p95:.6g}",
                   "deviation_sigma": f"{found.z:.2f}", "anomaly_score": f"{found.score:.3f}",
                   "since": format_time(found.since)},
    }


def forecast_alert(result: CapacityForecast) -> GeneratedAlert:
    assert result.breach_at is not None
    hours = (result.breach_at - result.at).total_seconds() / 3600
    severity = "critical" if hours <= 3 else "error" if hours <= 6 else "warning"
    labels = {"alertname": f"CapacityForecast{result.metric}", "source": "capacity-forecast",
              "metric": result.metric, "threshold": f"{result.threshold:.6g}", "hours_to_breach": f"{hours:.1f}",
              "slope_per_hour": f"{result.slope_per_h:.4g}"}
    for h in result.horizons:
        labels[f"forecast_{h.hours}h"] = f"{h.value:.4g} [80% {h.low80:.4g}..{h.high80:.4g}; 95% {h.low95:.4g}..{h.high95:.4g}]"
    return {"title": f"Capacity forecast: {result.metric} of {result.service} reaches {result.threshold:.4g} "
                     f"in {hours:.1f} h",
            "status": "firing", "severity": severity, "service": result.service, "at": format_time(result.at),
            "fingerprint": f"forecast:{result.service}:{result.metric}", "description": result.describe(),
            "metric_value": result.level, "labels": labels}
