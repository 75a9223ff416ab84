"""One living Slack card per incident: posted once, then edited in place, with a thread of events.

The first page posts the card and keeps its channel and `ts` on the incident. Every later change
(new analysis, a lifecycle move, an approval) edits that card with `chat.update`, so the card
always shows the incident as it is now, and adds one short line to the card's thread saying what
happened. A failed Slack call is recorded as a failed notification and never raises: Slack being
down must not stop the phone page or the workflow.
"""

from __future__ import annotations

import re

from sre_copilot.domain.action import ActionPlan, Recommendation
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.json_types import string_lists
from sre_copilot.domain.notification import AuditRecord, Notification, SentSummary
from sre_copilot.domain.reasoning import Decision, Hypothesis
from sre_copilot.domain.routing import slack_channel_for
from sre_copilot.domain.types import Channel, DecisionOutcome, NotificationKind, Priority
from sre_copilot.messages.slack import EVIDENCE_LINES, incident_card
from sre_copilot.messages.text import SIGNAL_ID, hypothesis_title, name_alerts, percent, ranked, truncate
from sre_copilot.ports import clock
from sre_copilot.services.container import Container
from sre_copilot.services.ids import short_hash
from sre_copilot.services.mutations import record_notification
from sre_copilot.services.observability import logger

ACTOR = "copilot:slack"
THREAD_LINE_LIMIT = 300


def console_url(region: str, state_machine_arn: str, execution: str | None) -> str | None:
    """The Step Functions console page of the incident's execution."""
    if not execution or ":stateMachine:" not in state_machine_arn:
        return None
    arn = execution if execution.startswith("arn:") else (
        state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + execution)
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{arn}"


def s3_console_url(region: str, ref: str) -> str:
    """An s3:// reference as a link a person can open (the S3 console's object page)."""
    if not ref.startswith("s3://"):
        return ref
    bucket, _, key = ref[5:].partition("/")
    return f"https://s3.console.aws.amazon.com/s3/object/{bucket}?region={region}&prefix={key}"


def grouping_evidence(incident: Incident, titles: dict[str, str] | None = None) -> list[str]:
    """Why each alert is in the incident, named by title: the card's evidence list."""
    titles = titles or {}
    out = []
    for g in incident.grouping:
        if not g.evidence:
            continue
        title = titles.get(g.signal_id)
        reason = name_alerts(g.evidence, titles)
        out.append(f"{title}: {reason}" if title else reason)
    return out


class LivingCard:
    def __init__(self, container: Container) -> None:
        self.c = container

    # -- rendering -----------------------------------------------------------------------------
    def render(self, incident: Incident, decision: Decision | None = None,
               plan: ActionPlan | None = None) -> tuple[str, list[dict[str, object]]]:
        hypotheses = [Hypothesis.model_validate(h) for h in incident.hypotheses]
        if decision is None and incident.decision is not None:
            decision = Decision(outcome=incident.decision, reasons=list(incident.slack_card.get("reasons") or []),
                                at=clock.now())
        rec = Recommendation.model_validate(incident.recommendation) if incident.recommendation else None
        if plan is None:
            plans = self.c.store.actions_for(incident.tenant_id, incident.id)
            plan = plans[-1] if plans else None
        settings = self.c.settings
        # Only the alerts the card's evidence lines name (a storm's incident holds thousands, and
        # the card shows the first EVIDENCE_LINES and a count), still in this incident.
        shown = [g for g in incident.grouping if g.evidence][:EVIDENCE_LINES]
        named = [i for g in shown for i in (g.signal_id, *SIGNAL_ID.findall(g.evidence))]
        titles = {s.id: s.title for s in self.c.store.signals_by_id(incident.tenant_id, named).values()
                  if s.incident_id == incident.id}
        return incident_card(incident, hypotheses, decision, rec, plan, now=clock.now(),
                             evidence=grouping_evidence(incident, titles),
                             console_url=console_url(settings.region, settings.state_machine_arn,
                                                     incident.execution))

    # -- sending -------------------------------------------------------------------------------
    def show(self, incident: Incident, text: str, blocks: list[dict[str, object]],
             kind: NotificationKind = NotificationKind.UPDATE) -> SentSummary:
        """Post the card the first time, edit it in place afterwards. The caller saves the incident
        (the card's channel and ts are set on it here)."""
        card = incident.slack_card
        channel = str(card.get("channel") or slack_channel_for(incident, self.c.catalog()))
        ts = card.get("ts")
        try:
            if not ts and kind is NotificationKind.PAGE:
                channel = self._incident_channel(incident, channel)
            if ts:
                self.c.slack().update(channel, str(ts), text, blocks)
                return self._record(incident, channel, kind, "updated", text, str(ts))
            new_ts = self.c.slack().post(channel, text, blocks)
            incident.slack_card = {**card, "channel": channel, "ts": new_ts}
            return self._record(incident, channel, kind, "sent", text, new_ts)
        except Exception as exc:
            logger.warning("slack card failed", extra={"error": str(exc), "incident": incident.id})
            failed = self._record(incident, channel, kind, "failed", f"{text} ({exc})")
            if not ts and kind is NotificationKind.PAGE:
                from sre_copilot.services.delivery import fallback_chat

                fallback_chat(self.c, incident, f"Slack could not take the incident card ({exc}); "
                                                "sent here instead.")
            return failed

    def _incident_channel(self, incident: Incident, team_channel: str) -> str:
        """With `incident_channel: true` (slack secret), a P0 gets its own channel with the on-call
        invited (`oncall_users`: Slack user ids per service, or under "*"); the team channel gets a
        pointer to it. Without it, or for lower priorities, the card goes to the team channel."""
        slack = self.c.secret("slack")
        if not slack.get("incident_channel") or incident.priority is not Priority.P0:
            return team_channel
        users = string_lists(slack.get("oncall_users"))
        invite = list(users.get(incident.service or "", users.get("*", [])))
        name = re.sub(r"[^a-z0-9-]", "-", f"inc-{incident.id.removeprefix('inc-')}".lower())[:80]
        channel_id = self.c.slack().open_channel(name, invite)
        self.c.slack().post(team_channel, f"{incident.priority.value} {incident.title}: follow it in <#{channel_id}>")
        self.c.store.append(AuditRecord(at=clock.now(), tenant_id=incident.tenant_id, actor=ACTOR,
                                        action="slack.incident_channel", subject=incident.id,
                                        details={"channel": channel_id, "name": name, "invited": invite}))
        return channel_id

    def thread(self, incident: Incident, line: str,
               kind: NotificationKind = NotificationKind.UPDATE) -> SentSummary | None:
        """One short line under the card. Without a card (Slack was down at the page) there is no
        thread: the line is still kept as a failed notification, so nothing is silently lost."""
        card = incident.slack_card
        channel = str(card.get("channel") or slack_channel_for(incident, self.c.catalog()))
        line = truncate(line, THREAD_LINE_LIMIT)
        if not card.get("ts"):
            return self._record(incident, channel, kind, "failed", f"{line} (no card to thread under)")
        try:
            ts = self.c.slack().post(channel, line, None, thread_ts=str(card["ts"]))
            return self._record(incident, channel, kind, "sent", line, ts)
        except Exception as exc:
            logger.warning("slack thread reply failed", extra={"error": str(exc), "incident": incident.id})
            return self._record(incident, channel, kind, "failed", f"{line} ({exc})")

    def _record(self, incident: Incident, channel: str, kind: NotificationKind, status: str, text: str,
                provider_id: str | None = None) -> SentSummary:
        now = clock.now()
        notification = Notification(
            id=f"ntf-{short_hash(incident.id, 'slack', kind, status, now.isoformat(), text[:200])}",
            incident_id=incident.id, at=now, channel=Channel.SLACK, target=channel, kind=kind, status=status,
            text=text[:4000], provider_id=provider_id)
        record_notification(self.c.store, incident.tenant_id, notification)
        self.c.store.append(AuditRecord(at=now, tenant_id=incident.tenant_id, actor=ACTOR,
                                        action=f"notify.slack.{kind.value}",
                                        subject=incident.id, details={"status": status, "target": channel}))
        return {"channel": "slack", "kind": kind.value, "status": status}


CARD_FIELDS = ("slack_card", "last_card")


def save_card(c: Container, incident: Incident) -> None:
    """Write the card's fields without overwriting what another writer saved meanwhile: a versioned
    write through `mutate_incident`, re-applying our card fields on a fresh read after a conflict
    (the caller's object is refreshed too)."""
    from sre_copilot.services.mutations import save_fields

    save_fields(c.store, incident, **{name: getattr(incident, name) for name in CARD_FIELDS})


def analysis_events(incident: Incident, decision: Decision) -> list[str]:
    """Thread lines for what changed in the analysis since the card last spoke, and remember it.

    Material: a new top hypothesis, a new decision, new alerts. A confidence that moves a point
    is not news; it shows on the card without a thread line.
    """
    card = incident.slack_card
    hypotheses = ranked(Hypothesis.model_validate(h) for h in incident.hypotheses)
    top = hypotheses[0] if hypotheses else None
    top_key = None if top is None else f"{top.entity}|{top.fault}|{top.change_id or ''}"
    lines: list[str] = []
    known = "top" in card
    if known and len(incident.signal_ids) > int(card.get("signals") or 0):
        added = len(incident.signal_ids) - int(card.get("signals") or 0)
        lines.append(f"New evidence: {added} more alert(s), {len(incident.signal_ids)} in all")
    if known and top_key != card.get("top") and top is not None:
        lines.append(f"New top hypothesis: {hypothesis_title(top)} at {percent(top.confidence)}")
    if known and decision.outcome.value != card.get("decision"):
        lines.append(f"Decision: {_decision_words(decision.outcome)}")
    incident.slack_card = {**card, "top": top_key, "decision": decision.outcome.value,
                           "signals": len(incident.signal_ids), "reasons": decision.reasons[:5]}
    return lines


def _decision_words(outcome: DecisionOutcome) -> str:
    return {
        DecisionOutcome.PRESENT: "hypotheses presented to the on-call",
        DecisionOutcome.AUTO_ACK: "auto-acknowledged: high confidence with precedent",
        DecisionOutcome.INCONCLUSIVE: "inconclusive: no hypothesis above threshold",
        DecisionOutcome.NEEDS_HUMAN: "needs a human: evidence is weak or conflicting",
    }.get(outcome, outcome.value)


def pagerduty_note_is_material(incident: Incident, hypotheses: list[Hypothesis], decision: Decision) -> bool:
    """PagerDuty gets an analysis note only when the top cause or the decision changed."""
    top = ranked(hypotheses)[0] if hypotheses else None
    digest = short_hash(decision.outcome.value, *([top.entity, top.fault, top.change_id or ""] if top else []))
    if incident.slack_card.get("pagerduty_note") == digest:
        return False
    incident.slack_card = {**incident.slack_card, "pagerduty_note": digest}
    return True


def transition_line(detail: dict[str, object], incident: Incident, region: str) -> str:
    """The thread line for a lifecycle move, with the postmortem link once it is written."""
    line = f"{detail.get('to')} by {detail.get('actor')}: {detail.get('reason')}"
    if detail.get("to") == "LEARNED" and incident.postmortem_ref:
        line += f". Postmortem: {s3_console_url(region, incident.postmortem_ref)}"
    return line


class CardSync:
    """EventBridge "Incident Lifecycle Transition": edit the card to the new state, thread the move."""

    def __init__(self, container: Container) -> None:
        self.c = container
        self.card = LivingCard(container)

    def on_transition(self, detail: dict[str, object]) -> dict[str, object]:
        tenant = str(detail.get("tenant_id") or self.c.settings.tenant_id)
        incident = self.c.store.get_incident(tenant, str(detail.get("incident_id")))
        if incident is None or not incident.slack_card.get("ts"):
            return {"card": "none"}
        text, blocks = self.card.render(incident)
        shown = self.card.show(incident, text, blocks)
        kind = NotificationKind.RESOLUTION if detail.get("to") in ("RESOLVED", "LEARNED") else NotificationKind.UPDATE
        self.card.thread(incident, transition_line(detail, incident, self.c.settings.region), kind)
        return {"card": shown["status"]}
