"""People-facing channels: chat, phone, and the incident-management tool."""

from __future__ import annotations

from typing import Protocol


class ChatNotifier(Protocol):
    def post(self, channel: str, text: str, blocks: list[dict[str, object]] | None = None,
             thread_ts: str | None = None) -> str:
        """Post a message; return the provider's message id (Slack ts)."""
        ...


class PhonePager(Protocol):
    def call(self, to: str, message: str, callback_url: str) -> str:
        """Place a voice call that asks for a keypress; return the call SID."""
        ...


class IncidentManagementSync(Protocol):
    def acknowledge(self, external_id: str, note: str | None = None) -> None: ...
    def resolve(self, external_id: str, note: str | None = None) -> None: ...
    def add_note(self, external_id: str, note: str) -> None: ...
