"""The notification engine's rules for one send: rate limit, retries with backoff, a record of
every attempt, and the final outcome as a `Notification`.

Slack's own client retries 5xx, 429 and connection errors (slack_sdk retry handlers); phone, SMS,
email and Teams sends go through `deliver`. When a channel gives up, the caller falls back:
a call that cannot be placed becomes an SMS, a Slack card that cannot be posted goes to Teams and
email (`fallback_chat`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from botocore.exceptions import ClientError

from sre_copilot.adapters.dynamodb_store import marshal, tenant_key
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.json_types import as_object, strings
from sre_copilot.domain.notification import AuditRecord, Notification
from sre_copilot.domain.types import Channel, NotificationKind
from sre_copilot.ports import clock
from sre_copilot.services.container import Container
from sre_copilot.services.ids import short_hash
from sre_copilot.services.mutations import record_notification
from sre_copilot.services.observability import logger

ATTEMPTS = 3
BACKOFF_S = 0.5  # then 1 s: a page must not wait long for a channel that is down
# Sends per target per minute: beyond this a storm is paging one person in a loop.
RATE_PER_MINUTE: dict[Channel, int] = {Channel.PHONE: 6, Channel.SMS: 6, Channel.EMAIL: 20, Channel.TEAMS: 20,
                                       Channel.SLACK: 60, Channel.PAGERDUTY: 60}
Sleep = Callable[[float], None]


def within_rate(c: Container, tenant_id: str, channel: Channel, target: str) -> bool:
    """Count one send for (channel, target) in this minute; False once the minute's budget is spent."""
    minute = clock.now().strftime("%Y%m%dT%H%M")
    limit = RATE_PER_MINUTE.get(channel, 20)
    try:
        c.store.client.update_item(
            TableName=c.store.table_name,
            Key=marshal(tenant_key(tenant_id, f"RATE#{channel.value}#{target}#{minute}")),
            UpdateExpression="ADD sends :one SET item_type = :kind, #ttl = :ttl",
            ConditionExpression="attribute_not_exists(sends) OR sends < :limit",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues=marshal({":one": 1, ":limit": limit, ":kind": "rate_counter",
                                               ":ttl": int(clock.now().timestamp()) + 3600}))
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise


def deliver(c: Container, incident: Incident, channel: Channel, target: str, kind: NotificationKind, text: str,
            send: Callable[[], str], *, sleep: Sleep = time.sleep, attempts: int = ATTEMPTS) -> Notification:
    """Send with retries and backoff; every attempt is audited, the outcome is recorded."""
    if not within_rate(c, incident.tenant_id, channel, target):
        _attempt(c, incident, channel, target, 0, "rate_limited", f"over {RATE_PER_MINUTE.get(channel)} per minute")
        return _record(c, incident, channel, target, kind, "rate_limited", text)
    error = ""
    for attempt in range(1, attempts + 1):
        try:
            provider_id = send()
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            logger.warning("send failed", extra={"channel": channel.value, "attempt": attempt, "error": error})
            _attempt(c, incident, channel, target, attempt, "failed", error)
            if attempt < attempts:
                sleep(BACKOFF_S * 2 ** (attempt - 1))
            continue
        _attempt(c, incident, channel, target, attempt, "sent", "")
        return _record(c, incident, channel, target, kind, "sent", text, provider_id)
    return _record(c, incident, channel, target, kind, "failed", f"{text} ({error})")


def _attempt(c: Container, incident: Incident, channel: Channel, target: str, attempt: int, status: str,
             error: str) -> None:
    c.store.append(AuditRecord(at=clock.now(), tenant_id=incident.tenant_id, actor="copilot:notify",
                               action=f"notify.attempt.{channel.value}", subject=incident.id,
                               details={"target": target, "attempt": attempt, "status": status, "error": error}))


def _record(c: Container, incident: Incident, channel: Channel, target: str, kind: NotificationKind, status: str,
            text: str, provider_id: str | None = None) -> Notification:
    now = clock.now()
    notification = Notification(
        id=f"ntf-{short_hash(incident.id, channel, kind, target, now.isoformat(), status)}",
        incident_id=incident.id, at=now, channel=channel, target=target, kind=kind, status=status,
        text=text[:4000], provider_id=provider_id)
    record_notification(c.store, incident.tenant_id, notification)
    return notification


def fallback_chat(c: Container, incident: Incident, why: str, *, sleep: Sleep = time.sleep) -> list[Notification]:
    """Slack could not take the card: send it to Teams and by email, where configured (the slack
    secret's `fallback`: `teams_webhook_url`, `email_to`)."""
    from sre_copilot.messages.teams import adaptive_card, email
    from sre_copilot.services.escalation import incident_link

    fallback = as_object(c.secret("slack").get("fallback"))
    link = incident_link(c, incident)
    sent: list[Notification] = []
    url = fallback.get("teams_webhook_url")
    if url:
        from sre_copilot.adapters.teams_webhook import TeamsWebhook

        card = adaptive_card(incident, link, why)
        sent.append(deliver(c, incident, Channel.TEAMS, "teams-webhook", NotificationKind.PAGE, why,
                            lambda: TeamsWebhook(str(url)).post(card), sleep=sleep))
    recipients = strings(fallback.get("email_to"))
    if recipients:
        from sre_copilot.adapters import aws_clients
        from sre_copilot.adapters.ses_email import SesEmailer

        subject, body = email(incident, link, why)
        mailer = SesEmailer(aws_clients.client("ses", c.settings.region), c.settings.email_from)
        sent.append(deliver(c, incident, Channel.EMAIL, ",".join(recipients), NotificationKind.PAGE, subject,
                            lambda: mailer.send(recipients, subject, body), sleep=sleep))
    return sent
