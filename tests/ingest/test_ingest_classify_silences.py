"""Priority classification and silences / maintenance windows, on signals normalised from real shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import Priority
from sre_copilot.ingest.classify import PriorityOverride, PriorityRules, classify
from sre_copilot.ingest.normalize import normalize
from sre_copilot.ingest.silences import Matcher, Silence, matching_silence

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
CATALOG = Catalog.model_validate({"services": [
    {"name": "checkout", "tier": 1, "aliases": ["checkoutservice"]},
    {"name": "reviews", "tier": 2}, {"name": "batch", "tier": 3}, {"name": "reports", "tier": 5},
]})


def _am(severity: str, service: str, alertname: str = "HighErrorRate", **labels: str) -> Signal:
    alert = {"status": "firing", "labels": {"alertname": alertname, "severity": severity, "service": service,
                                            **labels},
             "annotations": {"summary": f"{alertname} on {service}"}, "startsAt": "2026-03-04T10:00:00Z",
             "fingerprint": f"{alertname}-{service}"}
    (signal,) = normalize("alertmanager", {"alerts": [alert]}, catalog=CATALOG, received_at=T0).signals
    return signal


# -- classification -------------------------------------------------------------------------------
@pytest.mark.parametrize(("severity", "service", "expected"), [
    ("critical", "checkout", Priority.P0),
    ("error", "checkout", Priority.P1),
    ("warning", "checkout", Priority.P1),
    ("info", "checkout", Priority.P3),
    ("critical", "batch", Priority.P1),      # tier 3 is capped at P1
    ("critical", "reports", Priority.P2),    # tier 5 uses the last cap (tier 4: P2)
    ("critical", "unknown-svc", Priority.P0),  # unknown services are not capped
])
def test_severity_and_tier(severity: str, service: str, expected: Priority) -> None:
    assert classify(_am(severity, service), CATALOG) is expected


def test_slo_impact_promotes_one_step() -> None:
    burn = _am("warning", "reviews", alertname="Error budget burn")
    latency_slo = _am("warning", "reviews", alertname="p99 latency SLO")
    slow = _am("warning", "reviews", alertname="SlowQueries")  # 'slo' inside a word is not an SLO
    labelled = _am("warning", "reviews", alertname="Availability", slo="checkout-availability")
    assert [classify(s, CATALOG) for s in (burn, latency_slo, slow, labelled)] == \
        [Priority.P0, Priority.P0, Priority.P1, Priority.P0]
    assert classify(burn, CATALOG, PriorityRules(slo_promotion=False)) is Priority.P1


def test_overrides_come_first_and_rules_are_configurable() -> None:
    rules = PriorityRules(
        overrides=[PriorityOverride(matchers=[Matcher.parse('alertname=~"Cert.*"')], priority=Priority.P2,
                                    reason="certificates have days of slack")],
        severity_priority={"critical": "P0", "error": "P0", "warning": "P2", "info": "P3"},
    )
    assert classify(_am("critical", "checkout", alertname="CertExpiringSoon"), CATALOG, rules) is Priority.P2
    assert classify(_am("warning", "checkout"), CATALOG, rules) is Priority.P2
    assert classify(_am("error", "checkout"), CATALOG, rules) is Priority.P0


def test_invalid_slo_pattern_is_rejected_when_configured() -> None:
    with pytest.raises(ValidationError):
        PriorityRules(slo_patterns=["(unclosed"])


# -- silences ---------------------------------------------------------------------------------------
def _silence(*matchers: str, start: datetime = T0 - timedelta(hours=1), hours: int = 2, **extra: Any) -> Silence:
    return Silence(id=extra.pop("id", "sil-1"), matchers=list(matchers), starts_at=start,
                   ends_at=start + timedelta(hours=hours), created_by="oncall@example.com", comment="test", **extra)


@pytest.mark.parametrize(("matcher", "matches"), [
    ('alertname="HighErrorRate"', True),
    ('alertname="HighErrorRat"', False),
    ('alertname=~"High.*"', True),
    ('alertname=~"igh"', False),  # regexes are anchored, as in Alertmanager
    ('alertname!~"Disk.*"', True),
    ('severity!="critical"', False),
    ('service="checkout"', True),   # the catalog name, not the label 'checkoutservice'
    ('team=""', True),               # an absent label matches the empty string
    ('team!=""', False),
    ("source=alertmanager", True),
])
def test_matcher_semantics(matcher: str, matches: bool) -> None:
    signal = _am("critical", "checkoutservice")
    assert _silence(matcher).matches(signal) is matches


def test_silence_window_is_half_open() -> None:
    signal = _am("critical", "checkout")
    silence = _silence('service="checkout"', start=T0, hours=1)
    assert matching_silence(signal, [silence], T0) is silence
    assert matching_silence(signal, [silence], T0 - timedelta(seconds=1)) is None
    assert matching_silence(signal, [silence], T0 + timedelta(hours=1)) is None


def test_maintenance_window_silences_a_service() -> None:
    window = Silence.maintenance("checkout", T0, T0 + timedelta(hours=2), created_by="release-bot",
                                 silence_id="mw-42")
    assert window.kind == "maintenance" and window.comment == "maintenance of checkout"
    assert matching_silence(_am("critical", "checkoutservice"), [window], T0 + timedelta(minutes=5)) is window
    assert matching_silence(_am("critical", "reviews"), [window], T0 + timedelta(minutes=5)) is None


def test_first_matching_silence_wins_and_tenants_are_separate() -> None:
    signal = _am("critical", "checkout")
    other_tenant = _silence('service="checkout"', id="sil-other", tenant_id="acme")
    narrow = _silence('service="checkout"', 'severity="critical"', id="sil-narrow")
    broad = _silence('alertname=~".+"', id="sil-broad")
    assert matching_silence(signal, [other_tenant, narrow, broad], T0) is narrow


def test_alertmanager_api_silence_shape_is_accepted() -> None:
    silence = Silence.model_validate({
        "id": "8c0f1e37", "createdBy": "jane", "comment": "db failover",
        "startsAt": "2026-03-04T09:00:00Z", "endsAt": "2026-03-04T11:00:00Z",
        "matchers": [{"name": "alertname", "value": "High.*", "isRegex": True, "isEqual": True},
                     {"name": "severity", "value": "info", "isRegex": False, "isEqual": False}],
    })
    assert [str(m) for m in silence.matchers] == ['alertname=~"High.*"', 'severity!="info"']
    assert matching_silence(_am("critical", "checkout"), [silence], T0) is silence
    # and it round-trips through its stored JSON form
    assert Silence.model_validate_json(silence.model_dump_json()) == silence


@pytest.mark.parametrize("bad", [
    {"matchers": [], "starts_at": T0, "ends_at": T0 + timedelta(hours=1)},
    {"matchers": ['alertname=~"(unclosed"'], "starts_at": T0, "ends_at": T0 + timedelta(hours=1)},
    {"matchers": ['service="x"'], "starts_at": T0, "ends_at": T0},
    {"matchers": ["not a matcher"], "starts_at": T0, "ends_at": T0 + timedelta(hours=1)},
])
def test_invalid_silences_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises((ValidationError, ValueError)):
        Silence.model_validate(bad)
