"""Slack's two ways in: card buttons and the `/sre` slash command.

Slack gives an interactive request 3 seconds. Each handler verifies the signature (no signing
secret configured: refused), checks the user's rights, records the click, and hands the work on: a
lifecycle move publishes on the bus (the card is edited by the transition handler), an approval
resumes the parked execution with `SendTaskSuccess` (Step Functions then runs Act and Verify
asynchronously). Nothing slow (remediation, Slack edits, phone calls) runs inside the request.

Approve and Reject go through `approval_service.decide_approval`, the one approval path (approvers
from the run-time controls, workspace, two-person rule, expiry, conditional write; a refusal is an
ephemeral answer and an audit record). The other buttons need a responder
(`approvers.authorise_responder`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sre_copilot.actions.approvers import ApproverIdentity, slack_team
from sre_copilot.adapters.slack_interactions import (
    CardAction,
    SlashCommand,
    parse_card_action,
    parse_slash_command,
)
from sre_copilot.adapters.slack_notifier import verify_slack_request
from sre_copilot.deployment_routes import QUESTION_DETAIL_TYPE
from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.notification import AuditRecord
from sre_copilot.domain.reasoning import Hypothesis
from sre_copilot.domain.types import format_time
from sre_copilot.errors import InvalidPayload, InvalidTransition, NotFound, SourceNotConfigured
from sre_copilot.messages.slack import age_text
from sre_copilot.messages.text import confidence_phrase, hypothesis_title, ranked
from sre_copilot.ports import clock
from sre_copilot.services import lifecycle, tenancy
from sre_copilot.services.approval_service import decide_approval
from sre_copilot.services.approvers import ResponderAction, authorise_responder, current_approvers
from sre_copilot.services.container import Container
from sre_copilot.services.correlate_service import CorrelateService
from sre_copilot.services.living_card import grouping_evidence
from sre_copilot.services.observability import logger

USAGE = ("Usage: `/sre status [service]` · `/sre incidents` · `/sre ack <incident id>` · "
         "`/sre ask <question>` · `/sre confirm|reject <incident id> [rank]`")
_NEEDS: dict[str, ResponderAction] = {"acknowledge": "acknowledge", "resolve": "resolve",
                                      "confirm_hypothesis": "validate", "reject_hypothesis": "validate"}


class SlackActions:
    def __init__(self, container: Container) -> None:
        self.c = container
        self.tenant = tenancy.current(container.settings.tenant_id)

    def _verify(self, headers: Mapping[str, str], raw: bytes) -> None:
        signing_secret = self.c.slack_signing_secret()
        if not signing_secret:
            raise SourceNotConfigured("source not configured: no Slack signing secret is configured, so Slack "
                                      "callbacks are refused")
        verify_slack_request(headers, raw, signing_secret, clock.now())

    def _authorise(self, who: ApproverIdentity, action: ResponderAction) -> None:
        authorise_responder(self.c.secret("slack"), current_approvers(self.c.controls), who, action)

    def _slack_group_members(self, group: str) -> list[str]:
        try:
            return self.c.slack().usergroup_members(group)
        except Exception as exc:  # unknown membership is no membership: fail closed
            logger.warning("cannot list Slack user group", extra={"group": group, "error": str(exc)})
            return []

    def _incident(self, incident_id: str) -> Incident:
        incident = self.c.store.get_incident(self.tenant, incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        return incident

    def _audit(self, who: str, action: str, incident_id: str, details: dict[str, object]) -> None:
        self.c.store.append(AuditRecord(at=clock.now(), tenant_id=self.tenant, actor=who, action=action,
                                        subject=incident_id, details=details))

    # -- card buttons ----------------------------------------------------------------------------
    def card_action(self, headers: Mapping[str, str], raw: bytes) -> dict[str, object]:
        self._verify(headers, raw)
        click = parse_card_action(raw)
        # The card names only the incident: its tenant is the served tenant that holds it.
        self.tenant = tenancy.tenant_of_incident(self.c, click.incident_id)
        with tenancy.scope(self.tenant):
            return self._card_action(click, ApproverIdentity("slack", click.user, slack_team(raw)))

    def _card_action(self, click: CardAction, identity: ApproverIdentity) -> dict[str, object]:
        if click.kind in ("approve", "reject"):
            return decide_approval(self.c, click.incident_id, click.ref, approved=click.kind == "approve",
                                   who=identity, group_members=self._slack_group_members)
        incident = self._incident(click.incident_id)
        self._authorise(identity, _NEEDS[click.kind])
        who = identity.actor
        if click.kind == "acknowledge":
            return {"text": self._acknowledge(incident, who, "acknowledged in Slack")}
        if click.kind == "resolve":
            moved = self._move(incident, IncidentState.RESOLVED, who, "resolved in Slack")
            CorrelateService(self.c).wake(incident.id, "resolved")
            return {"text": f"{incident.id} resolved by <@{click.user}>" if moved else
                    f"{incident.id} is already {incident.state.value}"}
        return self._validate(incident, click, who)

    def _move(self, incident: Incident, to: IncidentState, who: str, reason: str) -> bool:
        try:
            return lifecycle.move_if_allowed(self.c, incident, to, actor=who, reason=reason)
        except InvalidTransition:
            return False

    def _acknowledge(self, incident: Incident, who: str, reason: str) -> str:
        from sre_copilot.services.escalation import acknowledge

        if acknowledge(self.c, incident, who, reason):
            return f"{incident.id} acknowledged by {who}; paging stops"
        return f"{incident.id} is already acknowledged or closed ({incident.state.value})"

    def _validate(self, incident: Incident, click: CardAction, who: str) -> dict[str, object]:
        found = next((h for h in incident.hypotheses if h.get("id") == click.ref), None)
        if found is None:
            raise NotFound(f"hypothesis {click.ref} is not among those shown for {incident.id}")
        return {"text": self._verdict(incident, int(str(found.get("rank") or 0)),
                                      click.kind == "confirm_hypothesis", who)}

    def _verdict(self, incident: Incident, rank: int, accepted: bool, who: str) -> str:
        """One path for every verdict (services/feedback.py): factor 5 by fault, service and kind; a
        confirmed cause on the incident and in the precedent corpus; audited; counted once."""
        from sre_copilot.services.feedback import FeedbackService

        service = FeedbackService(self.c)
        outcome = (service.confirm if accepted else service.reject)(incident.id, actor=who, rank=rank)
        CorrelateService(self.c).wake(incident.id, "refresh")  # re-score with the verdict
        label = outcome.get("confirmed") or outcome.get("rejected")
        verb = "confirmed" if accepted else "rejected"
        return (f"{incident.id}: {label} {verb} by {who}" if outcome["counted"]
                else f"{incident.id}: {label} was already {verb}; nothing changed")

    # -- /sre --------------------------------------------------------------------------------------
    def slash_command(self, headers: Mapping[str, str], raw: bytes) -> dict[str, str]:
        self._verify(headers, raw)
        command = parse_slash_command(raw)
        verb, _, rest = command.text.partition(" ")
        verb, rest = verb.lower(), rest.strip()
        named = rest.split()[0] if verb in ("ack", "confirm", "reject") and rest else None
        self.tenant = tenancy.tenant_of_slack_command(self.c, command.channel, named)
        with tenancy.scope(self.tenant):
            return {"response_type": "ephemeral", "text": self._command(command, verb, rest)}

    def _command(self, command: SlashCommand, verb: str, rest: str) -> str:
        if verb == "status":
            text = self.status(rest or None)
        elif verb == "incidents":
            text = self.incidents()
        elif verb == "ack":
            if not rest:
                raise InvalidPayload("usage: /sre ack <incident id>")
            incident = self._incident(rest.split()[0])
            self._authorise(ApproverIdentity("slack", command.user, command.team), "acknowledge")
            text = self._acknowledge(incident, f"slack:{command.user}", "acknowledged with /sre ack")
        elif verb in ("confirm", "reject"):
            parts = rest.split()
            if not parts or (len(parts) > 1 and not parts[1].isdigit()):
                raise InvalidPayload(f"usage: /sre {verb} <incident id> [rank]")
            incident = self._incident(parts[0])
            self._authorise(ApproverIdentity("slack", command.user, command.team), "validate")
            text = self._verdict(incident, int(parts[1]) if len(parts) > 1 else 1, verb == "confirm",
                                 f"slack:{command.user}")
        elif verb == "ask":
            if not rest:
                raise InvalidPayload("usage: /sre ask <question>")
            text = self.ask(rest, user=command.user, response_url=command.response_url)
        else:
            text = USAGE
        return text

    def _open(self) -> list[Incident]:
        return sorted(self.c.store.open_incidents(self.tenant), key=lambda i: (i.priority.value, i.opened_at))

    def _line(self, incident: Incident) -> str:
        age = age_text((clock.now() - incident.opened_at).total_seconds())
        return (f"`{incident.id}` {incident.priority.value} {incident.state.value} "
                f"{incident.service or 'unknown'}: {incident.title} ({age} old)")

    def incidents(self) -> str:
        open_ = self._open()
        if not open_:
            return "No open incidents."
        return f"{len(open_)} open incident(s):\n" + "\n".join(f"• {self._line(i)}" for i in open_)

    def status(self, service: str | None) -> str:
        open_ = [i for i in self._open() if service is None or service in _services(i)]
        scope = f"on {service}" if service else "in total"
        if not open_:
            return f"No open incidents {scope}."
        lines = [f"{len(open_)} open incident(s) {scope}:"]
        for incident in open_:
            lines.append(f"• {self._line(incident)}")
            top = ranked(Hypothesis.model_validate(h) for h in incident.hypotheses)[:1]
            if top:
                lines.append(f"    likely: {hypothesis_title(top[0])}, {confidence_phrase(top[0])}")
        return "\n".join(lines)

    def ask(self, question: str, *, user: str = "", response_url: str | None = None) -> str:
        """Answer from the incident's evidence and hypotheses: the incident named in the question
        (by id or service), else the most severe open one. Deterministic: every sentence is read
        from stored analysis, nothing is generated. With an LLM configured, LLM prose over the same
        facts follows through `response_url` (services/slack_ask.py), after this answer."""
        from sre_copilot.services import slack_ask

        open_ = self._open()
        named = re.findall(r"inc-[A-Za-z0-9-]+", question)
        incident = (self.c.store.get_incident(self.tenant, named[0]) if named else None) or next(
            (i for i in open_ if any(s.lower() in question.lower() for s in _services(i))),
            open_[0] if open_ else None)
        if incident is None:
            return "No open incident to answer about; name one with its id."
        text = self.answer(incident)
        if slack_ask.llm_configured(self.c) and response_url and slack_ask.allowed_response_url(self.c, response_url):
            self.c.bus.publish(QUESTION_DETAIL_TYPE,
                               slack_ask.question_event(incident, question, user, response_url))
            text += "\n_An LLM answer over these facts follows in a moment._"
        return text

    def answer(self, incident: Incident) -> str:
        lines = [f"*{incident.id}* ({incident.priority.value}, {incident.state.value}, opened "
                 f"{format_time(incident.opened_at)}): {incident.title}"]
        hypotheses = ranked(Hypothesis.model_validate(h) for h in incident.hypotheses)[:3]
        if hypotheses:
            lines.append("Most likely causes, from the scored evidence:")
            lines += [f"{n}. {hypothesis_title(h)}, {confidence_phrase(h)}. {h.summary}"
                      for n, h in enumerate(hypotheses, start=1)]
        else:
            lines.append("No hypothesis yet: the evidence names no cause.")
        titles = {s.id: s.title for s in self.c.store.signals_for_incident(self.tenant, incident.id)}
        evidence = grouping_evidence(incident, titles)[:5]
        if evidence:
            lines.append("Evidence: " + "; ".join(evidence))
        rec = incident.recommendation or {}
        if rec:
            lines.append(f"Recommended: {rec.get('action')} {rec.get('target')} (risk {rec.get('risk')}).")
        return "\n".join(lines)


def _services(incident: Incident) -> list[str]:
    return incident.services or ([incident.service] if incident.service else [])
