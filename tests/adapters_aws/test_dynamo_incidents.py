"""Incidents: round trip, versioning, the sparse open-incident index, lookup by execution."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aws_test_support import START, raw_item

from sre_copilot.adapters.dynamodb_store import DynamoStore
from sre_copilot.domain.incident import GroupingExplanation, Incident, IncidentState
from sre_copilot.domain.types import Priority
from sre_copilot.errors import ConcurrentUpdate

ARN = "arn:aws:states:eu-west-1:123456789012:execution:sre-copilot-incident:"


def make_incident(incident_id: str, *, at_s: float = 0, tenant: str = "acme") -> Incident:
    incident = Incident.open(incident_id=incident_id, tenant_id=tenant, priority=Priority.P0,
                             title="checkout 5xx", service="checkout", at=START + timedelta(seconds=at_s),
                             actor="copilot:correlation", reason="critical alert")
    incident.signal_ids = ["sig-1", "sig-2"]
    incident.grouping = [GroupingExplanation(signal_id="sig-2", rule="same_service", evidence="checkout",
                                             path=["checkout"], score=0.8)]
    incident.hypotheses = [{"id": "h1", "confidence": 0.72, "fault": "bad_deploy"}]
    return incident


def test_incident_round_trips_and_the_store_keeps_its_version(store: DynamoStore) -> None:
    # Given a new incident
    incident = make_incident("inc-1")
    # When it is written twice
    store.put_incident(incident)
    assert incident.version == 1
    incident.evidence_version = 2
    store.put_incident(incident)
    # Then the caller's object and the stored one agree on version 2 and every field
    read = store.get_incident("acme", "inc-1")
    assert incident.version == 2
    assert read == incident
    assert store.get_incident("other", "inc-1") is None


def test_an_incident_grown_by_an_alert_storm_is_stored_compressed(store: DynamoStore) -> None:
    # Given an incident that 300 alerts joined, each with its grouping explanation
    incident = make_incident("inc-1")
    incident.signal_ids = [f"sig-{i:032x}" for i in range(300)]
    incident.grouping = [GroupingExplanation(signal_id=f"sig-{i:032x}", rule="service",
                                             evidence=f"both alerts are on checkout; sig-{i:032x} alerted 4s earlier",
                                             path=["checkout"], score=0.75) for i in range(300)]
    # When it is written
    store.put_incident(incident)
    # Then the item holds its document compressed to under a third of the text, and it reads back whole
    item = raw_item("TENANT#acme#INCIDENT#inc-1", "INCIDENT")
    text = incident.model_dump_json(exclude={"version"})
    assert "doc" not in item and len(item["doc_z"]["B"]) < len(text) / 3
    assert store.get_incident("acme", "inc-1") == incident
    assert [i.id for i in store.open_incidents("acme")] == ["inc-1"]


def test_incident_expires_incident_ttl_days_after_its_last_update(store: DynamoStore) -> None:
    # Given an incident updated an hour after it opened
    incident = make_incident("inc-ttl")
    incident.updated_at = START + timedelta(hours=1)
    store.put_incident(incident)
    # When the stored item is inspected
    item = raw_item("TENANT#acme#INCIDENT#inc-ttl", "INCIDENT")
    # Then its ttl is 400 days after that update
    assert int(item["ttl"]["N"]) == int((START + timedelta(hours=1, days=400)).timestamp())


def test_open_incidents_lists_only_open_ones_oldest_first(store: DynamoStore) -> None:
    # Given two open incidents (written newest first), one in another tenant
    store.put_incident(make_incident("inc-new", at_s=600))
    store.put_incident(make_incident("inc-old", at_s=0))
    store.put_incident(make_incident("inc-else", tenant="other"))
    # When the tenant's open incidents are listed
    # Then both of its incidents come back, oldest first
    assert [i.id for i in store.open_incidents("acme")] == ["inc-old", "inc-new"]


def test_the_resolution_sweep_lists_only_open_incidents_whose_alerts_cleared(store: DynamoStore) -> None:
    # Given three open incidents: one whose alerts cleared, one firing again after clearing, one firing
    cleared, again, firing = make_incident("inc-cleared"), make_incident("inc-again"), make_incident("inc-firing")
    cleared.signals_clear_since = again.signals_clear_since = START + timedelta(minutes=5)
    for incident in (cleared, again, firing):
        store.put_incident(incident)
    again.signals_clear_since = None
    store.put_incident(again)
    # And a closed incident whose alerts had cleared
    closed = make_incident("inc-closed")
    closed.signals_clear_since = START + timedelta(minutes=5)
    closed.transition(IncidentState.RESOLVED, at=START + timedelta(minutes=30), actor="sre", reason="fixed")
    store.put_incident(closed)
    # When the sweep lists the open incidents whose alerts cleared
    listed = store.open_incidents_clearing("acme")
    # Then only the first comes back, whole, and every open one is still listed as open
    assert [i.id for i in listed] == ["inc-cleared"]
    assert listed[0] == store.get_incident("acme", "inc-cleared")
    assert {i.id for i in store.open_incidents("acme")} == {"inc-cleared", "inc-again", "inc-firing"}


def test_closing_an_incident_removes_it_from_the_open_index(store: DynamoStore) -> None:
    # Given an open incident
    incident = make_incident("inc-close")
    store.put_incident(incident)
    assert raw_item("TENANT#acme#INCIDENT#inc-close", "INCIDENT")["gsi1pk"] == {"S": "TENANT#acme#OPEN_INCIDENTS"}
    # When it is resolved
    incident.transition(IncidentState.RESOLVED, at=START + timedelta(minutes=30), actor="sre", reason="fixed")
    store.put_incident(incident)
    # Then the item no longer carries the index keys and the listing omits it
    item = raw_item("TENANT#acme#INCIDENT#inc-close", "INCIDENT")
    assert "gsi1pk" not in item and "gsi1sk" not in item
    assert store.open_incidents("acme") == []
    # And an incident merged into another is not listed as open either
    merged = make_incident("inc-merged")
    merged.merged_into = "inc-close"
    store.put_incident(merged)
    assert store.open_incidents("acme") == []


def test_stale_incident_write_is_refused(store: DynamoStore) -> None:
    # Given two workers that read the same incident
    store.put_incident(make_incident("inc-race"))
    first, second = store.get_incident("acme", "inc-race"), store.get_incident("acme", "inc-race")
    assert first is not None and second is not None
    # When both save with the version check
    first.resolution_proposed = True
    store.put_incident(first)
    second.title = "edited"
    # Then the second is told to reload, and the first's change is intact
    with pytest.raises(ConcurrentUpdate, match="reload it"):
        store.put_incident(second)
    stored = store.get_incident("acme", "inc-race")
    assert stored is not None and stored.resolution_proposed and stored.title == "checkout 5xx" and stored.version == 2


def test_no_write_can_skip_the_version_check(store: DynamoStore) -> None:
    # Given two workers that read the same open incident, the first of which closes it
    store.put_incident(make_incident("inc-blind"))
    first, second = store.get_incident("acme", "inc-blind"), store.get_incident("acme", "inc-blind")
    assert first is not None and second is not None
    first.state = IncidentState.RESOLVED
    store.put_incident(first)
    assert store.open_incidents("acme") == []
    # When the second saves its older copy (still open)
    second.title = "edited"
    # Then it is refused: the put has no blind mode left
    with pytest.raises(ConcurrentUpdate):
        store.put_incident(second)
    # And the first's close stands, with the open index following it
    stored = store.get_incident("acme", "inc-blind")
    assert stored is not None and stored.state is IncidentState.RESOLVED and stored.title == "checkout 5xx"
    assert stored.version == 2 and store.open_incidents("acme") == []


def test_creating_an_incident_that_exists_is_refused(store: DynamoStore) -> None:
    # Given a stored incident
    store.put_incident(make_incident("inc-dup"))
    # When another worker creates the same id from scratch
    # Then it is refused instead of replacing the stored one
    with pytest.raises(ConcurrentUpdate):
        store.put_incident(make_incident("inc-dup"))


def test_incident_is_found_by_its_execution(store: DynamoStore) -> None:
    # Given an incident whose workflow runs under a different execution name
    incident = make_incident("inc-exec")
    incident.execution = ARN + "inc-exec-r2"
    store.put_incident(incident)
    # When it is looked up by the execution ARN or name
    by_arn = store.incident_by_execution("acme", ARN + "inc-exec-r2")
    by_name = store.incident_by_execution("acme", "inc-exec-r2")
    # Then both find it; an execution named after an incident finds that incident; unknown ones find nothing
    assert by_arn is not None and by_arn.id == "inc-exec"
    assert by_name is not None and by_name.id == "inc-exec"
    found = store.incident_by_execution("acme", ARN + "inc-exec")
    assert found is not None and found.id == "inc-exec"
    assert store.incident_by_execution("acme", ARN + "nope") is None
    assert store.incident_by_execution("other", ARN + "inc-exec-r2") is None


def test_refresh_flags_are_listed_and_cleared_without_touching_incidents(store: DynamoStore) -> None:
    # Given two incidents, one flagged for re-analysis
    store.put_incident(make_incident("inc-a"))
    store.put_incident(make_incident("inc-b"))
    store.flag_refresh("acme", "inc-b")
    # Then only it is listed and flagged, and clearing removes the flag
    assert store.flagged_for_refresh("acme") == ["inc-b"]
    assert store.refresh_flagged("acme", "inc-b") and not store.refresh_flagged("acme", "inc-a")
    store.clear_refresh("acme", "inc-b")
    assert store.flagged_for_refresh("acme") == []
    stored = store.get_incident("acme", "inc-b")
    assert stored is not None and stored.version == 1


def test_open_incident_services_lists_only_open_ones_without_documents(store: DynamoStore) -> None:
    store.put_incident(make_incident("inc-open"))
    closed = make_incident("inc-closed")
    closed.state = closed.state.LEARNED
    store.put_incident(closed)
    assert store.open_incident_services("acme") == {"inc-open": make_incident("x").service}
