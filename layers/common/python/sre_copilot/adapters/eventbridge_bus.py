"""EventBus on the custom EventBridge bus: lifecycle transitions and other facts for subscribers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sre_copilot.adapters import aws_clients
from sre_copilot.adapters.s3_blobs import json_default
from sre_copilot.errors import PayloadTooLarge, SreCopilotError
from sre_copilot.ports import clock
from sre_copilot.settings import Settings, get_settings

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

SOURCE = "sre-copilot"
MAX_ENTRY_BYTES = 262_144


class EventPublishFailed(SreCopilotError):
    """PutEvents answered but did not accept the entry (it reports failures per entry, not as an error)."""

    status = 502
    code = "event_publish_failed"


class EventBridgeBus:
    def __init__(self, settings: Settings | None = None, *, client: EventBridgeClient | None = None,
                 bus_name: str | None = None, source: str = SOURCE) -> None:
        self.settings = settings or get_settings()
        self._client = client
        self.bus_name = bus_name or self.settings.event_bus_name
        self.source = source

    @property
    def client(self) -> EventBridgeClient:
        # Created at first use: a function that never sends here pays no client at cold start.
        if self._client is None:
            self._client = aws_clients.events(self.settings)
        return self._client

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        body = json.dumps(detail, separators=(",", ":"), ensure_ascii=False, default=json_default)
        size = len(body.encode("utf-8")) + len(detail_type.encode("utf-8")) + len(self.source)
        if size > MAX_ENTRY_BYTES:
            raise PayloadTooLarge(f"'{detail_type}' event is {size} bytes; EventBridge takes {MAX_ENTRY_BYTES}: "
                                  "publish a reference (an S3 URI) instead of the document")
        # The event time is the simulated clock's under the local runtime, so subscribers see scenario time.
        entry: PutEventsRequestEntryTypeDef = {"Source": self.source, "DetailType": detail_type, "Detail": body,
                                 "EventBusName": self.bus_name, "Time": clock.now()}
        try:
            response = self.client.put_events(Entries=[entry])
        except ClientError as exc:
            aws_clients.raise_domain_error(exc, action=f"publishing '{detail_type}'",
                                           resource=f"event bus {self.bus_name}", setting="SRE_COPILOT_EVENT_BUS_NAME")
        if response.get("FailedEntryCount", 0):
            failed: dict[str, Any] = next((dict(e) for e in response.get("Entries", []) if e.get("ErrorCode")), {})
            raise EventPublishFailed(
                f"EventBridge rejected the '{detail_type}' event on bus {self.bus_name} "
                f"({failed.get('ErrorCode', 'unknown')}: {failed.get('ErrorMessage', '')}); "
                "check the bus exists and the function may events:PutEvents on it, then retry"
            )
