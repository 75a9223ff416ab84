"""Correlation: fold queued signals into incidents, start one workflow per incident, keep it fed.

The engine is pure and its state lives in DynamoDB (one item per tenant, optimistic locking), so
concurrent batches never lose a grouping: a conflicting save re-runs the batch on fresh state.

Every queue message names its tenant (ingest put it there from the delivery's key); a batch is
applied tenant by tenant, each on its own state, incidents and catalog, so one tenant's signals
never join, open or dedupe against another's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import Enum

from aws_lambda_powertools.metrics import MetricUnit

from sre_copilot.correlation.engine import CorrelationEngine, CorrelationOutcome
from sre_copilot.correlation.groups import IncidentGroup
from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.json_types import as_list, as_object
from sre_copilot.domain.notification import AuditRecord
from sre_copilot.domain.reanalysis import next_pass_due
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import SignalStatus
from sre_copilot.errors import ConcurrentUpdate, InvalidTransition, NotFound
from sre_copilot.ports import clock
from sre_copilot.services import lifecycle, tenancy
from sre_copilot.services.container import Container
from sre_copilot.services.held_wakes import held_wakes
from sre_copilot.services.mutations import mutate_incident
from sre_copilot.services.observability import logger, metrics
from sre_copilot.services.reanalysis import reanalyse
from sre_copilot.services.resolution import ResolutionService

MAX_STATE_RETRIES = 5


class NewEvidence(Enum):
    """What a join adds to an incident's analysis."""

    NONE = "none"  # resolves, or signals it already held
    MORE = "more"  # firing alerts of services, entities and kinds it has: re-analysed once they settle
    MATERIAL = "material"  # a new service, entity or kind of alert: re-analysed at the next minute


class CorrelateService:
    def __init__(self, container: Container) -> None:
        self.c = container
        self.tenant = tenancy.current(container.settings.tenant_id)
        # Per incident joined in this batch: its analysis passes so far and when the last started.
        self._analysis: dict[str, tuple[int, datetime | None]] = {}
        self._stored: dict[str, str] = {}  # signal -> the incident `_apply` stored it in, this batch

    # -- entry points -------------------------------------------------------------------------
    def process(self, messages: list[dict[str, object]]) -> None:
        """Apply a batch of queue messages (signals and lifecycle hints) in event-time order; the
        executions it wakes resume once the whole batch is applied (services/held_wakes.py)."""
        by_tenant: dict[str, list[dict[str, object]]] = {}
        for message in messages:
            by_tenant.setdefault(str(message.get("tenant_id") or self.c.settings.tenant_id), []).append(message)
        with held_wakes():
            for tenant, own in sorted(by_tenant.items()):
                self.tenant = tenant
                with tenancy.scope(tenant):
                    self._process(own)

    def _process(self, messages: list[dict[str, object]]) -> None:
        hints = [m for m in messages if m.get("type") == "lifecycle"]
        signal_ids = [str(m["signal_id"]) for m in messages if m.get("type") == "signal"]
        # Ingest puts the signal in its message as it stored it; only a signal sent by id is read back.
        carried = {str(m["signal_id"]): Signal.model_validate(m["signal"])
                   for m in messages if m.get("type") == "signal" and isinstance(m.get("signal"), dict)}
        signals = [s for s in (carried.get(sid) or self.c.store.get_signal(self.tenant, sid) for sid in signal_ids)
                   if s]
        missing = set(signal_ids) - {s.id for s in signals}
        if missing:
            raise NotFound(f"signals {sorted(missing)} are queued but not stored; check the ingest function")
        # Event time first; alerts of the same instant in the order they arrived and their sender
        # listed them (a signal id is a hash: as a tie-break it made grouping depend on chance).
        signals.sort(key=lambda s: (s.event_time, s.received_at, s.origin.item, s.id))
        # A person's ack or resolve in PagerDuty/Opsgenie goes first, so the lifecycle credits them
        # rather than the copilot noticing the same resolve through the signals.
        for message in hints:
            for hint in as_list(message.get("hints")):
                self.apply_external_lifecycle(str(message.get("source", "external")), as_object(hint))
        if signals:
            self._with_engine(lambda engine: [engine.ingest(s) for s in signals], signals)

    def tick(self, now: datetime) -> None:
        """Duration-based open rules and window expiry (run by the scheduled sweeper)."""
        self._with_engine(lambda engine: engine.tick(now), [])

    # -- engine state -------------------------------------------------------------------------
    def _with_engine(self, run: Callable[[CorrelationEngine], list[CorrelationOutcome]], signals: list[Signal]) -> None:
        warm = self.c.warm_engines
        for _attempt in range(MAX_STATE_RETRIES):
            catalog = self.c.catalog()
            config = self.c.correlation_config()
            # The engine this process saved, if nobody saved since: no document to read and rebuild.
            version = self.c.store.correlation_state_version(self.tenant)
            engine = warm.take(self.tenant, version, catalog, config)
            if engine is None:
                state, version = self.c.store.load_correlation_state(self.tenant)
                engine = (CorrelationEngine.from_state(catalog, state, config) if state
                          else CorrelationEngine(catalog, config))
            compactions = engine.compactions
            before = engine.to_state() if not signals else None
            outcomes: list[CorrelationOutcome] = run(engine)
            after = engine.to_state()
            if before is not None and after == before:
                warm.keep(self.tenant, version, engine, catalog, config, compactions_before=compactions)
                return  # a tick that changed nothing needs no write
            next_tick = engine.next_tick_at()
            try:
                saved = self.c.store.save_correlation_state(
                    self.tenant, after, version,
                    next_tick=None if next_tick is None else datetime.fromtimestamp(next_tick, UTC))
            except ConcurrentUpdate:  # another batch won; redo on its state
                logger.warning("correlation state conflict; retrying batch")
                continue
            warm.keep(self.tenant, saved, engine, catalog, config, compactions_before=compactions)
            self._apply(engine, outcomes, {s.id: s for s in signals})
            return
        raise RuntimeError("correlation state stayed contended after retries; the batch will be retried by SQS")

    # -- outcome application ------------------------------------------------------------------
    def _apply(self, engine: CorrelationEngine, outcomes: Iterable[CorrelationOutcome],
               signals: dict[str, Signal]) -> None:
        self._analysis.clear()  # filled by this batch's joins
        self._stored.clear()
        to_refresh: set[str] = set()
        to_settle: set[str] = set()  # more alerts of kinds already analysed: re-analysed once they settle
        to_resolve: set[str] = set()
        opened_now: set[str] = set()
        # The joins of one batch are written once per incident, not once per alert: DynamoDB bills
        # the incident's whole item for each write. Pending joins are written before an outcome that
        # opens or merges incidents, so every write lands in the order the engine decided it.
        joins: dict[str, list[tuple[str, Signal | None, CorrelationOutcome]]] = {}
        placed: list[tuple[str, str]] = []  # (signal, incident) in the engine's order

        def write_joins() -> None:
            for incident_id, pending in joins.items():
                evidence = self._join_all(incident_id, pending, move_signals=False)
                if evidence is NewEvidence.MATERIAL:
                    to_refresh.add(incident_id)
                elif evidence is NewEvidence.MORE:
                    to_settle.add(incident_id)
            for signal_id, incident_id in placed:
                self._set_signal_incident(signals.get(signal_id), signal_id, incident_id)
            joins.clear()
            placed.clear()

        for outcome in outcomes:
            if outcome.opened:
                write_joins()
            for incident_id in outcome.opened:
                self._open(engine.incident(incident_id), engine, signals)
                opened_now.add(incident_id)
            assignments = dict(outcome.released)
            if outcome.incident_id:
                assignments[outcome.signal_id] = outcome.incident_id
            for signal_id, incident_id in assignments.items():
                if incident_id in opened_now:
                    self._set_signal_incident(signals.get(signal_id), signal_id, incident_id)
                    continue
                joins.setdefault(incident_id, []).append((signal_id, signals.get(signal_id), outcome))
                placed.append((signal_id, incident_id))
            if outcome.merged:
                write_joins()
            for absorbed, survivor in outcome.merged:
                self._merge(absorbed, survivor)
                to_refresh.add(survivor)
            to_resolve.update(outcome.resolution_proposed)
            metrics.add_metric(name="SignalsCorrelated", unit=MetricUnit.Count, value=1)
        write_joins()
        for incident_id in sorted(to_resolve):
            # Not resolved yet: the signals must stay clear for auto_resolve_after (the sweeper decides).
            ResolutionService(self.c).signals_cleared(incident_id)
        for incident_id in sorted(to_refresh - to_resolve - opened_now):
            # Re-analysis is debounced: the sweeper wakes flagged incidents once a minute, and the
            # gap between passes doubles per pass (domain/reanalysis.py), so an alert storm costs a
            # few analyses per incident, not one per alert or per minute.
            self._flag_pass(incident_id, wait_s=0)
        for incident_id in sorted(to_settle - to_refresh - to_resolve - opened_now):
            # Without this, a storm's later alerts on entities and kinds already seen were never
            # analysed: the last hypotheses ranked an incident on part of its evidence.
            self._flag_pass(incident_id, wait_s=self.c.settings.reanalysis_settle_s)
        for signal_id, signal in signals.items():
            # Ingest left the signal in its queue message: stored here once, where the engine put it
            # (an incident, or none yet: a held group's signals are placed when it opens).
            if signal_id not in self._stored:
                self.c.store.put_signal(signal.model_copy(update={"incident_id": engine.incident_of(signal_id)}))

    def _open(self, group: IncidentGroup, engine: CorrelationEngine, known: dict[str, Signal]) -> None:
        existing = self.c.store.get_incident(self.tenant, group.id)
        if existing is not None:  # redelivered batch: already opened, execution already named
            return
        signals = [s for s in (known.get(sid) or self.c.store.get_signal(self.tenant, sid) for sid in group.signal_ids)
                   if s]
        first = min(signals, key=lambda s: s.event_time) if signals else None
        title = first.title if first else group.id
        incident = Incident.open(
            incident_id=group.id, tenant_id=self.tenant, priority=group.priority, title=title,
            service=_primary_service(signals), at=clock.now(), actor="copilot:correlation",
            reason=group.explanations[0].rule if group.explanations else "opening rule met",
        )
        incident.signal_ids = list(group.signal_ids)
        incident.services = sorted(group.services)
        incident.entities = sorted(group.entities)
        incident.grouping = list(group.explanations)
        incident.alert_kinds = sorted({s.labels.get("alertname") or s.title for s in signals})[:50]
        incident.pagerduty_incident_id = next(
            (s.source_id for s in signals if s.source == "pagerduty" and s.source_id), None)
        try:
            self.c.store.put_incident(incident)  # version 0: only if no incident has this id yet
        except ConcurrentUpdate:
            return  # a concurrent delivery of the same batch opened it first
        for signal in signals:
            self._set_signal_incident(signal, signal.id, incident.id)
        self.c.store.append(AuditRecord(at=clock.now(), tenant_id=self.tenant, actor="copilot:correlation",
                                        action="incident.opened", subject=incident.id,
                                        details={"signals": incident.signal_ids,
                                                 "grouping": [g.model_dump(mode="json") for g in incident.grouping]}))
        self.c.bus.publish(lifecycle.LIFECYCLE_DETAIL_TYPE, {
            "tenant_id": self.tenant, "incident_id": incident.id, "from": None, "to": "DETECTED",
            "actor": "copilot:correlation", "reason": "opened", "at": clock.now().isoformat(),
            "pagerduty_incident_id": incident.pagerduty_incident_id,
        })
        arn = self.c.workflow.start(incident.id, {"incident_id": incident.id, "tenant_id": self.tenant})

        def name_execution(fresh: Incident) -> bool:
            if fresh.execution == arn:
                return False
            fresh.execution = arn
            return True

        # The execution's first steps may already be writing the incident: re-applied on a conflict.
        mutate_incident(self.c.store, self.tenant, incident.id, name_execution)
        metrics.add_metric(name="IncidentsOpened", unit=MetricUnit.Count, value=1)

    def _flag_pass(self, incident_id: str, *, wait_s: int) -> None:
        passes, analysed_at = self._analysis.get(incident_id, (0, None))
        due = next_pass_due(now=clock.now(), analysed_at=analysed_at, passes=passes, wait_s=wait_s,
                            max_interval_s=self.c.settings.reanalysis_max_interval_s)
        self.c.store.flag_refresh(self.tenant, incident_id, due=due)

    def _join(self, incident_id: str, signal_id: str, signal: Signal | None, outcome: CorrelationOutcome) -> bool:
        """Add the signal to the incident; True when it is new evidence worth re-analysing: a firing
        alert that brings a service, entity or kind of alert the incident had not seen."""
        return self._join_all(incident_id, [(signal_id, signal, outcome)]) is NewEvidence.MATERIAL

    def _join_all(self, incident_id: str, joins: list[tuple[str, Signal | None, CorrelationOutcome]], *,
                  move_signals: bool = True) -> NewEvidence:
        """`_join` for several signals in order, in one write of the incident, and what they add
        (`NewEvidence`). `move_signals=False`: the caller points the signals at the incident itself."""
        resolved = [(signal_id, signal if signal is not None else self.c.store.get_signal(self.tenant, signal_id),
                     outcome) for signal_id, signal, outcome in joins]
        material: list[bool] = []
        firing: list[bool] = []  # new firing signals: a redelivered batch's already-held ones are no evidence

        def add_all(incident: Incident) -> bool:
            # Re-derived from each fresh read, so a workflow step's write in between is kept.
            material.clear()
            firing.clear()
            self._analysis[incident.id] = (incident.analyses, incident.analysed_at)
            changed = [add(incident, signal_id, signal, outcome) for signal_id, signal, outcome in resolved]
            return any(changed)

        def add(incident: Incident, signal_id: str, signal: Signal | None, outcome: CorrelationOutcome) -> bool:
            if signal_id in incident.signal_ids:
                return False
            incident.signal_ids = [*incident.signal_ids, signal_id]
            if signal is not None:
                firing.append(signal.status is SignalStatus.FIRING)
                kind = signal.labels.get("alertname") or signal.title
                material.append(signal.status is SignalStatus.FIRING and (
                    (signal.service is not None and signal.service not in incident.services)
                    or (signal.entity is not None and signal.entity not in incident.entities)
                    or kind not in incident.alert_kinds))
                if signal.status is SignalStatus.FIRING:
                    ResolutionService(self.c).firing_again(incident)
                if kind not in incident.alert_kinds:
                    incident.alert_kinds = [*incident.alert_kinds, kind][-50:]
                if signal.service and signal.service not in incident.services:
                    incident.services = sorted({*incident.services, signal.service})
                if signal.entity and signal.entity not in incident.entities:
                    incident.entities = sorted({*incident.entities, signal.entity})
                if signal.source == "pagerduty" and signal.source_id and not incident.pagerduty_incident_id:
                    incident.pagerduty_incident_id = signal.source_id
            if outcome.explanation is not None and outcome.signal_id == signal_id:
                incident.grouping = [*incident.grouping, outcome.explanation]
            incident.evidence_version += 1
            incident.updated_at = clock.now()
            return True

        try:
            mutate_incident(self.c.store, self.tenant, incident_id, add_all)
        except NotFound as exc:
            placed = ", ".join(signal_id for signal_id, _s, _o in resolved)
            raise NotFound(f"engine placed {placed} in {incident_id}, which is not stored") from exc
        for signal_id, signal, _outcome in resolved if move_signals else []:
            self._set_signal_incident(signal, signal_id, incident_id)
        if any(material):
            return NewEvidence.MATERIAL
        return NewEvidence.MORE if any(firing) else NewEvidence.NONE

    def _merge(self, absorbed_id: str, survivor_id: str) -> None:
        if self.c.store.get_incident(self.tenant, survivor_id) is None:
            return
        moved: list[Incident] = []

        def mark_merged(absorbed: Incident) -> bool:
            moved.clear()
            if absorbed.merged_into:
                if absorbed.merged_into == survivor_id:
                    moved.append(absorbed)  # a redelivered batch: finish the survivor's side too
                return False
            absorbed.merged_into = survivor_id
            moved.append(absorbed)
            return True

        try:
            mutate_incident(self.c.store, self.tenant, absorbed_id, mark_merged)
        except NotFound:
            return
        if not moved:
            return  # already merged into another incident
        absorbed = moved[0]

        def absorb(survivor: Incident) -> bool:
            if absorbed_id in survivor.merged_from:
                return False
            survivor.merged_from = [*survivor.merged_from, absorbed_id]
            survivor.signal_ids = [*survivor.signal_ids,
                                   *[s for s in absorbed.signal_ids if s not in survivor.signal_ids]]
            survivor.services = sorted({*survivor.services, *absorbed.services})
            survivor.entities = sorted({*survivor.entities, *absorbed.entities})
            survivor.grouping = [*survivor.grouping, *absorbed.grouping]
            survivor.evidence_version += 1
            return True

        mutate_incident(self.c.store, self.tenant, survivor_id, absorb)
        for signal_id in absorbed.signal_ids:
            self._set_signal_incident(None, signal_id, survivor_id)
        self.c.store.append(AuditRecord(at=clock.now(), tenant_id=self.tenant, actor="copilot:correlation",
                                        action="incident.merged", subject=survivor_id,
                                        details={"absorbed": absorbed_id}))
        self.wake(absorbed_id, "merged")

    def _set_signal_incident(self, signal: Signal | None, signal_id: str, incident_id: str) -> None:
        if self._stored.get(signal_id) == incident_id:
            return  # already written so this batch (the batch's copy still says where it was)
        signal = signal or self.c.store.get_signal(self.tenant, signal_id)
        if signal is not None and signal.incident_id != incident_id:
            self.c.store.put_signal(signal.model_copy(update={"incident_id": incident_id}))
            self._stored[signal_id] = incident_id

    # -- workflow wake-ups --------------------------------------------------------------------
    def wake_flagged(self, incident_ids: Iterable[str]) -> int:
        """Wake every parked incident flagged with new evidence (the sweeper's once-a-minute refresh).
        An incident that is mid-analysis keeps its flag and goes round again when it parks; the flag
        of an incident whose analysis is over (closed, or its execution ended) is dropped."""
        woken = 0
        for incident_id in incident_ids:
            if self._resume(incident_id, "refresh"):
                woken += 1
                continue
            incident = self.c.store.get_incident(self.tenant, incident_id)
            if incident is None or not incident.is_open:
                self.c.store.clear_refresh(self.tenant, incident_id)
        return woken

    def wake(self, incident_id: str, reason: str, extra: dict[str, object] | None = None) -> bool:
        """Hand a reason to the incident's parked execution, or leave a note for it to find."""
        if self._resume(incident_id, reason, extra):
            return True
        if reason == "refresh":
            self.c.store.flag_refresh(self.tenant, incident_id)
        return False

    def _resume(self, incident_id: str, reason: str, extra: dict[str, object] | None = None) -> bool:
        """Resume the incident's execution if it is parked; False if it is not. A re-analysis runs
        beside it, holding its token (services/reanalysis.py)."""
        token = self.c.store.take_wait_token(self.tenant, incident_id)
        if not token:
            return False
        if reason == "refresh":
            reanalyse(self.c, self.tenant, incident_id, str(token["token"]))
            return True
        self.c.workflow.send_success(token["token"], {"reason": reason, **(extra or {})})
        return True

    # -- lifecycle from the outside (PagerDuty / Opsgenie) -------------------------------------
    def apply_external_lifecycle(self, source: str, hint: dict[str, object]) -> None:
        external_id = hint.get("external_id")
        incident = next((i for i in self.c.store.open_incidents(self.tenant)
                         if external_id and i.pagerduty_incident_id == external_id), None)
        if incident is None:
            logger.info("lifecycle hint for an incident we do not track", extra={"hint": hint})
            return
        actor = f"{source}:{hint.get('actor') or 'unknown'}"
        action = hint.get("action")
        try:
            if action == "acknowledge":
                lifecycle.move_if_allowed(self.c, incident, IncidentState.ACKNOWLEDGED, actor=actor,
                                          reason=f"acknowledged in {source}")
            elif action == "resolve":
                # A person's resolve takes effect at once, and documents even if the execution ended.
                ResolutionService(self.c).resolve(incident.id, actor=actor, reason=f"resolved in {source}")
            else:
                self.c.store.append(AuditRecord(at=clock.now(), tenant_id=self.tenant, actor=actor,
                                                action=f"external.{action}", subject=incident.id, details=hint))
        except InvalidTransition as exc:
            logger.warning(exc.message)


def _primary_service(signals: list[Signal]) -> str | None:
    counts: dict[str, int] = {}
    for signal in signals:
        if signal.service and signal.status is SignalStatus.FIRING:
            counts[signal.service] = counts.get(signal.service, 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else None
