"""The scheduled detector on the embedded backend: CloudWatch series in, signals through ingestion out."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from sre_copilot.adapters.cloudwatch_metrics import CloudWatchMetrics
from sre_copilot.adapters.secrets import clear_secret_cache
from sre_copilot.anomaly.synthetic import STEP, seasonal_series
from sre_copilot.ingest import tenant_keys
from sre_copilot.local.moto_patches import LambdaContext
from sre_copilot.local.runtime import LOCAL_SECRETS, LocalDeployment, Responders
from sre_copilot.services import tenancy
from sre_copilot.services.anomaly_service import STEP_S, AnomalyService

START = datetime(2026, 3, 2, tzinfo=UTC)
NOW = START + timedelta(days=31)
# The scheduled function's invocation, as Lambda hands it over (ingestion's idempotency reads it).
CONTEXT = LambdaContext("anomaly_detector")
CATALOG = {"services": [{"name": "checkout", "depends_on": [], "team": "t", "tier": 1},
                        {"name": "orders-db", "depends_on": [], "team": "t", "tier": 1}]}


def test_anomaly_and_capacity_forecast_become_signals_with_their_evidence() -> None:
    with LocalDeployment(start=NOW - timedelta(minutes=1), responders=Responders(ack_pages_after_s=None)) as deployment:
        deployment.put_catalog(CATALOG)
        client = deployment.session.client("cloudwatch")
        writer = CloudWatchMetrics(client, period_s=STEP_S)
        # Given 31 days of seasonal request counts for checkout, whose last 40 minutes jump by 60 %
        rng = random.Random(8)
        normal = seasonal_series(rng, START, 32, base=500.0, daily_amp=150.0, weekly_amp=60.0, noise=10.0)
        series = [(t, v + 300.0 if NOW - timedelta(minutes=40) < t <= NOW else v) for t, v in normal]
        writer.put_series("checkout", "RequestCount", "Count", [p for p in series if p[0] <= NOW])
        # And an orders-db disk filling 2 points an hour, at 70 % now: 90 % in 10 hours
        disk = [(NOW - timedelta(hours=12) + i * STEP, 46.0 + 2.0 * i * STEP.total_seconds() / 3600)
                for i in range(12 * 12 + 1)]
        writer.put_series("orders-db", "DiskUsedPercent", "Percent", disk)
        deployment.advance_to(NOW)
        # When the scheduled detector runs
        outcome = AnomalyService(deployment.container, reader=writer).run(NOW, lambda_context=CONTEXT)
        deployment.advance_to(NOW + timedelta(minutes=16))  # past the queues' batching: correlation stores them
        # Then it baselined the series, found the anomaly and the coming breach
        assert outcome["anomalies"] == 1 and outcome["forecasts"] == 1
        assert deployment.container.blobs.get_json("baselines/default/checkout/RequestCount.json")["days"] >= 29
        # And both entered ingestion as signals carrying the baseline and the deviation
        signals = _generic_signals(deployment)
        anomaly = next(s for s in signals if s.labels.get("source") == "anomaly-detector")
        assert anomaly.service == "checkout" and anomaly.labels["direction"] == "up"
        assert float(anomaly.labels["deviation_sigma"]) >= 4 and float(anomaly.labels["baseline"]) > 0
        assert "robust sigma above its baseline" in anomaly.description
        forecast = next(s for s in signals if s.labels.get("source") == "capacity-forecast")
        assert forecast.service == "orders-db" and 9.0 <= float(forecast.labels["hours_to_breach"]) <= 11.0
        # And when request counts are back to their seasonal normal, the next run clears the anomaly
        later = NOW + timedelta(minutes=30)
        writer.put_series("checkout", "RequestCount", "Count", [p for p in series if NOW < p[0] <= later])
        again = AnomalyService(deployment.container, reader=writer).run(later, lambda_context=CONTEXT)
        assert again["anomalies"] == 0 and again["cleared"] == 1


def _generic_signals(deployment: LocalDeployment) -> list:  # type: ignore[type-arg]
    table = deployment.session.client("dynamodb")
    store = deployment.container.store
    items = table.scan(TableName=store.table_name)["Items"]
    ids = [i["id"]["S"] for i in items if i.get("item_type", {}).get("S") == "signal" and "id" in i]
    return [s for s in store.signals_by_id(deployment.tenant_id, ids).values() if s.source == "generic"]


def test_a_tenants_detector_signals_land_in_that_tenant_even_with_tenant_keys_in_force(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a deployment serving acme too, with per-tenant webhook keys in force (the detector's own
    # deliveries carry none: EventBridge invokes it under IAM)
    monkeypatch.setenv("SRE_COPILOT_SERVED_TENANTS", "acme")
    with LocalDeployment(start=NOW - timedelta(minutes=1), responders=Responders(ack_pages_after_s=None)) as deployment:
        deployment.container.blobs.put_json("catalog/acme.json", CATALOG)
        deployment.session.client("secretsmanager").put_secret_value(
            SecretId="sre-copilot/webhook", SecretString=json.dumps(
                {**LOCAL_SECRETS["webhook"], "tenant_keys": {"acme": [tenant_keys.digest("k-acme")]}}))
        clear_secret_cache()
        writer = CloudWatchMetrics(deployment.session.client("cloudwatch"), period_s=STEP_S)
        # And acme's orders-db disk filling 2 points an hour
        disk = [(NOW - timedelta(hours=12) + i * STEP, 46.0 + 2.0 * i * STEP.total_seconds() / 3600)
                for i in range(12 * 12 + 1)]
        writer.put_series("orders-db", "DiskUsedPercent", "Percent", disk)
        deployment.advance_to(NOW)
        # When acme's detector runs
        with tenancy.scope("acme"):
            outcome = AnomalyService(deployment.container, reader=writer).run(NOW, lambda_context=CONTEXT)
        deployment.advance_to(NOW + timedelta(minutes=16))  # past the queues' batching: correlation stores them
        # Then its forecast was accepted by ingestion as acme's signal, and none is the deployment's
        assert outcome["forecasts"] == 1
        table = deployment.session.client("dynamodb")
        items = table.scan(TableName=deployment.container.store.table_name)["Items"]
        pks = [i["pk"]["S"] for i in items if i.get("item_type", {}).get("S") == "signal"]
        assert pks and all(pk.startswith("TENANT#acme#") for pk in pks), pks
