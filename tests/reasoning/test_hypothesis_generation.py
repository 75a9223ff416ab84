"""Deterministic hypothesis generators: change, dependency, saturation, host, instance, shared and
blamed dependencies. (LLM candidates and their grounding: test_anthropic_assistant.py.)"""

from __future__ import annotations

from datetime import timedelta

from reasoning_pipeline import LabelledIncident, load_labelled, run

from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import EntityKind, Priority, Severity, SignalStatus


def _case(name: str) -> LabelledIncident:
    return next(c for c in load_labelled("simple") if c.name == name)


def _signal(case: LabelledIncident, n: int, service: str, title: str, minutes: float) -> Signal:
    at = min(s.event_time for s in case.signals) + timedelta(minutes=minutes)
    return Signal(id=f"sig-x{n}", source="alertmanager", status=SignalStatus.FIRING, severity=Severity.CRITICAL,
                  priority=Priority.P1, event_time=at, received_at=at, title=title, service=service, entity=service,
                  entity_kind=EntityKind.SERVICE, fingerprint=f"fp-{n}")


def test_a_change_on_the_deepest_alerting_service_is_a_change_hypothesis() -> None:
    top = run(_case("sample-2-006#1")).hypotheses[0]
    assert (top.entity, top.entity_kind, top.service, top.change_id, top.fault, top.generator) == (
        "ads", EntityKind.SERVICE, "ads", "config-9623", "bad config change", "change")
    assert "config-9623" in top.summary and any(e.kind == "temporal" for e in top.evidence)


def test_the_deepest_alerting_datastore_is_a_dependency_outage() -> None:
    ranked = run(_case("sample-1-000#0")).hypotheses
    assert (ranked[0].entity, ranked[0].fault, ranked[0].generator) == ("search-os", "dependency outage", "dependency")
    assert "quote" in ranked[0].summary and "deepest alerting dependency" in ranked[0].summary
    # quote reported "upstream errors": it points below itself and ranks lower
    quote = next(h for h in ranked if h.entity == "quote")
    assert quote.confidence < ranked[0].confidence - 0.1


def test_latency_on_one_service_without_a_change_is_saturation() -> None:
    ranked = run(_case("sample-1-002#1")).hypotheses
    assert (ranked[0].entity, ranked[0].fault, ranked[0].change_id) == ("search", "saturation", None)
    assert ranked[1].entity == "session"  # the caller, as a weaker alternative


def test_a_host_alarm_with_pods_of_several_services_is_a_host_failure() -> None:
    ranked = run(_case("sample-1-004#0")).hypotheses
    assert (ranked[0].entity, ranked[0].entity_kind, ranked[0].service, ranked[0].fault) == (
        "ip-10-0-5-33", EntityKind.HOST, None, "host failure")
    # The pods' own services are explained away by the host rather than offered as saturation.
    assert all(h.entity_kind is EntityKind.HOST for h in ranked)


def test_one_crash_looping_pod_is_also_offered_as_an_instance_failure() -> None:
    ranked = run(_case("sample-1-003#1")).hypotheses
    assert [(h.entity, h.entity_kind) for h in ranked[:2]] == [("session", EntityKind.SERVICE),
                                                               ("session-4cc99-0", EntityKind.INSTANCE)]
    assert ranked[1].service == "session" and ranked[1].fault == "instance failure"


def test_a_quiet_dependency_shared_by_unrelated_alerting_services_is_proposed() -> None:
    # Given quote and search alert with errors; neither calls the other; both depend on cart-redis,
    # which raised no alert
    case = _case("sample-1-000#0")
    signals = [_signal(case, 1, "quote", "HighErrorRate quote", 0), _signal(case, 2, "search", "HighErrorRate search", 1)]
    ranked = run(LabelledIncident(**{**case.__dict__, "signals": signals})).hypotheses

    shared = next(h for h in ranked if h.entity == "cart-redis")
    assert shared.fault == "dependency outage" and shared.generator == "dependency"
    assert any(e.kind == "common_dependency" for e in shared.evidence)
    assert shared.rank <= 3


def test_upstream_errors_with_no_alerting_dependency_point_at_quiet_dependencies() -> None:
    case = _case("sample-1-000#0")
    signals = [_signal(case, 1, "quote", "UpstreamErrors for Quote API", 0)]
    ranked = run(LabelledIncident(**{**case.__dict__, "signals": signals})).hypotheses
    proposed = {h.entity for h in ranked if h.generator == "dependency"}
    assert proposed == {"search-os", "cart-redis"}


def test_generation_is_deterministic() -> None:
    case = _case("sample-2-006#1")
    first = [(h.id, h.confidence) for h in run(case).hypotheses]
    assert first == [(h.id, h.confidence) for h in run(case).hypotheses]
    assert len({i for i, _ in first}) == len(first)
