"""Verification by recovery: which alarms and signals must clear after an action, and by when.

A plan's criteria are fixed when the plan is made: the alerts firing on the service the action
touches (or, when none names it, every alert of the incident), the CloudWatch alarms among them, and
the time allowed. After the action, Verify waits that long (the workflow parks; the sweeper wakes it
at the deadline, in simulated time locally) or until the incident's alerts clear, then checks:
- a CloudWatch alarm counts as recovered when DescribeAlarms reports it OK (in AWS);
- any other alert, or an alarm CloudWatch does not know (replay), counts as recovered when its
  source sent the resolved form (Alertmanager `resolved`, CloudWatch `OK`, ...), which the ingest
  stores as a resolved signal with the same fingerprint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import SignalStatus

ALARM_SOURCES = frozenset({"cloudwatch", "cloudwatch-sns"})
DEFAULT_WINDOW_S = 1200


class AlertCriterion(BaseModel):
    fingerprint: str
    title: str
    service: str | None = None
    alarm: str | None = Field(default=None, description="CloudWatch alarm name when the alert is an alarm")


class RecoveryCriteria(BaseModel):
    window_s: int = Field(default=DEFAULT_WINDOW_S, gt=0, description="time allowed after the action")
    alerts: list[AlertCriterion] = Field(default_factory=list)

    def describe(self) -> str:
        names = ", ".join(sorted({a.title for a in self.alerts})[:5]) or "the incident's alerts"
        more = f" and {len(self.alerts) - 5} more" if len(self.alerts) > 5 else ""
        return f"{names}{more} clear within {self.window_s // 60} min of the action"


class RecoveryCheck(BaseModel):
    recovered: bool
    cleared: list[str] = Field(default_factory=list)
    still_firing: list[str] = Field(default_factory=list)
    how: dict[str, str] = Field(default_factory=dict, description="title -> what showed it cleared or not")

    def summary(self) -> str:
        if self.recovered:
            return f"recovered: {len(self.cleared)} alert(s) cleared ({', '.join(self.cleared[:4])})"
        return (f"not recovered: {len(self.still_firing)} of {len(self.still_firing) + len(self.cleared)} "
                f"alert(s) still firing ({', '.join(self.still_firing[:4])})")


def _alarm_name(signal: Signal) -> str | None:
    if signal.source not in ALARM_SOURCES:
        return None
    return signal.labels.get("alertname") or signal.source_id.rsplit(":alarm:", 1)[-1] or signal.title


def criteria_for(signals: Iterable[Signal], service: str | None, *, window_s: int) -> RecoveryCriteria:
    """The alerts firing on `service` when the plan is made; every firing alert when none names it."""
    firing: dict[str, Signal] = {}
    for signal in sorted(signals, key=lambda s: s.event_time):
        if signal.background or signal.suppressed_by:
            continue
        if signal.status is SignalStatus.FIRING:
            firing[signal.fingerprint] = signal
        else:
            firing.pop(signal.fingerprint, None)
    on_service = [s for s in firing.values() if service and s.service == service]
    chosen = on_service or list(firing.values())
    return RecoveryCriteria(window_s=window_s, alerts=[
        AlertCriterion(fingerprint=s.fingerprint, title=s.title, service=s.service, alarm=_alarm_name(s))
        for s in chosen])


def deadline(executed_at: datetime, criteria: RecoveryCriteria) -> datetime:
    return executed_at + timedelta(seconds=criteria.window_s)


def check_recovery(criteria: RecoveryCriteria, signals: Iterable[Signal],
                   alarm_states: Mapping[str, str]) -> RecoveryCheck:
    """Whether every criterion cleared. `alarm_states` holds what CloudWatch reports per alarm name;
    an alarm missing from it is judged by its alert's latest state instead."""
    latest: dict[str, Signal] = {}
    for signal in sorted(signals, key=lambda s: s.event_time):
        latest[signal.fingerprint] = signal
    cleared: list[str] = []
    firing: list[str] = []
    how: dict[str, str] = {}
    for alert in criteria.alerts:
        state = alarm_states.get(alert.alarm) if alert.alarm else None
        if state is not None:
            ok = state == "OK"
            how[alert.title] = f"CloudWatch alarm {alert.alarm} is {state}"
        else:
            last = latest.get(alert.fingerprint)
            ok = last is not None and last.status is SignalStatus.RESOLVED
            how[alert.title] = (f"resolved at {last.event_time:%H:%M:%S}" if ok and last is not None
                                else "no resolved notification yet")
        (cleared if ok else firing).append(alert.title)
    return RecoveryCheck(recovered=bool(criteria.alerts) and not firing, cleared=cleared, still_firing=firing,
                         how=how)
