"""Answers to a page call: key 3 (hear the likely cause and the action) and a call that never
connected (busy, no answer, failed), which falls back to SMS at once."""

from __future__ import annotations

from collections.abc import Mapping

from sre_copilot.domain.incident import Incident
from sre_copilot.domain.notification import AuditRecord
from sre_copilot.domain.reasoning import Hypothesis
from sre_copilot.messages.phone import details_message, details_twiml
from sre_copilot.messages.text import ranked
from sre_copilot.ports import clock
from sre_copilot.services.container import Container
from sre_copilot.services.escalation import send_sms, voice_callback_url
from sre_copilot.services.mutations import set_notification_status


def hear_details(c: Container, incident: Incident) -> str:
    hypotheses = ranked(Hypothesis.model_validate(h) for h in incident.hypotheses)
    rec = incident.recommendation or {}
    message = details_message(hypotheses[0] if hypotheses else None, rec.get("action"),  # type: ignore[arg-type]
                              rec.get("target"), rec.get("risk"))  # type: ignore[arg-type]
    return details_twiml(message, voice_callback_url(c, incident.id))


def call_failed(c: Container, incident: Incident, params: Mapping[str, str], status: str) -> str:
    """Twilio's status callback for a call nobody picked up: record it, text the same person."""
    number = params.get("To") or params.get("Called") or ""
    sid = params.get("CallSid")
    for notification in c.store.notifications_for(incident.tenant_id, incident.id):
        if notification.channel.value == "phone" and sid and notification.provider_id == sid:
            set_notification_status(c.store, incident.tenant_id, notification, status)
    c.store.append(AuditRecord(at=clock.now(), tenant_id=incident.tenant_id, actor=f"twilio:{sid or 'call'}",
                               action="page.call_failed", subject=incident.id,
                               details={"to": number, "status": status}))
    if number:
        send_sms(c, incident, number, f"the call ended {status}")
    return "<Response/>"
