"""The demo's story: progress, incident card, hypotheses with factors, what people received, actions."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

from sre_copilot.cli import history as history_view

FACTOR_LABELS = {"signal_strength": "signal strength", "temporal_correlation": "temporal correlation",
                 "precedent_frequency": "precedent frequency", "evidence_quality": "evidence quality",
                 "human_validation": "human validation"}


WIDTH = 100
_PREFIX = re.compile(r"^[\s│┃┌└·•\d.]*?(?=[^\s│┃┌└·•])")
MODE_NOTE = ("This demo acts live (dry_run: false) on a local simulated Kubernetes cluster, so the approved "
             "rollback really runs there. A deployed copilot defaults to dry_run: true: it plans, asks and "
             "changes nothing until you opt in.")


def fit(text: str, width: int = WIDTH) -> str:
    """Wrap every line to `width`, continuing under the line's own prefix (box rules, bullets)."""
    out: list[str] = []
    for line in text.splitlines():
        if len(line) <= width:
            out.append(line)
            continue
        match = _PREFIX.match(line)
        prefix = match.group(0) if match else ""
        indent = "".join(c if c in "│┃" else " " for c in prefix) + "  "
        out += textwrap.wrap(line, width=width, subsequent_indent=indent, break_long_words=True,
                             break_on_hyphens=False) or [line[:width]]
    return "\n".join(out)


def narrate(run: Any, state_dir: Path | None = None) -> str:
    r = run.result
    titles = {s["id"]: s.get("title") or s["id"] for s in r["signals"]}
    out = ["", f"Ingested {len(r['signals'])} signals ({len(r['rejected'])} rejected, {len(r['ignored'])} ignored) "
           f"into {len(r['incidents'])} incident(s).", ""]
    for incident in r["incidents"]:
        out += _card(incident, titles)
        events = run.histories.get(incident["id"], [])
        if events:
            out += ["", "  Incident workflow (Step Functions, simulated time), one line per state:"]
            out += ["  " + line for line in history_view.render(
                incident["id"], history_view.state_rows(events), "", WIDTH - 2).splitlines()[2:]]
        paging = getattr(run, "paging_histories", {}).get(incident["id"], [])
        if paging:
            out += ["", "  Paging and escalation (statemachines/escalation.asl.json), one line per state:"]
            out += ["  " + line for line in history_view.render(
                incident["id"], history_view.state_rows(paging), "", WIDTH - 2).splitlines()[2:]]
        out.append("")
    if run.transcript:
        out += ["What Slack, the phone and PagerDuty received (local sinks). The Slack card is posted once",
                "and edited in place: it is shown as it reads now, with its buttons, then its thread.", "",
                run.transcript]
    if run.dead_letters:
        out += ["", f"Dead letters: {len(run.dead_letters)}"]
    for incident_id, document in getattr(run, "postmortems", {}).items():
        out += [""]
        if state_dir is not None:
            path = state_dir / "postmortems" / f"{incident_id}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(document)
            out += [f"Postmortem of {incident_id} (also written to {path}):"]
        else:
            out += [f"Postmortem of {incident_id}:"]
        out += ["", document.rstrip()]
    return fit("\n".join(out))


def _named(text: str, titles: dict[str, str]) -> str:
    from sre_copilot.messages.text import name_alerts

    return name_alerts(text, titles)


def _notified(notifications: list[dict[str, Any]]) -> list[str]:
    """Counts per channel, kind and outcome: the full list is in the result file."""
    counts: dict[tuple[str, str, str, str], int] = {}
    for n in notifications:
        key = (n["channel"], n["kind"], n["target"], n["status"])
        counts[key] = counts.get(key, 0) + 1
    return [f"│ notified: {channel} {kind} → {target}: {status}{f' x{count}' if count > 1 else ''}"
            for (channel, kind, target, status), count in sorted(counts.items())]


def _card(incident: dict[str, Any], titles: dict[str, str]) -> list[str]:
    lines = [f"┌ {incident['id']}  {incident['priority']}  state {incident['state']}  decision {incident['decision']}",
             f"│ execution: {incident.get('execution', '').rsplit(':', 1)[-1]}"]
    counts: dict[str, int] = {}
    for signal_id in incident["signal_ids"]:
        counts[titles.get(signal_id, signal_id)] = counts.get(titles.get(signal_id, signal_id), 0) + 1
    lines.append(f"│ alerts ({len(incident['signal_ids'])}): " + "; ".join(
        f"{title}{f' x{n}' if n > 1 else ''}" for title, n in counts.items()))
    lines.append("│ why each alert is in this incident:")
    for g in incident.get("grouping", []):
        path = " → ".join(g.get("path") or [])
        title = titles.get(g.get("signal_id", ""), g.get("signal_id"))
        lines.append(f"│  · {title} [{g.get('rule')}]: {_named(str(g.get('evidence')), titles)}"
                     f"{'  (path ' + path + ')' if path else ''}")
    lines.append("│ hypotheses:")
    for h in incident["hypotheses"][:3]:
        low, high = h.get("confidence_range") or (0, 0)
        change = f" via {h['change_id']}" if h.get("change_id") else ""
        lines.append(f"│  {h['rank']}. {h['entity']} ({h['entity_kind']}) — {h['fault']}{change}: "
                     f"{h['confidence']:.2f} [{low:.2f}-{high:.2f}]"
                     + (f" calibrated (raw score {h['raw_confidence']:.2f})" if h.get("raw_confidence") is not None
                        else ""))
        factors = h.get("factors") or {}
        lines.append("│     " + ", ".join(f"{FACTOR_LABELS.get(k, k)} {v:.2f}" for k, v in factors.items()))
        if h.get("summary"):
            lines.append(f"│     {h['summary']}")
    rec = incident.get("recommendation")
    if rec:
        lines.append(f"│ recommendation: {rec['action']} {rec['target']} (risk {rec['risk']}, runbook {rec['runbook']})")
    for a in incident.get("actions", []):
        lines.append(f"│ action: {a['action']} {a['target']} approval={a['approval']} status={a['status']} "
                     f"dry_run={a['dry_run']}")
    lines += _notified(incident.get("notifications", []))
    lines.append("│ timeline: " + " → ".join(f"{t['state']}@{t['at'][11:19]}" for t in incident["timeline"]))
    if incident.get("postmortem"):
        lines.append(f"│ postmortem: {incident['postmortem']}")
    lines.append("└")
    return lines

