"""Dedup keys follow Alertmanager semantics: a new startsAt is a new firing, not a repeat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import Severity, SignalStatus
from sre_copilot.ingest.dedup import dedup_key

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _signal(source: str, at: datetime, status: str = "firing") -> Signal:
    return Signal(id="s", source=source, status=SignalStatus(status), severity=Severity.WARNING, event_time=at,
                  received_at=at, title="t", fingerprint="fp-1")


def test_alertmanager_firings_with_a_new_start_get_new_keys() -> None:
    # Given two Alertmanager notifications of one fingerprint with different startsAt
    # Then they are different firings; a re-notification with the same startsAt is the same one
    assert dedup_key(_signal("alertmanager", T0)) != dedup_key(_signal("alertmanager", T0 + timedelta(minutes=5)))
    assert dedup_key(_signal("alertmanager", T0)) == dedup_key(_signal("alertmanager", T0))


def test_sources_without_a_start_time_key_on_fingerprint_and_status() -> None:
    # Given a source that stamps notifications, not firings
    # Then repeats share a key whatever their time, and resolves never match firings
    assert dedup_key(_signal("datadog", T0)) == dedup_key(_signal("datadog", T0 + timedelta(minutes=5)))
    assert dedup_key(_signal("alertmanager", T0, "resolved")) == dedup_key(
        _signal("alertmanager", T0 + timedelta(minutes=5), "resolved"))
