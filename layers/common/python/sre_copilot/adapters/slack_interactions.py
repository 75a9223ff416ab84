"""Reading Slack's interactive requests: card button clicks (block_actions) and slash commands.

Both arrive form-encoded and signed; `verify_slack_request` checks the signature first.
"""

from __future__ import annotations

import json
from typing import Literal
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict

from sre_copilot.errors import InvalidPayload
from sre_copilot.messages.slack import (
    ACK_ACTION_ID,
    APPROVE_ACTION_ID,
    CONFIRM_HYPOTHESIS_ACTION_ID,
    REJECT_ACTION_ID,
    REJECT_HYPOTHESIS_ACTION_ID,
    RESOLVE_ACTION_ID,
)

CardActionKind = Literal["approve", "reject", "acknowledge", "resolve", "confirm_hypothesis", "reject_hypothesis"]
_KINDS: dict[str, CardActionKind] = {
    APPROVE_ACTION_ID: "approve", REJECT_ACTION_ID: "reject", ACK_ACTION_ID: "acknowledge",
    RESOLVE_ACTION_ID: "resolve", CONFIRM_HYPOTHESIS_ACTION_ID: "confirm_hypothesis",
    REJECT_HYPOTHESIS_ACTION_ID: "reject_hypothesis",
}


class CardAction(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: CardActionKind
    incident_id: str
    ref: str = ""  # the plan id (approve/reject) or hypothesis id (confirm/reject hypothesis)
    user: str
    user_name: str | None = None


class SlashCommand(BaseModel):
    model_config = ConfigDict(frozen=True)

    command: str
    text: str
    user: str
    channel: str | None = None
    team: str | None = None  # the workspace (team_id) the command came from
    response_url: str | None = None  # where a follow-up answer may be posted (30 min, 5 times)


def _form(raw: bytes) -> dict[str, list[str]]:
    try:
        return parse_qs(raw.decode("utf-8"), strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise InvalidPayload("a Slack request body is form-encoded UTF-8") from exc


def parse_card_action(raw: bytes) -> CardAction:
    try:
        payload = json.loads(_form(raw)["payload"][0])
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidPayload("a Slack interaction is a form body with a JSON 'payload' field") from exc
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        kind = payload.get("type") if isinstance(payload, dict) else type(payload).__name__
        raise InvalidPayload(f"expected a block_actions interaction, got {kind!r}")
    action = next((a for a in payload.get("actions") or []
                   if isinstance(a, dict) and a.get("action_id") in _KINDS), None)
    if action is None:
        raise InvalidPayload("the interaction holds no button click of the incident card")
    incident_id, _, ref = str(action.get("value", "")).partition("|")
    kind = _KINDS[str(action["action_id"])]
    if not incident_id or (kind not in ("acknowledge", "resolve") and not ref):
        raise InvalidPayload("the button value must be '<incident id>|<plan or hypothesis id>'")
    user = payload.get("user")
    if not isinstance(user, dict) or not user.get("id"):
        raise InvalidPayload("the interaction does not say which Slack user clicked")
    name = user.get("username") or user.get("name")
    return CardAction(kind=kind, incident_id=incident_id, ref=ref, user=str(user["id"]),
                      user_name=str(name) if name else None)


def parse_slash_command(raw: bytes) -> SlashCommand:
    form = _form(raw)
    command = (form.get("command") or [""])[0]
    user = (form.get("user_id") or [""])[0]
    if not command.startswith("/") or not user:
        raise InvalidPayload("a slash command needs 'command' and 'user_id' fields")
    return SlashCommand(command=command, text=(form.get("text") or [""])[0].strip(), user=user,
                        channel=(form.get("channel_id") or [""])[0] or None,
                        team=(form.get("team_id") or [""])[0] or None,
                        response_url=(form.get("response_url") or [""])[0] or None)
