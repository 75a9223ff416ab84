"""The Slack incident card: what the copilot concluded, how sure it is and why, and what it wants to do.

Block Kit limits shape the code: section text ≤ 3000 characters, ≤ 10 fields of ≤ 2000, header ≤ 150,
button text ≤ 75, at most 50 blocks. Slack mrkdwn needs &, < and > escaped in anything we did not write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sre_copilot.domain.action import ActionPlan, Recommendation
from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.reasoning import Decision, Hypothesis
from sre_copilot.domain.types import Approval, Priority, format_time
from sre_copilot.messages.text import (
    confidence_phrase,
    factor_breakdown,
    hypothesis_title,
    percent,
    ranked,
    truncate,
)

APPROVE_ACTION_ID = "approve"
REJECT_ACTION_ID = "reject"
ACK_ACTION_ID = "acknowledge"
RESOLVE_ACTION_ID = "resolve"
CONFIRM_HYPOTHESIS_ACTION_ID = "confirm_hypothesis"
REJECT_HYPOTHESIS_ACTION_ID = "reject_hypothesis"
CARD_ACTION_IDS = (APPROVE_ACTION_ID, REJECT_ACTION_ID, ACK_ACTION_ID, RESOLVE_ACTION_ID,
                   CONFIRM_HYPOTHESIS_ACTION_ID, REJECT_HYPOTHESIS_ACTION_ID)
EVIDENCE_LINES = 5
TOP_HYPOTHESES = 3

_PRIORITY_EMOJI = {Priority.P0: ":red_circle:", Priority.P1: ":large_orange_circle:",
                   Priority.P2: ":large_yellow_circle:", Priority.P3: ":white_circle:"}


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str, limit: int = 3000) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": truncate(text, limit)}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def approval_value(incident_id: str, plan_id: str) -> str:
    """The button value `parse_interaction` reads back: which plan of which incident was answered."""
    return f"{incident_id}|{plan_id}"


def incident_card(
    incident: Incident,
    hypotheses: list[Hypothesis],
    decision: Decision | None,
    recommendation: Recommendation | None,
    plan: ActionPlan | None,
    *,
    now: datetime | None = None,
    evidence: list[str] | None = None,
    console_url: str | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """Fallback text (notifications, screen readers) and the Block Kit blocks of the incident card.

    The same card is edited in place for the incident's whole life, so it always says who
    acknowledged and who approved, and offers only the buttons that still make sense.
    """
    top = ranked(hypotheses)[:TOP_HYPOTHESES]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(f"{incident.priority.value} {incident.title}", 150)},
        {"type": "section", "fields": _summary_fields(incident, decision, now)},
    ]
    people = _people_line(incident, plan, console_url)
    if people:
        blocks.append({"type": "context", "elements": [_mrkdwn(people)]})
    if decision is not None and decision.reasons:
        blocks.append({"type": "context", "elements": [
            _mrkdwn("Why: " + escape("; ".join(decision.reasons)))]})
    blocks.append({"type": "divider"})
    if top:
        blocks.append({"type": "section", "text": _mrkdwn(f"*Top {len(top)} hypotheses*")})
        for position, h in enumerate(top, start=1):
            blocks.extend(_hypothesis_blocks(position, h))
            if incident.is_open:
                blocks.append(_hypothesis_buttons(incident, h))
    else:
        blocks.append({"type": "section", "text": _mrkdwn("_No hypothesis yet: the evidence names no cause._")})
    if evidence:
        shown = [f"• {escape(line)}" for line in evidence[:EVIDENCE_LINES]]
        more = len(evidence) - len(shown)
        if more > 0:
            shown.append(f"_…and {more} more_")
        blocks.append({"type": "section", "text": _mrkdwn("*Evidence*\n" + "\n".join(shown))})
    if recommendation is not None:
        blocks.append({"type": "divider"})
        blocks.append({"type": "section", "text": _mrkdwn(_recommendation_text(recommendation))})
    if plan is not None:
        blocks.append({"type": "context", "elements": [_mrkdwn(_plan_text(plan))]})
        if plan.approval is Approval.PENDING and incident.is_open:
            blocks.append(_approval_buttons(incident, plan))
    lifecycle = _lifecycle_buttons(incident)
    if lifecycle is not None:
        blocks.append(lifecycle)
    return _fallback_text(incident, top, recommendation, plan), blocks


def age_text(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours < 48 else f"{hours // 24}d"


def acknowledged_by(incident: Incident) -> str | None:
    """Who acknowledged: the ACKNOWLEDGED move, or a person's acknowledgement kept on the incident
    when the copilot had already moved it on (services/escalation.acknowledge)."""
    moved = next((t.actor for t in incident.timeline if t.state is IncidentState.ACKNOWLEDGED), None)
    return moved or incident.slack_card.get("acknowledged_by")


def _people_line(incident: Incident, plan: ActionPlan | None, console_url: str | None) -> str:
    parts = []
    acker = acknowledged_by(incident)
    parts.append(f"Acknowledged by {escape(acker)}" if acker else "Not acknowledged yet")
    if plan is not None and plan.approver and plan.approval in (Approval.APPROVED, Approval.REJECTED):
        parts.append(f"{plan.approval.value} by {escape(plan.approver)}")
    if console_url:
        parts.append(f"<{console_url}|Step Functions execution>")
    return "  ·  ".join(parts)


def _summary_fields(incident: Incident, decision: Decision | None,
                    now: datetime | None = None) -> list[dict[str, Any]]:
    services = incident.services or ([incident.service] if incident.service else [])
    emoji = _PRIORITY_EMOJI.get(incident.priority, "")
    end = incident.resolved_at or now
    age = f" ({age_text((end - incident.opened_at).total_seconds())} old)" if end else ""
    fields = [
        _mrkdwn(f"*Priority*\n{emoji} {incident.priority.value}", 2000),
        _mrkdwn(f"*State*\n{incident.state.value}", 2000),
        _mrkdwn(f"*Services*\n{escape(', '.join(services)) or 'unknown'}", 2000),
        _mrkdwn(f"*Incident*\n`{escape(incident.id)}`", 2000),
        _mrkdwn(f"*Opened*\n{format_time(incident.opened_at)}{age}", 2000),
        _mrkdwn(f"*Signals*\n{len(incident.signal_ids)}", 2000),
    ]
    if decision is not None:
        fields.append(_mrkdwn(f"*Decision*\n{decision.outcome.value}", 2000))
    if incident.pagerduty_incident_id:
        fields.append(_mrkdwn(f"*PagerDuty*\n{escape(incident.pagerduty_incident_id)}", 2000))
    return fields


LLM_GENERATOR = "llm"
LLM_MARK = "_LLM suggestion: shown for context; it never chooses an action_"


def _hypothesis_blocks(position: int, h: Hypothesis) -> list[dict[str, Any]]:
    lines = [f"*{position}. {escape(hypothesis_title(h))}*", f"Confidence *{confidence_phrase(h)}*"]
    if h.generator == LLM_GENERATOR:
        lines.append(LLM_MARK)
    if h.summary:
        lines.append(escape(h.summary))
    return [
        {"type": "section", "text": _mrkdwn("\n".join(lines))},
        {"type": "context", "elements": [_mrkdwn(factor_breakdown(h.factors))]},
    ]


def card_value(incident_id: str, ref: str = "") -> str:
    """What a card button carries: the incident, and the plan or hypothesis it answers."""
    return f"{incident_id}|{ref}"


def _hypothesis_buttons(incident: Incident, h: Hypothesis) -> dict[str, Any]:
    value = card_value(incident.id, h.id)
    return {"type": "actions", "block_id": truncate(f"hypothesis:{h.id}", 255), "elements": [
        {"type": "button", "action_id": CONFIRM_HYPOTHESIS_ACTION_ID, "value": value,
         "text": _plain("Confirm cause", 75)},
        {"type": "button", "action_id": REJECT_HYPOTHESIS_ACTION_ID, "value": value,
         "text": _plain("Not the cause", 75)},
    ]}


def _lifecycle_buttons(incident: Incident) -> dict[str, Any] | None:
    elements: list[dict[str, Any]] = []
    value = card_value(incident.id)
    if incident.is_open and acknowledged_by(incident) is None:
        elements.append({"type": "button", "action_id": ACK_ACTION_ID, "style": "primary", "value": value,
                         "text": _plain("Acknowledge", 75)})
    if incident.can_transition(IncidentState.RESOLVED):
        elements.append({"type": "button", "action_id": RESOLVE_ACTION_ID, "value": value,
                         "text": _plain("Resolve", 75),
                         "confirm": {"title": _plain("Resolve the incident?", 100),
                                     "text": _mrkdwn("The copilot stops paging and writes the postmortem.", 300),
                                     "confirm": _plain("Resolve", 30), "deny": _plain("Cancel", 30)}})
    if not elements:
        return None
    return {"type": "actions", "block_id": truncate(f"lifecycle:{incident.id}", 255), "elements": elements}


def _recommendation_text(rec: Recommendation) -> str:
    lines = [f"*Recommended action:* `{escape(rec.action)}` {escape(rec.target)}",
             f"Risk *{rec.risk.value}*  ·  Runbook {escape(rec.runbook) if rec.runbook else '_none_'}"]
    if rec.estimated_mttr_reduction_min:
        lines.append(f"Estimated MTTR reduction {rec.estimated_mttr_reduction_min:.0f} min")
    if rec.blast_radius:
        lines.append(f"Blast radius: {escape(', '.join(rec.blast_radius))}")
    if rec.rationale:
        lines.append(escape(rec.rationale))
    return "\n".join(lines)


def _plan_text(plan: ActionPlan) -> str:
    failed = [f"{name} ({result.removeprefix('fail: ')})" for name, result in plan.gate_results.items()
              if result.startswith("fail")]
    gates = (f"gates failed: {escape('; '.join(failed))}" if failed
             else f"{len(plan.gate_results)} safety gates passed" if plan.gate_results else "gates not evaluated")
    return (f"Plan `{escape(plan.id)}` · approval *{plan.approval.value}* · status {plan.status.value} · "
            f"{'dry run' if plan.dry_run else 'live'} · {gates}")


def _approval_buttons(incident: Incident, plan: ActionPlan) -> dict[str, Any]:
    value = approval_value(incident.id, plan.id)
    mode = "a dry run (no change is applied)" if plan.dry_run else "a live change"
    return {
        "type": "actions",
        "block_id": truncate(f"approval:{plan.id}", 255),
        "elements": [
            {"type": "button", "action_id": APPROVE_ACTION_ID, "style": "primary", "value": value,
             "text": _plain(f"Approve {plan.action}", 75),
             "confirm": {"title": _plain(f"Run {plan.action}?", 100),
                         "text": _mrkdwn(f"{escape(plan.action)} {escape(plan.target)} (risk {plan.risk.value}) "
                                         f"as {mode}. Rollback: {escape(plan.rollback or 'none defined')}", 300),
                         "confirm": _plain("Approve", 30), "deny": _plain("Cancel", 30)}},
            {"type": "button", "action_id": REJECT_ACTION_ID, "style": "danger", "value": value,
             "text": _plain("Reject", 75)},
        ],
    }


def _fallback_text(incident: Incident, top: list[Hypothesis], rec: Recommendation | None,
                   plan: ActionPlan | None) -> str:
    parts = [f"[{incident.priority.value}] {incident.title} ({incident.id}, {incident.state.value})"]
    if top:
        parts.append(f"top hypothesis: {hypothesis_title(top[0])} at {percent(top[0].confidence)}")
    if rec is not None:
        parts.append(f"recommended: {rec.action} {rec.target} (risk {rec.risk.value})")
    if plan is not None and plan.approval is Approval.PENDING:
        parts.append("approval needed")
    # The fallback `text` is mrkdwn too: an alert title with <!channel> in it would ping everyone.
    return escape(" — ".join(parts))
