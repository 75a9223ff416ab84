"""The incident as a Teams Adaptive Card and as an email: the fallback when Slack cannot be reached."""

from __future__ import annotations

from typing import Any

from sre_copilot.domain.incident import Incident
from sre_copilot.domain.reasoning import Hypothesis
from sre_copilot.messages.text import confidence_phrase, hypothesis_title, ranked, truncate


def _lines(incident: Incident) -> tuple[str, list[str]]:
    hypotheses = ranked(Hypothesis.model_validate(h) for h in incident.hypotheses)[:3]
    title = f"[{incident.priority.value}] {incident.title}"
    lines = [f"State {incident.state.value} · service {incident.service or 'unknown'} · incident {incident.id}"]
    lines += [f"{n}. {hypothesis_title(h)}: {confidence_phrase(h)}" for n, h in enumerate(hypotheses, start=1)]
    rec = incident.recommendation or {}
    if rec:
        lines.append(f"Recommended: {rec.get('action')} {rec.get('target')} (risk {rec.get('risk')}); "
                     "approve or reject in Slack or with the copilot's API")
    return title, lines


def adaptive_card(incident: Incident, link: str, why: str) -> dict[str, Any]:
    """An incoming-webhook message carrying one Adaptive Card (schema 1.4)."""
    title, lines = _lines(incident)
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": truncate(title, 300), "weight": "Bolder", "size": "Medium", "wrap": True,
         "color": "Attention" if incident.priority.value in ("P0", "P1") else "Default"},
        {"type": "TextBlock", "text": why, "isSubtle": True, "wrap": True},
        *({"type": "TextBlock", "text": truncate(line, 500), "wrap": True} for line in lines),
    ]
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                    "version": "1.4", "body": body,
                    "actions": [{"type": "Action.OpenUrl", "title": "Open the execution", "url": link}]}}]}


def email(incident: Incident, link: str, why: str) -> tuple[str, str]:
    title, lines = _lines(incident)
    return title, "\n".join([title, "", why, "", *lines, "", link])
