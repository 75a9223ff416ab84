"""PagerDuty v3 event types and Opsgenie actions: which become signals, which only lifecycle hints.

PagerDuty bodies start from the zulip triggered_v3 fixture with the event type (and, for child
events, the `data`) changed as PagerDuty's v3 webhook documentation describes them.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.types import Severity, SignalStatus
from sre_copilot.ingest.normalize import NormalizedDelivery, normalize

RECEIVED = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)
CATALOG = Catalog.model_validate({"services": [{"name": "pig", "aliases": ["pig208"]},
                                               {"name": "search", "aliases": ["Search API"]}]})


@pytest.fixture(scope="module")
def triggered(fixtures_dir: Path) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((fixtures_dir / "pagerduty_v3_incident.triggered.json").read_text())
    return body


def _pd(base: dict[str, Any], event_type: str, **data: Any) -> NormalizedDelivery:
    body = copy.deepcopy(base)
    body["event"]["event_type"] = event_type
    body["event"]["data"].update(data)
    return normalize("pagerduty", body, catalog=CATALOG, received_at=RECEIVED)


@pytest.mark.parametrize(("event_type", "status", "hint"), [
    ("incident.triggered", SignalStatus.FIRING, None),
    ("incident.reopened", SignalStatus.FIRING, None),
    ("incident.unacknowledged", SignalStatus.FIRING, None),
    ("incident.acknowledged", SignalStatus.ACKNOWLEDGED, "acknowledge"),
    ("incident.resolved", SignalStatus.RESOLVED, "resolve"),
])
def test_pagerduty_signal_events(triggered: dict[str, Any], event_type: str, status: SignalStatus,
                                 hint: str | None) -> None:
    result = _pd(triggered, event_type)
    assert result.kind == "alerts"
    (signal,) = result.signals
    assert signal.status is status
    assert signal.service == "pig"
    assert [h.action for h in result.lifecycle] == ([hint] if hint else [])
    # one incident, one fingerprint through its whole life
    assert signal.fingerprint == _pd(triggered, "incident.triggered").signals[0].fingerprint


@pytest.mark.parametrize(("event_type", "action", "note"), [
    ("incident.reassigned", "reassign", "assigned to PIG 208"),
    ("incident.delegated", "reassign", "assigned to PIG 208"),
    ("incident.escalated", "escalate", "escalated to PIG 208"),
    ("incident.priority_updated", "priority", "priority cleared"),
])
def test_pagerduty_hint_only_events_are_ignored_but_carry_hints(triggered: dict[str, Any], event_type: str,
                                                                action: str, note: str) -> None:
    result = _pd(triggered, event_type)
    assert result.kind == "ignored" and result.signals == []
    assert result.ignored_reason == f"PagerDuty {event_type} on incident PFQZPSY is a lifecycle change, not an alert"
    (hint,) = result.lifecycle
    assert (hint.action, hint.external_id, hint.actor, hint.note) == (action, "PFQZPSY", "PIG 208", note)


def test_pagerduty_annotation_is_a_hint_on_the_parent_incident(triggered: dict[str, Any]) -> None:
    body = copy.deepcopy(triggered)
    body["event"]["event_type"] = "incident.annotated"
    body["event"]["data"] = {"incident": {"html_url": "https://acme.pagerduty.com/incidents/PFQZPSY",
                                          "id": "PFQZPSY", "type": "incident_reference"},
                             "id": "P7YK3RF", "content": "rolled back checkout v2.3.1", "type": "incident_note"}
    result = normalize("pagerduty", body, catalog=CATALOG, received_at=RECEIVED)
    assert result.kind == "ignored"
    (hint,) = result.lifecycle
    assert (hint.action, hint.external_id, hint.note) == ("annotate", "PFQZPSY", "rolled back checkout v2.3.1")


def test_pagerduty_priority_and_urgency_set_severity(triggered: dict[str, Any]) -> None:
    p2 = _pd(triggered, "incident.triggered", priority={"id": "P", "summary": "P2", "type": "priority_reference"})
    low = _pd(triggered, "incident.triggered", urgency="low")
    assert p2.signals[0].severity is Severity.ERROR
    assert low.signals[0].severity is Severity.WARNING


def test_pagerduty_ping_and_non_incident_events_are_ignored(triggered: dict[str, Any]) -> None:
    assert _pd(triggered, "pagey.ping").ignored_reason == "PagerDuty webhook ping"
    service = _pd(triggered, "service.updated")
    assert service.kind == "ignored" and service.lifecycle == []


def test_pagerduty_incident_key_is_the_fingerprint_key(triggered: dict[str, Any]) -> None:
    a = _pd(triggered, "incident.triggered", incident_key="dedup-1", id="PAAAAAA")
    b = _pd(triggered, "incident.triggered", incident_key="dedup-1", id="PBBBBBB")
    assert a.signals[0].fingerprint == b.signals[0].fingerprint


# -- Opsgenie -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def create(fixtures_dir: Path) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((fixtures_dir / "opsgenie_webhook_create.json").read_text())
    return body


def _og(base: dict[str, Any], action: str, **alert: Any) -> NormalizedDelivery:
    body = copy.deepcopy(base)
    body["action"] = action
    body["alert"].update(alert)
    return normalize("opsgenie", body, catalog=CATALOG, received_at=RECEIVED)


@pytest.mark.parametrize(("action", "status", "hint"), [
    ("Create", SignalStatus.FIRING, None),
    ("UnAcknowledge", SignalStatus.FIRING, None),
    ("Acknowledge", SignalStatus.ACKNOWLEDGED, "acknowledge"),
    ("Close", SignalStatus.RESOLVED, "resolve"),
])
def test_opsgenie_signal_actions(create: dict[str, Any], action: str, status: SignalStatus, hint: str | None) -> None:
    result = _og(create, action)
    assert [s.status for s in result.signals] == [status]
    assert [(h.action, h.external_id, h.actor) for h in result.lifecycle] == \
        ([(hint, "ec03dad6-62c8-4c94-b38b-d88f398e900f", "test@example.com")] if hint else [])


def test_opsgenie_event_time_uses_update_time_after_create(create: dict[str, Any]) -> None:
    created = _og(create, "Create").signals[0].event_time
    closed = _og(create, "Close", updatedAt=1502710000000000000).signals[0].event_time
    assert created == datetime(2017, 8, 14, 11, 25, 56, 288000, tzinfo=UTC)
    assert closed == datetime(2017, 8, 14, 11, 26, 40, tzinfo=UTC)


@pytest.mark.parametrize(("action", "hint", "field", "note"), [
    ("AddNote", "annotate", {"note": "looking at it"}, "looking at it"),
    ("AssignOwnership", "reassign", {"owner": "jane@example.com"}, "assigned to jane@example.com"),
    ("UpdatePriority", "priority", {"priority": "P1"}, "priority P1"),
    ("EscalateNext", "escalate", {}, None),
])
def test_opsgenie_hint_only_actions(create: dict[str, Any], action: str, hint: str, field: dict[str, Any],
                                    note: str | None) -> None:
    result = _og(create, action, **field)
    assert result.kind == "ignored" and result.signals == []
    assert [(h.action, h.note) for h in result.lifecycle] == [(hint, note)]


def test_opsgenie_other_actions_are_ignored_without_hints(create: dict[str, Any]) -> None:
    result = _og(create, "AddTags")
    assert result.kind == "ignored" and result.lifecycle == []


def test_opsgenie_priority_entity_tags_and_details(create: dict[str, Any]) -> None:
    result = _og(create, "Create", priority="P1", entity="Search API", tags=["service:search", "team:sre", "vip"],
                 details={"region": "eu-west-1", "attempts": 3})
    (signal,) = result.signals
    assert signal.severity is Severity.CRITICAL
    assert signal.service == "search"
    assert (signal.labels["service"], signal.labels["team"], signal.labels["tags"]) == ("search", "sre", "vip")
    assert (signal.labels["region"], signal.labels["attempts"]) == ("eu-west-1", "3")
