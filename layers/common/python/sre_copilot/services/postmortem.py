"""Postmortem: a deterministic Markdown draft built from what the stores recorded about an incident.

`gather` reads the facts (incident, signals, changes, actions, notifications, audit trail, the last
analysis's context and evidence); `render_postmortem` turns them into Markdown without any I/O, so a
test can check every section from plain data. Every figure in the draft is derived from a recorded
time or value and says so. Optional LLM prose (`polish`) is appended in its own, marked section and
never replaces the deterministic text.

PDF: the Markdown is the artefact (S3, Slack link, local file). `sre-copilot postmortem ID --pdf FILE`
renders one with fpdf2 (cli/postmortem_pdf.py, the optional `pdf` extra): with Pillow and fontTools
it is about 40 MB, so it stays out of the Lambda layer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.change import ChangeEvent
from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.json_types import as_list, as_object, member, strings
from sre_copilot.domain.notification import AuditRecord, Notification
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import (
    ActionStatus,
    Approval,
    Channel,
    NotificationKind,
    SignalStatus,
    format_time,
)
from sre_copilot.messages.text import name_alerts
from sre_copilot.services.container import Container

SLOW_ACK_S = 5 * 60
SLOW_DETECT_S = 5 * 60
SLOW_APPROVAL_S = 10 * 60
FACTOR_NAMES = ("signal_strength", "temporal_correlation", "precedent_frequency", "evidence_quality",
                "human_validation")


@dataclass
class PostmortemFacts:
    incident: Incident
    signals: list[Signal]
    actions: list[ActionPlan]
    notifications: list[Notification]
    audit: list[AuditRecord]
    changes: list[ChangeEvent] = field(default_factory=list)
    evidence: list[dict[str, object]] = field(default_factory=list)
    slo_state: dict[str, object] = field(default_factory=dict)
    customer_facing: list[str] = field(default_factory=list)  # services nobody in the catalog calls
    polished: str | None = None


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str
    text: str


# -- reading ---------------------------------------------------------------------------------------
def gather(container: Container, incident: Incident) -> PostmortemFacts:
    store, tenant = container.store, incident.tenant_id
    signals = store.signals_for_incident(tenant, incident.id)
    start = min((s.event_time for s in signals), default=incident.opened_at)
    end = incident.resolved_at or incident.updated_at
    changes = [c for c in store.changes_between(tenant, start - timedelta(hours=24), end)
               if c.service in set(incident.services) | {incident.service}
               or any(c.id == h.get("change_id") for h in incident.hypotheses)]
    evidence: list[dict[str, object]] = []
    slo: dict[str, object] = {}
    if incident.snapshot_ref:
        try:  # the analysis artefacts enrich the draft; a missing one must not stop it
            snapshot = container.blobs.get_json(incident.snapshot_ref)
            slo = as_object(member(snapshot, "slo_state"))
            package = container.blobs.get_json(incident.snapshot_ref.replace("/context.json", "/evidence.json"))
            evidence = [as_object(item) for item in as_list(member(package, "items"))]
        except Exception:  # absent or unreadable artefact: the section says so
            pass
    catalog: Catalog = container.catalog()
    facing = [s for s in incident.services if catalog.service(s) is not None and not catalog.callers(s)]
    return PostmortemFacts(incident=incident, signals=signals, actions=store.actions_for(tenant, incident.id),
                           notifications=store.notifications_for(tenant, incident.id),
                           audit=store.for_subject(tenant, incident.id), changes=changes, evidence=evidence,
                           slo_state=slo, customer_facing=facing)


# -- figures ---------------------------------------------------------------------------------------
def first_transition(incident: Incident, state: IncidentState) -> datetime | None:
    return next((t.at for t in incident.timeline if t.state is state), None)


def response_figures(facts: PostmortemFacts) -> dict[str, float | None]:
    """Seconds from the first symptom (detect) or from the opening (ack, mitigate, resolve)."""
    inc = facts.incident
    first = min((s.event_time for s in facts.signals if s.status is SignalStatus.FIRING), default=None)
    mitigated = first_transition(inc, IncidentState.MITIGATED)

    def since(a: datetime | None, b: datetime | None) -> float | None:
        return None if a is None or b is None else max(0.0, (b - a).total_seconds())

    return {"detect": since(first, inc.opened_at), "acknowledge": since(inc.opened_at, inc.acknowledged_at),
            "mitigate": since(inc.opened_at, mitigated), "resolve": since(inc.opened_at, inc.resolved_at)}


def _minutes(seconds: float | None) -> str:
    return "not reached" if seconds is None else f"{seconds / 60:.1f} min"


# -- timeline --------------------------------------------------------------------------------------
def timeline(facts: PostmortemFacts) -> list[Event]:
    events: list[Event] = []
    for s in facts.signals:
        word = "fired" if s.status is SignalStatus.FIRING else s.status.value
        where = s.entity or s.service or "unresolved entity"
        events.append(Event(s.event_time, "signal", f"[{s.source}] {s.title} ({where}) {word}"))
    for c in facts.changes:
        version = _versions(c, " ", " → ")
        events.append(Event(c.at, "change", f"{c.kind.value} `{c.id}` on {c.service}{version}: {c.summary}".rstrip(": ")))
    for t in facts.incident.timeline:
        events.append(Event(t.at, "lifecycle", f"incident {t.state.value} by {t.actor}: {t.reason}"))
    for n in facts.notifications:
        events.append(Event(n.at, "notification", f"{n.kind.value} via {n.channel.value} to {n.target}: {n.status}"))
    for r in facts.audit:
        text = _audit_text(r)
        if text:
            kind = r.action.split(".", 1)[0]
            events.append(Event(r.at, {"policy": "decision", "workflow": "workflow"}.get(kind, kind), text))
    return sorted(events, key=lambda e: (e.at, _ORDER.get(e.kind, 9)))


_ORDER = {"change": 0, "signal": 1, "lifecycle": 2, "decision": 3, "notification": 4, "approval": 5, "action": 6}


def _versions(change: ChangeEvent, lead: str, arrow: str) -> str:
    if not change.version:
        return ""
    if not change.previous_version:
        return f" to {change.version}"
    return f"{lead}{change.previous_version}{arrow}{change.version}"


def _audit_text(r: AuditRecord) -> str | None:
    d = r.details
    if r.action.startswith("approval."):
        return f"{r.action.split('.', 1)[1]} {d.get('action', '')} {d.get('target', '')} by {r.actor}".replace("  ", " ")
    if r.action == "action.planned":
        return (f"planned {d.get('action')} {d.get('target')} (risk {d.get('risk')}, "
                f"approval {d.get('approval')})")
    if r.action == "action.executed":
        return f"executed {d.get('plan')}: {d.get('status')}{' (dry run)' if d.get('dry_run') else ''}"
    if r.action == "action.verified":
        return f"verified {d.get('plan')}: {d.get('why')}"
    if r.action == "action.verification_failed":
        return f"verification failed for {d.get('plan')}: {d.get('why')}"
    if r.action == "action.rolled_back":
        return f"rolled back {d.get('plan')}: {d.get('detail')}"
    if r.action == "policy.decided":
        return f"policy decided {d.get('outcome')}"
    if r.action == "workflow.failed":
        return f"workflow failed: {d.get('Error')}"
    if r.action.startswith("feedback."):
        return f"{r.action.split('.', 1)[1]} by {r.actor}: {d.get('hypothesis_key')}"
    return None


# -- retrospective ---------------------------------------------------------------------------------
def retrospective(facts: PostmortemFacts) -> tuple[list[str], list[str], list[str]]:
    """What went well, what went badly, follow-ups: each derived from a recorded time or outcome."""
    well: list[str] = []
    badly: list[str] = []
    follow: list[str] = []
    inc = facts.incident
    figures = response_figures(facts)
    if figures["detect"] is not None:
        (badly if figures["detect"] > SLOW_DETECT_S else well).append(
            f"incident opened {_minutes(figures['detect'])} after the first alert fired")
        if figures["detect"] > SLOW_DETECT_S:
            follow.append("Tune the correlation opening rules or alert thresholds: detection took "
                          f"{_minutes(figures['detect'])}.")
    pages = [n for n in facts.notifications if n.kind is NotificationKind.PAGE and n.channel is Channel.PHONE]
    if pages:
        page = min(pages, key=lambda n: n.at)
        if inc.acknowledged_at is not None:
            wait = (inc.acknowledged_at - page.at).total_seconds()
            (badly if wait > SLOW_ACK_S else well).append(f"page acknowledged {wait / 60:.1f} min after it was sent")
            if wait > SLOW_ACK_S:
                follow.append(f"Review the on-call escalation: the page went unacknowledged for {wait / 60:.0f} min.")
        else:
            badly.append("the page was never acknowledged")
            follow.append("Check the on-call rota and phone number: no one acknowledged the page.")
    failed = [n for n in facts.notifications if n.status == "failed"]
    if failed:
        badly.append(f"{len(failed)} notification(s) failed to send ({', '.join(sorted({n.channel.value for n in failed}))})")
        follow.append("Fix the failing notification channel(s) listed in the timeline.")
    approvals = {r.details.get("plan"): r.at for r in facts.audit if r.action.startswith("approval.")}
    for plan in facts.actions:
        label = f"{plan.action} {plan.target}"
        if plan.status is ActionStatus.VERIFIED:
            tries = sum(1 for r in facts.audit if r.action == "action.executed" and r.details.get("plan") == plan.id)
            well.append(f"{label} verified{' on first try' if tries <= 1 else f' after {tries} attempts'}"
                        f"{' (dry run: changed nothing)' if plan.dry_run else ''}")
        elif plan.status in (ActionStatus.FAILED, ActionStatus.ROLLED_BACK):
            badly.append(f"{label} {plan.status.value}: {plan.detail}")
            follow.append(f"Fix the runbook or executor for {label}; it {plan.status.value}.")
        elif plan.approval is Approval.BLOCKED:
            gates = ", ".join(f"{k}: {v}" for k, v in plan.gate_results.items() if v != "pass") or plan.detail
            badly.append(f"{label} blocked by a safety gate ({gates})")
        elif plan.approval is Approval.TIMED_OUT:
            badly.append(f"nobody answered the approval request for {label} before its timeout")
            follow.append("Make approvals reachable faster (Slack thread, phone) or pre-approve low-risk actions.")
        elif plan.approval in (Approval.APPROVED, Approval.AUTO) and plan.status is ActionStatus.PLANNED:
            badly.append(f"{label} was {plan.approval.value} but never ran")
            follow.append(f"Investigate why {label} did not execute (see the execution history).")
        asked = next((n.at for n in facts.notifications if n.kind is NotificationKind.APPROVAL_REQUEST
                      and plan.id in n.text), None)
        answered = approvals.get(plan.id)
        if asked and answered and (answered - asked).total_seconds() > SLOW_APPROVAL_S:
            badly.append(f"approval of {label} took {(answered - asked).total_seconds() / 60:.0f} min")
    if any(r.action == "workflow.failed" for r in facts.audit):
        badly.append("the incident workflow failed before it finished; the postmortem was written on resolution")
        follow.append("Inspect the failed execution (`sre-copilot history`) and fix the failing step.")
    top = inc.hypotheses[0] if inc.hypotheses else None
    if inc.state is IncidentState.INCONCLUSIVE or top is None:
        badly.append("no root cause reached the confidence threshold")
        follow.append("Add the telemetry that would have told the causes apart (metrics, change events).")
    else:
        follow.append(f"Confirm or reject the root cause `{top.get('fault')}` on {top.get('entity')} "
                      f"(`sre-copilot feedback {inc.id} confirm|reject`) so future incidents learn from it.")
        if top.get("change_id"):
            follow.append(f"Add a pre-production check or canary for {top.get('service') or top.get('entity')} "
                          f"changes like `{top.get('change_id')}`, with automatic rollback on this symptom.")
    if not facts.actions:
        follow.append("Write a runbook for this fault so the copilot can recommend an action next time.")
    return well or ["nothing recorded stood out as going well"], badly or ["nothing recorded went badly"], follow


# -- rendering -------------------------------------------------------------------------------------
def render_postmortem(facts: PostmortemFacts) -> str:
    inc = facts.incident
    figures = response_figures(facts)
    firing = [s for s in facts.signals if s.status is SignalStatus.FIRING]
    cleared = [s for s in facts.signals if s.status is SignalStatus.RESOLVED]
    first = min((s.event_time for s in firing), default=inc.opened_at)
    end = inc.resolved_at
    duration = "ongoing" if end is None else f"{(end - first).total_seconds() / 60:.0f} min (first alert to resolution)"
    top = inc.hypotheses[0] if inc.hypotheses else None
    symptoms = sorted({s.title for s in firing if s.service in facts.customer_facing})
    lines = [f"# Postmortem: {inc.title}", "",
             "_Deterministic draft generated by SRE Copilot from the recorded incident; every figure is derived "
             "from recorded times._", "",
             "## Summary", ""]
    cause = (f"The most likely root cause was **{top.get('fault')}** on **{top.get('entity')}**"
             + (f", triggered by change `{top.get('change_id')}`" if top.get("change_id") else "")
             + f" (confidence {top.get('confidence')}).") if top else "No root cause was identified."
    lines += [f"{inc.priority.value} incident `{inc.id}` affecting {', '.join(inc.services) or 'unknown services'}. "
              f"{cause} Final state: {inc.state.value}.", "",
              "## Impact", "",
              f"- Services: {', '.join(inc.services) or 'unknown'}",
              f"- Customer-facing services (no caller in the catalog): {', '.join(facts.customer_facing) or 'none identified'}",
              f"- Customer-facing symptoms: {'; '.join(symptoms) or 'none alerted on a customer-facing service'}",
              f"- Duration: {duration}; started {format_time(first)}"
              + (f", resolved {format_time(end)}" if end else ""),
              f"- Signals: {len(facts.signals)} ({len(firing)} firing, {len(cleared)} cleared)",
              f"- SLO burn: {_slo_text(facts.slo_state)}", ""]
    lines += ["## Detection and response", "",
              "| Measure | Value | From → to |", "|---|---|---|",
              f"| Time to detect | {_minutes(figures['detect'])} | first alert → incident opened |",
              f"| Time to acknowledge | {_minutes(figures['acknowledge'])} | opened → acknowledged |",
              f"| Time to mitigate | {_minutes(figures['mitigate'])} | opened → mitigated |",
              f"| Time to resolve | {_minutes(figures['resolve'])} | opened → resolved |", ""]
    lines += ["## Timeline", "", "Times are UTC; events in the same minute are grouped.", ""]
    by_minute: dict[str, list[Event]] = defaultdict(list)
    for event in timeline(facts):
        by_minute[event.at.strftime("%Y-%m-%d %H:%M")].append(event)
    for minute, events in by_minute.items():
        lines.append(f"- **{minute}**")
        lines += [f"  - {e.at.strftime('%H:%M:%S')} {e.kind}: {e.text}" for e in events]
    lines += ["", "## Root cause", ""]
    lines += _root_cause(facts, top)
    lines += ["", "## What was done", ""]
    for plan in facts.actions:
        who = f" by {plan.approver}" if plan.approver else ""
        lines.append(f"- **{plan.action} {plan.target}** (risk {plan.risk.value}): approval {plan.approval.value}{who}; "
                     f"result **{plan.status.value}**{' (dry run)' if plan.dry_run else ''}"
                     + (f" — {plan.detail}" if plan.detail else ""))
    if not facts.actions:
        lines.append("- No remediation was planned.")
    well, badly, follow = retrospective(facts)
    lines += ["", "## What went well", ""] + [f"- {w}" for w in well]
    lines += ["", "## What went badly", ""] + [f"- {b}" for b in badly]
    lines += ["", "## Follow-ups", ""] + [f"- [ ] {f}" for f in follow]
    lines += ["", "## Grouping", ""]
    # Named as people know the alerts (their titles), like the Slack card, not by our signal ids.
    titles = {s.id: s.title for s in facts.signals if s.title}
    lines += [f"- {titles.get(g.signal_id, g.signal_id)} [{g.rule}]: {name_alerts(g.evidence, titles)}"
              + (f" ({' → '.join(g.path)})" if g.path else "")
              for g in inc.grouping[:30]] or ["- none recorded"]
    if len(inc.grouping) > 30:
        lines.append(f"- … {len(inc.grouping) - 30} more in the audit trail")
    lines += ["", f"_Audit trail: {len(facts.audit)} records under `{inc.id}`._"]
    if facts.polished:
        lines += ["", "## Narrative (LLM-polished prose; the sections above are authoritative)", "",
                  facts.polished.strip()]
    return "\n".join(lines) + "\n"


def _slo_text(slo: dict[str, object]) -> str:
    """The context assembler's `slo_state`: per-service burn rate where an SLO and an error-rate
    series exist, and the services with a firing SLO-burn alert."""
    if not slo:
        return "not measured (no SLO data was readable during the analysis)"
    services = as_object(slo.get("services"))
    burning = strings(slo.get("burn_alerts"))
    parts = []
    for name, value in sorted(services.items()):
        entry = as_object(value)
        if entry.get("burn_rate") is not None:
            parts.append(f"{name}: burn rate {entry['burn_rate']}x of its error budget"
                         + (f", budget gone in {entry['time_to_breach_h']} h at this rate"
                            if entry.get("time_to_breach_h") is not None else ""))
        elif entry.get("alerting_burn"):
            parts.append(f"{name}: SLO burn alert firing")
    parts += [f"{name}: SLO burn alert firing" for name in burning if name not in services]
    return "; ".join(parts) or "no SLO burn alert or SLO metric was recorded for these services"


def _root_cause(facts: PostmortemFacts, top: dict[str, object] | None) -> list[str]:
    if top is None:
        return ["No hypothesis was generated."]
    lines = [f"**{top.get('fault')}** on **{top.get('entity')}** ({top.get('entity_kind')}"
             + (f", service {top.get('service')}" if top.get("service") and top.get("service") != top.get("entity") else "")
             + f"): {top.get('summary')}", ""]
    change = next((c for c in facts.changes if c.id == top.get("change_id")), None)
    if change is not None:
        version = _versions(change, " from ", " to ")
        lines += [f"- Change: {change.kind.value} `{change.id}` on {change.service}{version} at "
                  f"{format_time(change.at)} by {change.author or 'unknown'}: {change.summary or 'no summary'}"]
    elif top.get("change_id"):
        lines += [f"- Change: `{top.get('change_id')}`"]
    validated = facts.incident.root_cause
    if validated and validated.get("entity") == top.get("entity") and validated.get("fault") == top.get("fault"):
        lines.append(f"- Validated: {validated.get('how')} by {validated.get('by')}")
    elif validated:
        lines.append(f"- A person named a different cause: {validated.get('fault')} on {validated.get('entity')} "
                     f"({validated.get('how')} by {validated.get('by')})")
    else:
        lines.append("- Validated: not yet; no person confirmed it and no approved action verified it")
    rng = as_list(top.get("confidence_range"))
    how = ("deterministic weighted score of seed 001's five factors" if top.get("raw_confidence") is None else
           f"calibrated ({top.get('calibration')}) from the weighted score {top.get('raw_confidence')} "
           "of seed 001's five factors")
    lines.append(f"- Confidence: {top.get('confidence')} (range {rng[0] if rng else '?'} to {rng[1] if rng else '?'}), "
                 + how)
    factors = top.get("factors") or {}
    if isinstance(factors, dict):
        lines.append("- Factors: " + ", ".join(f"{k.replace('_', ' ')} {factors.get(k)}" for k in FACTOR_NAMES
                                              if k in factors))
    names = {top.get("entity"), top.get("service"), top.get("change_id")}
    relevant = [e for e in facts.evidence if e.get("subject") in names
                or any(isinstance(n, str) and n and n in str(e.get("subject") or "") for n in names)]
    lines += ["", "Evidence:", ""]
    lines += [f"- {'supports' if e.get('supports', True) else 'contradicts'}: [{e.get('kind')}] {e.get('summary')} "
              f"(source {e.get('source')}, strength {e.get('strength')})" for e in relevant[:12]] or [
        "- the evidence package of the last analysis was not readable; see the hypothesis summary above"]
    others = facts.incident.hypotheses[1:6]
    lines += ["", "Hypotheses ruled out:", ""]
    for h in others:
        lines.append(f"- {h.get('fault')} on {h.get('entity')}"
                     + (f" (change `{h.get('change_id')}`)" if h.get("change_id") else "")
                     + f": confidence {h.get('confidence')} vs {top.get('confidence')}; {_why_lower(top, h)}")
    if not others:
        lines.append("- no competing hypothesis was generated")
    return lines


def _why_lower(top: dict[str, object], other: dict[str, object]) -> str:
    a, b = top.get("factors") or {}, other.get("factors") or {}
    if not isinstance(a, dict) or not isinstance(b, dict) or not a or not b:
        return "ranked lower"
    gaps = sorted(((float(a.get(k, 0)) - float(b.get(k, 0)), k) for k in FACTOR_NAMES if k in a and k in b),
                  reverse=True)
    weaker = [f"{k.replace('_', ' ')} {b.get(k)} vs {a.get(k)}" for gap, k in gaps[:2] if gap > 0.01]
    return ("weaker " + ", ".join(weaker)) if weaker else "ranked lower on tie-breaks (structural fit)"


def write_postmortem(container: Container, incident: Incident) -> str:
    """Render and store the draft (S3 `postmortems/<tenant>/<incident>.md`); return its URI."""
    facts = gather(container, incident)
    facts.polished = polish(container, facts)
    doc = render_postmortem(facts)
    return container.blobs.put_bytes(f"postmortems/{incident.tenant_id}/{incident.id}.md", doc.encode(),
                                         "text/markdown")


def polish(container: Container, facts: PostmortemFacts) -> str | None:
    """Optional LLM prose over the deterministic draft; None without an LLM or on any failure."""
    if container.settings.llm_provider == "none":
        return None
    try:
        from sre_copilot.adapters.anthropic_assistant import AnthropicAssistant
        from sre_copilot.adapters.anthropic_narrator import narrate

        assistant = container.assistant()
        if not isinstance(assistant, AnthropicAssistant):  # the narrator speaks to Anthropic's API only
            return None
        return narrate(assistant.client, assistant.model, render_postmortem(facts))
    except Exception:  # prose is optional; the deterministic draft stands alone
        return None
