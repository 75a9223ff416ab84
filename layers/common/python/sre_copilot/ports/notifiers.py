"""People-facing channels: chat, phone, and the incident-management tool."""

from __future__ import annotations

from typing import Protocol


class ChatNotifier(Protocol):
    def post(self, channel: str, text: str, blocks: list[dict[str, object]] | None = None,
             thread_ts: str | None = None) -> str:
        """Post a message; return the provider's message id (Slack ts)."""
        ...

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, object]] | None = None) -> None:
        """Edit a posted message in place (the living incident card)."""
        ...

    def open_channel(self, name: str, invite: list[str]) -> str:
        """Create a channel for one incident, invite people; return the channel id."""
        ...

    def usergroup_members(self, group: str) -> list[str]:
        """The user ids in a user group (approver groups named by handle id)."""
        ...


class PhonePager(Protocol):
    def call(self, to: str, message: str, callback_url: str) -> str:
        """Place a voice call that asks for a keypress; return the call SID."""
        ...

    def sms(self, to: str, body: str) -> str:
        """Send a text message; return the message SID."""
        ...


class IncidentManagementSync(Protocol):
    def acknowledge(self, external_id: str, note: str | None = None) -> None: ...
    def resolve(self, external_id: str, note: str | None = None) -> None: ...
    def add_note(self, external_id: str, note: str) -> None: ...
