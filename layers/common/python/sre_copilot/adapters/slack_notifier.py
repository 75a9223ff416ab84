"""Slack: post and update incident cards with slack_sdk's WebClient; verify and read button clicks.

Interactivity requests are signed with the app's signing secret (v0 HMAC-SHA256 over
"v0:{timestamp}:{body}") and must be rejected when the timestamp is more than five minutes from
now, which stops replays of a captured approval.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.signature import Clock, SignatureVerifier

from sre_copilot.errors import ConfigurationError, InvalidPayload, MalformedSignature, Unauthorized
from sre_copilot.messages.slack import APPROVE_ACTION_ID, REJECT_ACTION_ID

REPLAY_WINDOW_S = 300


class SlackNotifier:
    """`ChatNotifier` over the Slack Web API."""

    def __init__(self, token: str, base_url: str | None = None, timeout_s: int = 10) -> None:
        # Retries with backoff for 5xx, 429 (honouring Retry-After) and dropped connections.
        retries = [ServerErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=1),
                   ConnectionErrorRetryHandler(max_retry_count=2)]
        kwargs: dict[str, Any] = {"token": token, "timeout": timeout_s, "retry_handlers": retries}
        if base_url:
            # WebClient joins method names onto the base URL, so it must end with a slash.
            kwargs["base_url"] = base_url if base_url.endswith("/") else base_url + "/"
        self.client = WebClient(**kwargs)

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None,
             thread_ts: str | None = None) -> str:
        response = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks or None,
                                                thread_ts=thread_ts, unfurl_links=False)
        return str(response["ts"])

    def open_channel(self, name: str, invite: list[str]) -> str:
        """Create a public channel for one incident and invite the on-call; returns its id. A name
        already taken (a retried step) is reused rather than failing the page."""
        from slack_sdk.errors import SlackApiError

        try:
            channel_id = str(self.client.conversations_create(name=name, is_private=False)["channel"]["id"])
        except SlackApiError as exc:
            if exc.response.get("error") != "name_taken":
                raise
            found = self.client.conversations_list(types="public_channel", limit=1000)
            channel_id = next(str(c["id"]) for c in found["channels"] if c.get("name") == name)
        if invite:
            self.client.conversations_invite(channel=channel_id, users=",".join(invite))
        return channel_id

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        """`blocks=None` keeps the message's blocks (Slack's rule when the field is absent); [] removes them."""
        self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)

    def usergroup_members(self, group: str) -> list[str]:
        return [str(u) for u in self.client.usergroups_users_list(usergroup=group)["users"]]


class _FixedClock(Clock):
    """Lets the verifier judge freshness against our clock (simulated in replay) instead of time.time()."""

    def __init__(self, now: datetime) -> None:
        self._now = now.timestamp()

    def now(self) -> float:
        return self._now


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def verify_slack_request(headers: Mapping[str, str], raw_body: bytes, signing_secret: str, now: datetime) -> None:
    """Raise `Unauthorized` unless Slack signed this body within the last five minutes."""
    if not signing_secret:
        raise ConfigurationError("the Slack signing secret is empty; set signing_secret in the slack secret")
    timestamp = _header(headers, "x-slack-request-timestamp")
    signature = _header(headers, "x-slack-signature")
    if not timestamp or not signature:
        raise Unauthorized("missing X-Slack-Request-Timestamp or X-Slack-Signature; only Slack may call this URL")
    if not timestamp.strip().isdigit():
        raise MalformedSignature(f"X-Slack-Request-Timestamp {timestamp!r} is not epoch seconds")
    if not signature.startswith("v0="):
        raise MalformedSignature("X-Slack-Signature must start with 'v0='")
    if abs(now.timestamp() - int(timestamp)) > REPLAY_WINDOW_S:
        raise Unauthorized("the Slack request timestamp is more than 5 minutes from now (replayed or clock skew)")
    verifier = SignatureVerifier(signing_secret, clock=_FixedClock(now))
    if not verifier.is_valid(body=raw_body, timestamp=timestamp.strip(), signature=signature):
        raise Unauthorized("the Slack signature does not match the body; check the app's signing secret")


class ApprovalAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    incident_id: str
    plan_id: str
    approved: bool
    user: str  # Slack user id: stable, so the audit trail still names the person after a rename
    user_name: str | None = None


def parse_interaction(raw_body: bytes) -> ApprovalAnswer:
    """Read an Approve/Reject click from Slack's form-encoded `payload=<json>` body."""
    try:
        form = parse_qs(raw_body.decode("utf-8"), strict_parsing=False)
        payload = json.loads(form["payload"][0])
    except (UnicodeDecodeError, KeyError, IndexError, ValueError) as exc:
        raise InvalidPayload("a Slack interaction is a form body with a JSON 'payload' field") from exc
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        kind = payload.get("type") if isinstance(payload, dict) else type(payload).__name__
        raise InvalidPayload(f"expected a block_actions interaction, got {kind!r}")
    actions = payload.get("actions") or []
    action = next((a for a in actions if isinstance(a, dict)
                   and a.get("action_id") in (APPROVE_ACTION_ID, REJECT_ACTION_ID)), None)
    if action is None:
        raise InvalidPayload("the interaction holds no approve or reject button click")
    incident_id, sep, plan_id = str(action.get("value", "")).partition("|")
    if not sep or not incident_id or not plan_id:
        raise InvalidPayload("the button value must be '<incident id>|<plan id>'")
    user = payload.get("user")
    if not isinstance(user, dict) or not user.get("id"):
        raise InvalidPayload("the interaction does not say which Slack user clicked")
    name = user.get("username") or user.get("name")
    return ApprovalAnswer(incident_id=incident_id, plan_id=plan_id, approved=action["action_id"] == APPROVE_ACTION_ID,
                          user=str(user["id"]), user_name=str(name) if name else None)
