"""Confidence on anomaly storms: with an anomaly ranking, structure alone does not outrank it
(reasoning/confidence.py, the `localisation` evidence)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shop_catalog import shop_catalog

from sre_copilot.domain.incident import Incident
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import EntityKind, Priority, Severity, SignalStatus
from sre_copilot.reasoning.confidence import score_hypotheses
from sre_copilot.reasoning.context import assemble_context
from sre_copilot.reasoning.evidence import aggregate_evidence
from sre_copilot.reasoning.hypotheses import generate_hypotheses

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# n1 runs most pods (as a busy node of a real cluster does); cart-1 runs alone on n2.
CATALOG = shop_catalog(shop_host="n1", hosts=("n1", "n2"))
_n = iter(range(10_000))


def _signal(entity: str, kind: EntityKind, labels: dict[str, str], at_s: float) -> Signal:
    found = CATALOG.find_instance(entity) if kind is EntityKind.INSTANCE else None
    service, host = (found[0], found[1]) if found else (None, entity if kind is EntityKind.HOST else None)
    at = T0 + timedelta(seconds=at_s)
    return Signal(id=f"s{next(_n)}", source="alertmanager", status=SignalStatus.FIRING, severity=Severity.WARNING,
                  event_time=at, received_at=at, title=f"{labels} on {entity}", labels=labels, service=service,
                  entity=entity, entity_kind=kind, host=host, fingerprint=f"fp-{entity}-{sorted(labels.items())}",
                  incident_id="inc-1")


def metric(entity: str, name: str, at_s: float, kind: EntityKind = EntityKind.INSTANCE) -> Signal:
    return _signal(entity, kind, {"metric": name, "direction": "up"}, at_s)


def test_a_busy_node_hosting_the_alerting_pods_does_not_outrank_the_anomaly_ranking() -> None:
    # Given cart-1 with CPU, memory and disk anomalies, and pods of three services on the busy node n1
    # with one anomaly each, while n1 itself shows a single node-level anomaly
    signals = [metric("cart-1", "container_cpu_usage_seconds", 0), metric("cart-1", "container_memory_rss", 5),
               metric("cart-1", "container_fs_writes", 10), metric("front-0", "container_threads", 20),
               metric("front-0", "container_memory_rss", 22), metric("shop-0", "container_cpu_usage_seconds", 27),
               metric("shop-0", "container_network_receive_MB", 25), metric("cart-0", "container_threads", 30),
               metric("n1", "system.disk.pct_usage", 35, EntityKind.HOST)]
    incident = Incident(id="inc-1", title="storm", priority=Priority.P2, opened_at=T0, updated_at=T0 + timedelta(minutes=2),
                        services=["cart", "front", "shop"], signal_ids=[s.id for s in signals])
    snapshot = assemble_context(incident=incident, signals=signals, catalog=CATALOG, changes=[], metrics=None,
                                now=T0 + timedelta(minutes=2))
    evidence = aggregate_evidence(snapshot=snapshot, signals=signals, catalog=CATALOG, precedents=None)
    ranking = [e.subject for e in evidence.items if e.kind == "localisation"]
    # When hypotheses are generated and scored
    scored = score_hypotheses(generate_hypotheses(snapshot=snapshot, evidence=evidence, signals=signals,
                                                  catalog=CATALOG), evidence=evidence, snapshot=snapshot)
    # Then a structural "host failure" of n1 (it hosts most alerting pods) exists but ranks below
    # every suspect the anomaly ranking places above n1, and cart-1 comes first
    assert ranking[0] == "cart-1" and scored[0].entity == "cart-1"
    host = next(h for h in scored if h.entity == "n1")
    above_n1 = ranking[:ranking.index("n1")] if "n1" in ranking else ranking
    assert all(next(h.rank for h in scored if h.entity == e) < host.rank for e in above_n1)
