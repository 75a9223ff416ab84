"""Postmortem draft (Markdown) assembled from the stored timeline, hypotheses, actions and notices."""

from __future__ import annotations

from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.notification import AuditRecord, Notification
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import format_time


def render_postmortem(incident: Incident, signals: list[Signal], actions: list[ActionPlan],
                      notifications: list[Notification], audit: list[AuditRecord]) -> str:
    lines = [f"# Postmortem draft: {incident.title}", "",
             f"- Incident: `{incident.id}` ({incident.priority.value}), state {incident.state.value}",
             f"- Services: {', '.join(incident.services) or 'unknown'}",
             f"- Opened: {format_time(incident.opened_at)}"]
    if (mtta := incident.mtta_seconds()) is not None:
        lines.append(f"- Time to acknowledge: {mtta / 60:.1f} min")
    if (mttr := incident.mttr_seconds()) is not None:
        lines.append(f"- Time to resolve: {mttr / 60:.1f} min")
    lines += ["", "## Timeline", ""]
    lines += [f"- {format_time(t.at)} {t.state.value} by {t.actor}: {t.reason}" for t in incident.timeline]
    lines += ["", "## Signals", ""]
    lines += [f"- {format_time(s.event_time)} [{s.source}] {s.status.value} {s.title} "
              f"({s.entity or s.service or 'unresolved'})" for s in sorted(signals, key=lambda s: s.event_time)]
    lines += ["", "## Hypotheses (deterministic confidence)", ""]
    for h in incident.hypotheses[:5]:
        lines.append(f"{h.get('rank')}. {h.get('entity')} — {h.get('fault')} — confidence {h.get('confidence')}"
                     f" {h.get('confidence_range')} factors {h.get('factors')}")
    lines += ["", "## Grouping", ""]
    lines += [f"- {g.signal_id}: {g.rule} — {g.evidence} {' → '.join(g.path)}" for g in incident.grouping]
    lines += ["", "## Actions", ""]
    lines += [f"- {a.action} {a.target}: approval {a.approval.value}, status {a.status.value}, dry_run={a.dry_run}"
              f" — {a.detail}" for a in actions] or ["- none"]
    lines += ["", "## Notifications", ""]
    lines += [f"- {format_time(n.at)} {n.channel.value} {n.kind.value} → {n.target}: {n.status}"
              for n in notifications] or ["- none"]
    lines += ["", "## Audit trail", "", f"{len(audit)} records; see the audit items of `{incident.id}`.", "",
              "## Follow-ups", "", "- [ ] Confirm the root cause and record it as validation feedback.",
              "- [ ] Review the alerting that fired and the grouping above."]
    return "\n".join(lines) + "\n"
