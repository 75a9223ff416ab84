"""Shared material for the adapter tests: the demo scenario's catalog, a scored incident, local servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import sre_copilot
from sre_copilot.actions.routing import plan_from_recommendation
from sre_copilot.domain.action import ActionPlan, Recommendation
from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.reasoning import ConfidenceFactors, Decision, Hypothesis
from sre_copilot.domain.types import DecisionOutcome, EntityKind, Priority, Risk
from sre_copilot.local.k8s_api import LocalKubernetesApi
from sre_copilot.local.sinks import LocalSinks

DEMO = Path(sre_copilot.__file__).parent / "data" / "demo-checkout-bad-deploy.json"
OPENED = datetime(2026, 3, 4, 10, 7, 10, tzinfo=UTC)


@pytest.fixture(scope="session")
def demo_catalog() -> Catalog:
    return Catalog.model_validate(json.loads(DEMO.read_text())["catalog"])


@pytest.fixture
def incident() -> Incident:
    incident = Incident.open(incident_id="inc-7f3a", tenant_id="default", priority=Priority.P0,
                             title="checkout 5xx rate above 5%", service="checkout", at=OPENED,
                             actor="copilot:correlate", reason="first signal")
    incident.services = ["checkout", "payments"]
    incident.signal_ids = ["sig-1", "sig-2", "sig-3", "sig-4"]
    return incident


def _hypothesis(rank: int, entity: str, fault: str, confidence: float, spread: float,
                factors: tuple[float, float, float, float, float], change_id: str | None = None,
                kind: EntityKind = EntityKind.SERVICE, service: str | None = None) -> Hypothesis:
    names = ("signal_strength", "temporal_correlation", "precedent_frequency", "evidence_quality",
             "human_validation")
    return Hypothesis(id=f"hyp-{rank}", rank=rank, entity=entity, entity_kind=kind, service=service or entity,
                      change_id=change_id, fault=fault, summary=f"{fault} explains the {entity} errors",
                      factors=ConfidenceFactors(**dict(zip(names, factors, strict=True))), confidence=confidence,
                      confidence_range=(round(confidence - spread, 2), round(confidence + spread, 2)))


@pytest.fixture
def hypotheses() -> list[Hypothesis]:
    # Deliberately out of order and four of them: the card must rank and keep three.
    return [
        _hypothesis(3, "payments", "dependency failure", 0.31, 0.1, (0.5, 0.3, 0.1, 0.4, 0.5)),
        _hypothesis(1, "checkout", "bad deploy", 0.81, 0.07, (0.9, 0.95, 0.3, 0.7, 0.5), change_id="deploy-4711"),
        _hypothesis(4, "cart", "saturation", 0.12, 0.05, (0.2, 0.1, 0.0, 0.3, 0.5)),
        _hypothesis(2, "checkout-7f9c-abcde", "pod crash loop", 0.44, 0.09, (0.6, 0.5, 0.2, 0.5, 0.5),
                    kind=EntityKind.INSTANCE, service="checkout"),
    ]


@pytest.fixture
def decision() -> Decision:
    return Decision(outcome=DecisionOutcome.PRESENT, reasons=["top hypothesis 0.81 above 0.70 and 0.37 ahead"],
                    presented=["hyp-1", "hyp-2", "hyp-3"], at=OPENED)


@pytest.fixture
def recommendation() -> Recommendation:
    return Recommendation(hypothesis_id="hyp-1", action="rollback", target="deployment/checkout", risk=Risk.MEDIUM,
                          runbook="rollback-deploy", rationale="deploy-4711 preceded the errors by 5 minutes",
                          estimated_mttr_reduction_min=25, blast_radius=["frontend"])


@pytest.fixture
def plan(recommendation: Recommendation, incident: Incident, demo_catalog: Catalog) -> ActionPlan:
    return plan_from_recommendation(recommendation, incident, plan_id="plan-1a2b", now=OPENED, dry_run=False,
                                    catalog=demo_catalog)


@pytest.fixture
def sinks() -> Iterator[LocalSinks]:
    with LocalSinks() as running:
        yield running


@pytest.fixture
def k8s(demo_catalog: Catalog) -> Iterator[LocalKubernetesApi]:
    with LocalKubernetesApi(demo_catalog, token="k8s-test-token") as running:
        yield running
