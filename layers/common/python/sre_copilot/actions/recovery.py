"""Verification by recovery: which alarms and signals must clear after an action, and by when.

A plan's criteria are fixed when the plan is made: the alerts firing on the service the action
touches (or, when none names it, every alert of the incident), the CloudWatch alarms among them, and
the time allowed. After the action, Verify waits that long (the workflow parks; the sweeper wakes it
at the deadline, in simulated time locally) or until the incident's alerts clear, then checks:
- a CloudWatch alarm counts as recovered when DescribeAlarms reports it OK (in AWS);
- any other alert, or an alarm CloudWatch does not know (replay), counts as recovered when its
  source sent the resolved form (Alertmanager `resolved`, CloudWatch `OK`, ...), which the ingest
  stores as a resolved signal with the same fingerprint;
- a metric the service's catalog entry names in `recovery_metrics` (or the plan in its params)
  counts as recovered when GetMetricData returns, for the time since the action, at least `points`
  datapoints and the latest `points` of them are all within its bounds. The values read are kept
  with the verdict as its evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from sre_copilot.domain.catalog import RecoveryMetric
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import SignalStatus

ALARM_SOURCES = frozenset({"cloudwatch", "cloudwatch-sns"})
DEFAULT_WINDOW_S = 1200


class AlertCriterion(BaseModel):
    fingerprint: str
    title: str
    service: str | None = None
    alarm: str | None = Field(default=None, description="CloudWatch alarm name when the alert is an alarm")


class MetricCriterion(RecoveryMetric):
    """A recovery metric with its dimensions resolved for the service acted on."""

    def label(self) -> str:
        dims = ",".join(f"{k}={v}" for k, v in sorted(self.dimensions.items()))
        return f"{self.namespace} {self.metric}{{{dims}}} {self.stat}"

    def within(self, value: float) -> bool:
        return (self.max is None or value <= self.max) and (self.min is None or value >= self.min)


class RecoveryCriteria(BaseModel):
    window_s: int = Field(default=DEFAULT_WINDOW_S, gt=0, description="time allowed after the action")
    alerts: list[AlertCriterion] = Field(default_factory=list)
    metrics: list[MetricCriterion] = Field(default_factory=list)
    since: datetime | None = Field(default=None, description="when the action ran: metrics count from here")

    def describe(self) -> str:
        names = ", ".join(sorted({a.title for a in self.alerts})[:5]) or "the incident's alerts"
        more = f" and {len(self.alerts) - 5} more" if len(self.alerts) > 5 else ""
        metrics = "".join(f"; {m.metric} {m.stat} {m.bounds()} for {m.points} datapoint(s)" for m in self.metrics[:3])
        return f"{names}{more} clear within {self.window_s // 60} min of the action{metrics}"

    def empty(self) -> bool:
        return not self.alerts and not self.metrics


class MetricReading(BaseModel):
    """What GetMetricData returned for one criterion since the action: the evidence of a verdict."""

    criterion: str
    bounds: str
    recovered: bool
    values: list[tuple[datetime, float]] = Field(default_factory=list, description="datapoints read, oldest first")

    def describe(self) -> str:
        last = ", ".join(f"{v:g}" for _, v in self.values[-5:]) or "no datapoints"
        return f"{self.criterion}: {'within' if self.recovered else 'not within'} {self.bounds} (last: {last})"


class RecoveryCheck(BaseModel):
    recovered: bool
    cleared: list[str] = Field(default_factory=list)
    still_firing: list[str] = Field(default_factory=list)
    how: dict[str, str] = Field(default_factory=dict, description="title -> what showed it cleared or not")
    metrics: list[MetricReading] = Field(default_factory=list)

    def summary(self) -> str:
        metrics = {m.criterion for m in self.metrics}
        if self.recovered:
            back = f" and {len(metrics)} metric(s) back within bounds" if metrics else ""
            alerts = [c for c in self.cleared if c not in metrics]
            return f"recovered: {len(alerts)} alert(s) cleared ({', '.join(alerts[:4])}){back}"
        failing = [m for m in self.metrics if not m.recovered]
        alerts_firing = [c for c in self.still_firing if c not in metrics]
        text = "not recovered: "
        if alerts_firing or not failing:
            total = len(alerts_firing) + len([c for c in self.cleared if c not in metrics])
            text += f"{len(alerts_firing)} of {total} alert(s) still firing ({', '.join(alerts_firing[:4])})"
        if failing:
            text += ("; " if alerts_firing else "") + "; ".join(m.describe() for m in failing[:2])
        return text


def _alarm_name(signal: Signal) -> str | None:
    if signal.source not in ALARM_SOURCES:
        return None
    return signal.labels.get("alertname") or signal.source_id.rsplit(":alarm:", 1)[-1] or signal.title


def metric_criteria(wanted: Iterable[RecoveryMetric], service: str | None) -> list[MetricCriterion]:
    """Recovery metrics with their dimensions filled in: no dimensions means the service's own series."""
    out: list[MetricCriterion] = []
    for metric in wanted:
        dimensions = dict(metric.dimensions) or ({"Service": service} if service else {})
        out.append(MetricCriterion.model_validate({**metric.model_dump(), "dimensions": dimensions}))
    return out


def criteria_for(signals: Iterable[Signal], service: str | None, *, window_s: int,
                 metrics: Sequence[RecoveryMetric] = ()) -> RecoveryCriteria:
    """The alerts firing on `service` when the plan is made (every firing alert when none names it),
    and the service's recovery metrics."""
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
    return RecoveryCriteria(window_s=window_s, metrics=metric_criteria(metrics, service), alerts=[
        AlertCriterion(fingerprint=s.fingerprint, title=s.title, service=s.service, alarm=_alarm_name(s))
        for s in chosen])


def deadline(executed_at: datetime, criteria: RecoveryCriteria) -> datetime:
    return executed_at + timedelta(seconds=criteria.window_s)


def read_metric(criterion: MetricCriterion, points: Sequence[tuple[datetime, float]]) -> MetricReading:
    """The latest `criterion.points` datapoints must all be within bounds; fewer is not recovered
    (no data is no evidence of recovery)."""
    ordered = sorted(points)
    last = ordered[-criterion.points:]
    ok = len(last) >= criterion.points and all(criterion.within(v) for _, v in last)
    return MetricReading(criterion=criterion.label(), bounds=criterion.bounds(), recovered=ok, values=ordered)


def check_recovery(criteria: RecoveryCriteria, signals: Iterable[Signal], alarm_states: Mapping[str, str],
                   metric_values: Mapping[str, Sequence[tuple[datetime, float]]] | None = None) -> RecoveryCheck:
    """Whether every criterion cleared. `alarm_states` holds what CloudWatch reports per alarm name;
    an alarm missing from it is judged by its alert's latest state instead. `metric_values` holds
    the datapoints GetMetricData returned since the action, by criterion label."""
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
    readings = [read_metric(m, (metric_values or {}).get(m.label(), [])) for m in criteria.metrics]
    for reading in readings:
        how[reading.criterion] = reading.describe()
        (cleared if reading.recovered else firing).append(reading.criterion)
    return RecoveryCheck(recovered=not criteria.empty() and not firing, cleared=cleared, still_firing=firing,
                         how=how, metrics=readings)
