"""The Alertmanager-style group_by: [service] baseline: group_wait, group_interval, group lifetime."""

from __future__ import annotations

from correlation_fixtures import alert, at

from sre_copilot.correlation.baseline import GroupByBaseline
from sre_copilot.correlation.offline import run


def test_first_notification_waits_for_group_wait_and_carries_early_alerts() -> None:
    # Given two api alerts 10s apart
    baseline = GroupByBaseline()
    first = baseline.ingest(alert("a1", 0, service="api"))
    second = baseline.ingest(alert("a2", 10, service="api"))
    assert first.held and second.held
    # When the dispatcher ticks past group_wait (30s)
    assert baseline.tick(at(20)) == []
    [opened] = baseline.tick(at(31))
    # Then one incident opens with both
    assert opened.opened == [opened.incident_id] and opened.released == {"a2": opened.incident_id}


def test_alerts_for_the_same_service_join_while_the_group_lives() -> None:
    baseline = GroupByBaseline()
    baseline.ingest(alert("a1", 0, service="api"))
    [opened] = baseline.tick(at(31))
    later = baseline.ingest(alert("a2", 200, service="api", alertname="Other"))
    assert later.joined == opened.incident_id


def test_other_services_get_their_own_group_even_when_related() -> None:
    baseline = GroupByBaseline()
    baseline.ingest(alert("api", 0, service="api"))
    baseline.ingest(alert("web", 5, service="web"))
    assert len(baseline.tick(at(40))) == 2


def test_group_ends_once_its_alerts_time_out_and_the_next_alert_starts_a_new_one() -> None:
    # resolve_timeout 5m after the last firing, checked at the 5-minute group_interval flushes
    baseline = GroupByBaseline()
    baseline.ingest(alert("a1", 0, service="api"))
    [opened] = baseline.tick(at(31))
    closing = baseline.tick(at(631))  # flushes at 330 (still active), 630 (timed out: group deleted)
    assert [o.resolution_proposed for o in closing] == [[opened.incident_id]]
    again = baseline.ingest(alert("a2", 700, service="api"))
    assert again.held
    [reopened] = baseline.tick(at(731))
    assert reopened.incident_id != opened.incident_id


def test_resolved_notice_removes_the_alert_from_its_group() -> None:
    baseline = GroupByBaseline()
    baseline.ingest(alert("a1", 0, service="api", fp="x"))
    [opened] = baseline.tick(at(31))
    resolved = baseline.ingest(alert("ok", 60, service="api", fp="x", status="resolved"))
    assert resolved.joined == opened.incident_id
    assert [o.resolution_proposed for o in baseline.tick(at(331))] == [[opened.incident_id]]


def test_background_and_silenced_alerts_go_to_the_null_route() -> None:
    baseline = GroupByBaseline()
    assert baseline.ingest(alert("bg", 0, service="api", severity="info")).incident_id is None
    assert baseline.ingest(alert("s", 0, service="api", suppressed_by="sil-1")).incident_id is None
    assert baseline.tick(at(60)) == []


def test_baseline_output_has_the_replay_result_shape() -> None:
    result = run(GroupByBaseline(), [alert("a1", 0, service="api"), alert("a2", 30, service="db")])
    assert result["format"] == "sre-copilot/replay-result@1"
    assert {s["id"]: bool(s["incident_id"]) for s in result["signals"]} == {"a1": True, "a2": True}
    assert len(result["incidents"]) == 2 and all("signal_ids" in i for i in result["incidents"])
