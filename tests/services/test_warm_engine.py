"""A warm correlator keeps the engine it saved (services/warm_engine.py), and only while nobody
else has saved the state since."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "correlation"))
from correlation_fixtures import CATALOG, alert

from sre_copilot.correlation import CorrelationConfig, CorrelationEngine
from sre_copilot.domain.signal import Signal
from sre_copilot.local.runtime import LocalDeployment, Responders
from sre_copilot.services.container import Container
from sre_copilot.services.correlate_service import CorrelateService
from sre_copilot.services.warm_engine import WarmEngines

START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def test_the_held_engine_is_handed_out_once_and_only_for_the_version_it_saved() -> None:
    # Given an engine kept as saved at version 3
    warm, config = WarmEngines(), CorrelationConfig()
    engine = CorrelationEngine(CATALOG, config)
    warm.keep("t1", 3, engine, CATALOG, config, compactions_before=0)
    # Then another version, another tenant or another configuration gets nothing
    assert warm.take("t2", 3, CATALOG, config) is None
    assert warm.take("t1", 3, CATALOG, CorrelationConfig(window_s=60)) is None
    warm.keep("t1", 3, engine, CATALOG, config, compactions_before=0)
    assert warm.take("t1", 4, CATALOG, config) is None
    # And the version it saved gets it, once: a batch that fails must not leave it half-applied
    warm.keep("t1", 3, engine, CATALOG, config, compactions_before=0)
    assert warm.take("t1", 3, CATALOG.model_copy(), config) is engine  # an equal catalog, re-read
    assert warm.take("t1", 3, CATALOG, config) is None


def test_an_engine_that_compacted_a_group_is_not_kept() -> None:
    # Given an engine that remembers at most ten alerts per group, and a group that outgrew it
    config = CorrelationConfig(max_group_members=10)
    engine = CorrelationEngine(CATALOG, config)
    for n in range(12):
        engine.ingest(alert(f"a{n}", n, service="db", severity="critical", fp=f"fp-{n}"))
    assert engine.compactions > 0
    # When the batch is done, Then the engine is not held: it still links alerts a restored one forgot
    warm = WarmEngines()
    warm.keep("t1", 1, engine, CATALOG, config, compactions_before=0)
    assert warm.take("t1", 1, CATALOG, config) is None


@pytest.fixture(scope="module")
def deployment() -> Iterator[LocalDeployment]:
    with LocalDeployment(start=START, responders=Responders(ack_pages_after_s=None), backend="memory") as local:
        local.put_catalog({"services": [{"name": "search", "tier": 3}, {"name": "ledger", "tier": 3}]})
        yield local


def _message(deployment: LocalDeployment, n: int, service: str) -> dict[str, object]:
    at = START + timedelta(seconds=10 * n)
    signal = Signal.model_validate({
        "id": f"sig-warm-{n}", "tenant_id": deployment.tenant_id, "source": "alertmanager", "status": "firing",
        "severity": "warning", "priority": "P3", "event_time": at, "received_at": at,
        "title": f"QueueBacklog {n}", "labels": {"alertname": f"QueueBacklog{n}"}, "fingerprint": f"fp-warm-{n}",
        "service": service})
    deployment.container.store.put_signal(signal)
    return {"type": "signal", "tenant_id": deployment.tenant_id, "signal_id": signal.id,
            "signal": signal.model_dump(mode="json")}


def test_a_correlator_reloads_the_state_another_one_saved_after_it(deployment: LocalDeployment,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    # Given two warm correlators on one table (two Lambda containers), the first holding its engine
    first = CorrelateService(deployment.container)
    second = CorrelateService(Container(deployment.container.settings, store=deployment.container.store))
    first.process([_message(deployment, 1, "search")])
    # When the second saves the state, then the first takes the next batch
    second.process([_message(deployment, 2, "ledger")])
    with caplog.at_level(logging.WARNING):
        first.process([_message(deployment, 3, "search")])
    # Then the first read the newer state instead of saving over it: no conflict to retry, and the
    # stored state holds all three alerts, in their two groups
    assert "correlation state conflict" not in caplog.text
    state, _version = deployment.container.store.load_correlation_state(deployment.tenant_id)
    assert state is not None
    groups = sorted(sorted(member[0] for member in group["members"]) for group in state["groups"])
    assert groups == [["sig-warm-1", "sig-warm-3"], ["sig-warm-2"]]
