"""Paging and escalation: who is called, when, and what happens when nobody answers.

Each paged incident runs `statemachines/escalation.asl.json` as its own execution (named
`page-<incident id>`), beside the incident workflow, so waiting for an acknowledgement never holds
up analysis or approvals. The execution's `PageLevel` state is a `waitForTaskToken` whose timeout
comes from the input: the level's timeout from the escalation policy. The token is parked in the
store with that deadline; the every-minute sweeper (simulated time locally) answers it with
`timed_out` when the deadline passes, and the state's own timeout backs that up in AWS. An
acknowledgement anywhere (phone key 1, the Slack button, `/sre ack`, PagerDuty) ends the execution;
key 2 moves to the next level at once. Every page, timeout and escalation is an audit record and a
state in the execution history.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from sre_copilot.adapters.paging_store import PagingStore
from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.json_types import StepEvent, as_object, strings
from sre_copilot.domain.notification import AuditRecord, Notification, SentSummary
from sre_copilot.domain.reasoning import Hypothesis
from sre_copilot.domain.routing import oncall_phone_for
from sre_copilot.domain.types import Channel, NotificationKind, Priority
from sre_copilot.domain.workflow_state import PagingState, Wake
from sre_copilot.errors import NotFound
from sre_copilot.messages.phone import page_twiml, sms_text
from sre_copilot.messages.text import ranked
from sre_copilot.ports import clock
from sre_copilot.ports.messaging import WorkflowEngine
from sre_copilot.services.container import Container
from sre_copilot.services.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ACTOR = "copilot:paging"
DEFAULT_LEVEL_TIMEOUT_S = 300
# The state's own timeout is a backstop behind the sweeper, which answers on the minute after the
# deadline: leave it the sweeper's period plus a margin.
NATIVE_TIMEOUT_MARGIN_S = 120
PAGING_KEY_SUFFIX = "/page"
ENDED = frozenset({"acknowledged", "closed", "exhausted"})


class EscalationLevel(BaseModel):
    targets: list[str] = Field(min_length=1, description="phone numbers called at this level")
    timeout_s: int = Field(default=DEFAULT_LEVEL_TIMEOUT_S, ge=30, le=86_400)


class EscalationPolicy(BaseModel):
    name: str = "default"
    levels: list[EscalationLevel] = Field(min_length=1)
    repeats: int = Field(default=0, ge=0, le=5, description="times to start again from level 1")


def paging_key(incident_id: str) -> str:
    """The wait-token key of the incident's paging execution (separate from its workflow's)."""
    return f"{incident_id}{PAGING_KEY_SUFFIX}"


def execution_name(incident_id: str) -> str:
    return f"page-{incident_id}"[:80]


@cache
def _paging_store(client: DynamoDBClient, table_name: str) -> PagingStore:
    return PagingStore(client, table_name)


def paging_store(c: Container) -> PagingStore:
    return _paging_store(c.store.client, c.store.table_name)


def policy_for(c: Container, incident: Incident) -> EscalationPolicy:
    """The service's policy, else its team's, else the default: the service's on-call, then the
    secondary on-call from the twilio secret (when one is configured)."""
    twilio = c.secret("twilio")
    policies = as_object(twilio.get("escalation_policies"))
    service = c.catalog().service(incident.service) if incident.service else None
    for key in (incident.service, service.team if service else None):
        if key and key in policies:
            return EscalationPolicy.model_validate({"name": key, **as_object(policies[key])})
    levels = [EscalationLevel(targets=[oncall_phone_for(incident, c.catalog(), c.default_oncall_phone())])]
    secondary = twilio.get("secondary_oncall")
    if secondary:
        levels.append(EscalationLevel(targets=strings(secondary)))
    return EscalationPolicy(levels=levels)


def _state(incident_id: str, tenant_id: str, level: int, round_: int, timeout_s: int, outcome: str,
           summary: str) -> dict[str, object]:
    return {"incident_id": incident_id, "tenant_id": tenant_id, "level": level, "round": round_,
            "timeout_s": timeout_s, "native_timeout_s": timeout_s + NATIVE_TIMEOUT_MARGIN_S,
            "outcome": outcome, "summary": summary}


def _engine(c: Container) -> WorkflowEngine:
    return c.escalation_workflow


def _audit(c: Container, incident: Incident | str, tenant_id: str, action: str, details: dict[str, object],
           actor: str = ACTOR) -> None:
    subject = incident if isinstance(incident, str) else incident.id
    c.store.append(AuditRecord(at=clock.now(), tenant_id=tenant_id, actor=actor, action=action,
                               subject=subject, details=details))


def start_paging(c: Container, incident: Incident) -> SentSummary:
    """Start the paging execution: P0 calls level 1 at once, P1 waits its delay first."""
    policy = policy_for(c, incident)
    delayed = incident.priority is Priority.P1
    level, timeout = (0, c.settings.p1_page_delay_s) if delayed else (1, policy.levels[0].timeout_s)
    paging_store(c).set_status(incident.tenant_id, incident.id, "paging", level=level, round=1, policy=policy.name)
    try:
        arn = _engine(c).start(execution_name(incident.id), _state(
            incident.id, incident.tenant_id, level, 1, timeout, "paging", "P1: wait before calling" if delayed
            else "P0: call level 1 now"))
    except Exception as exc:  # the card is already out; record the failure for the operator
        logger.warning("paging execution did not start", extra={"error": str(exc), "incident": incident.id})
        paging_store(c).set_status(incident.tenant_id, incident.id, "failed", error=str(exc)[:500])
        _audit(c, incident, incident.tenant_id, "page.failed_to_start", {"error": str(exc)[:500]})
        return {"channel": "phone", "kind": "page", "status": "failed"}
    _audit(c, incident, incident.tenant_id, "page.started",
           {"execution": arn, "policy": policy.name, "levels": len(policy.levels),
            "delay_s": timeout if delayed else 0})
    return {"channel": "phone", "kind": "page", "status": "delayed" if delayed else "started"}


def _top(incident: Incident) -> Hypothesis | None:
    hypotheses = ranked(Hypothesis.model_validate(h) for h in incident.hypotheses)
    return hypotheses[0] if hypotheses else None


def voice_callback_url(c: Container, incident_id: str) -> str:
    return f"{c.settings.public_base_url.rstrip('/')}/callbacks/twilio/voice?incident={incident_id}"


def incident_link(c: Container, incident: Incident) -> str:
    from sre_copilot.services.living_card import console_url

    return (console_url(c.settings.region, c.settings.state_machine_arn, incident.execution)
            or f"{c.settings.public_base_url.rstrip('/')}/incidents/{incident.id}")


def send_sms(c: Container, incident: Incident, number: str, why: str) -> Notification:
    """The fallback when a call cannot reach the on-call; every attempt is recorded."""
    from sre_copilot.services.delivery import deliver

    body = sms_text(incident, _top(incident), incident_link(c, incident))
    note = deliver(c, incident, Channel.SMS, number, NotificationKind.PAGE, body, lambda: c.pager().sms(number, body))
    _audit(c, incident, incident.tenant_id, "page.sms", {"to": number, "why": why, "status": note.status})
    return note


def page_level(c: Container, event: StepEvent) -> dict[str, object]:
    """The `PageLevel` task: call this level's people once, then park the token until its timeout."""
    state = PagingState.parse(event)
    tenant, incident_id = state.tenant_id, state.incident_id
    level, round_, timeout = state.level, state.round, state.timeout_s
    incident = c.store.get_incident(tenant, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} is not stored for tenant {tenant}")
    deadline = clock.now() + timedelta(seconds=timeout)
    # The level parked is recorded before the token, so whoever answers it finds where paging is.
    paging_store(c).set_status(tenant, incident_id, "paging", level=level, round=round_)
    c.store.put_wait_token(tenant, paging_key(incident_id), state.task(), deadline, None)
    paged: list[str] = []
    if human_engaged(incident) or not incident.is_open:
        # Acknowledged (or closed) before this level came round: nothing to call.
        _answer(c, tenant, incident_id, "acknowledged" if incident.is_open else "closed")
        return {"level": level, "round": round_, "paged": [], "skipped": incident.state.value}
    if level == 0:
        _audit(c, incident, tenant, "page.delayed", {"until": deadline.isoformat(), "delay_s": timeout})
        return {"level": 0, "round": round_, "paged": [], "calls_at": deadline.isoformat()}
    policy = policy_for(c, incident)
    targets = policy.levels[min(level, len(policy.levels)) - 1].targets
    if not paging_store(c).claim_level(tenant, incident_id, round_, level):
        return {"level": level, "round": round_, "paged": [], "skipped": "this level was already paged"}
    kind = NotificationKind.PAGE if level == 1 and round_ == 1 else NotificationKind.ESCALATION
    callback = voice_callback_url(c, incident_id)
    twiml = page_twiml(incident, _top(incident), callback)
    from sre_copilot.services.delivery import deliver

    for number in targets:
        call = deliver(c, incident, Channel.PHONE, number, kind, twiml,
                       lambda number=number: c.pager().call(number, twiml, callback))  # type: ignore[misc]
        if call.status == "sent":
            paged.append(f"call {number}")
        else:
            sms = send_sms(c, incident, number, f"the call could not be placed ({call.status})")
            paged.append(f"sms {number} ({sms.status})")
    paging_store(c).set_status(tenant, incident_id, "paging", level=level, round=round_)
    _audit(c, incident, tenant, f"page.level{level}", {"round": round_, "targets": targets,
                                                       "until": deadline.isoformat(), "paged": paged})
    return {"level": level, "round": round_, "paged": paged, "until": deadline.isoformat()}


def next_level(c: Container, event: StepEvent) -> dict[str, object]:
    """The `NextLevel` task, after PageLevel failed or hit its own (backstop) timeout: as `advance`."""
    return advance(c, PagingState.parse(event))


def advance(c: Container, state: PagingState) -> dict[str, object]:
    """End on an acknowledgement, else move up a level (or a round): the state paging goes on with."""
    tenant, incident_id = state.tenant_id, state.incident_id
    level, round_ = state.level, state.round
    # No answer means the state timed out (its own timeout, caught) or failed: move on either way.
    reason = (state.answer.reason if state.answer else None) or "timed_out"
    store = paging_store(c)
    if reason in ("acknowledged", "closed"):
        store.set_status(tenant, incident_id, reason, level=level, round=round_)
        _audit(c, incident_id, tenant, f"page.{reason}", {"level": level, "round": round_})
        return _state(incident_id, tenant, level, round_, 0, reason, f"{reason} at level {level}")
    incident = c.store.get_incident(tenant, incident_id)
    if incident is None or not incident.is_open:
        store.set_status(tenant, incident_id, "closed", level=level, round=round_)
        return _state(incident_id, tenant, level, round_, 0, "closed", "incident closed")
    if level > 0 and reason != "escalate":  # a key-2 press is audited where it arrives
        _audit(c, incident, tenant, "page.timed_out", {"level": level, "round": round_})
    policy = policy_for(c, incident)
    nxt, nxt_round = level + 1, round_
    if nxt > len(policy.levels):
        nxt, nxt_round = 1, round_ + 1
    if nxt_round > policy.repeats + 1:
        store.set_status(tenant, incident_id, "exhausted", level=level, round=round_)
        _audit(c, incident, tenant, "page.exhausted", {"levels": len(policy.levels), "rounds": round_})
        from sre_copilot.services.living_card import LivingCard

        LivingCard(c).thread(incident, f"Nobody acknowledged the page after {len(policy.levels)} level(s) "
                                       f"and {round_} round(s); paging stopped", NotificationKind.ESCALATION)
        return _state(incident_id, tenant, level, round_, 0, "exhausted", "every level and repeat paged")
    why = "key 2 pressed" if reason == "escalate" else "no acknowledgement" if level > 0 else "P1 delay over"
    if level > 0:
        from sre_copilot.services.living_card import LivingCard

        LivingCard(c).thread(incident, f"Escalating to level {nxt}"
                                       f"{f' (round {nxt_round})' if nxt_round > 1 else ''}: {why}",
                             NotificationKind.ESCALATION)
    return _state(incident_id, tenant, nxt, nxt_round, policy.levels[nxt - 1].timeout_s, "paging",
                  f"{why}: page level {nxt}")


def _answer(c: Container, tenant_id: str, incident_id: str, reason: str, by: str | None = None) -> bool:
    token = c.store.take_wait_token(tenant_id, paging_key(incident_id))
    if not token:
        return False
    resume(c, tenant_id, incident_id, str(token["token"]), reason, by)
    return True


def resume(c: Container, tenant_id: str, incident_id: str, task_token: str, reason: str,
           by: str | None = None) -> None:
    """Complete the parked PageLevel with the state paging goes on with (`advance`: the next level,
    or why it ends), so the workflow goes straight to its `Escalated` choice: two transitions per
    level, not three through a NextLevel task. `woken` says what answered, for the history."""
    status = paging_store(c).status(tenant_id, incident_id) or {}
    parked = PagingState(incident_id=incident_id, tenant_id=tenant_id, level=int(status.get("level", 1)),
                         round=int(status.get("round", 1)), answer=Wake(reason=reason))
    c.workflow.send_success(task_token, {**advance(c, parked), "woken": {"reason": reason, "by": by}})


def paged_incident(key: str) -> str | None:
    """The incident whose paging execution a wait-token key parks (see `paging_key`); None for an
    incident workflow's own key."""
    return key.removesuffix(PAGING_KEY_SUFFIX) if key.endswith(PAGING_KEY_SUFFIX) else None


def escalate_now(c: Container, tenant_id: str, incident_id: str, by: str) -> bool:
    """Key 2: move to the next level without waiting for the timeout (the caller audits the press)."""
    return _answer(c, tenant_id, incident_id, "escalate", by)


def acknowledge(c: Container, incident: Incident, who: str, reason: str) -> bool:
    """A person acknowledges: key 1, the card's button, `/sre ack`. False if someone already had.

    Usually a lifecycle move to ACKNOWLEDGED. The copilot may already have moved the incident on
    (INVESTIGATING, INCONCLUSIVE) before anyone answered, and the lifecycle never moves back; the
    acknowledgement is then kept on the incident and announced the same way, so paging stops, the
    card names who has it and PagerDuty is acknowledged.
    """
    from sre_copilot.errors import ConcurrentUpdate, InvalidTransition
    from sre_copilot.services import lifecycle

    try:
        if lifecycle.move_if_allowed(c, incident, IncidentState.ACKNOWLEDGED, actor=who, reason=reason):
            return True
    except InvalidTransition:
        pass
    for _ in range(3):
        current = c.store.get_incident(incident.tenant_id, incident.id)
        if current is None or not current.is_open or human_engaged(current):
            return False
        current.slack_card = {**current.slack_card, "acknowledged_by": who}
        try:
            c.store.put_incident(current)  # conditional on the version read
            break
        except ConcurrentUpdate:
            continue
    else:
        return False
    _audit(c, current, current.tenant_id, "incident.acknowledged", {"state": current.state.value, "reason": reason},
           actor=who)
    c.bus.publish(lifecycle.LIFECYCLE_DETAIL_TYPE, {
        "tenant_id": current.tenant_id, "incident_id": current.id, "from": current.state.value,
        "to": IncidentState.ACKNOWLEDGED.value, "actor": who, "reason": reason, "at": clock.now().isoformat(),
        "pagerduty_incident_id": current.pagerduty_incident_id, "acknowledgement_only": True})
    return True


def _by_copilot(actor: str) -> bool:
    return actor.startswith("copilot:")


def human_engaged(incident: Incident) -> bool:
    """A person moved the incident (acknowledged it, approved an action, resolved it): paging can
    stop. The copilot's own moves (investigating, inconclusive, auto-ack) reach nobody."""
    return bool(incident.slack_card.get("acknowledged_by")) or any(
        t.state is not IncidentState.DETECTED and not _by_copilot(t.actor) for t in incident.timeline)


def on_transition(c: Container, detail: Mapping[str, object]) -> bool:
    """A person's move, or the incident closing, ends paging."""
    to, actor = str(detail.get("to") or ""), str(detail.get("actor") or "")
    closed = to in (IncidentState.RESOLVED.value, IncidentState.LEARNED.value)
    if to in ("", IncidentState.DETECTED.value) or (_by_copilot(actor) and not closed):
        return False
    tenant = str(detail.get("tenant_id") or c.settings.tenant_id)
    return _answer(c, tenant, str(detail.get("incident_id")), "closed" if closed else "acknowledged", actor)
