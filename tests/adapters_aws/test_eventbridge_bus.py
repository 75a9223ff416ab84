"""EventBridgeBus: events reach the custom bus with our source; rejected entries raise."""

from __future__ import annotations

import json

import boto3
import pytest
from aws_test_support import REGION

from sre_copilot.adapters.eventbridge_bus import EventBridgeBus, EventPublishFailed
from sre_copilot.errors import ConfigurationError
from sre_copilot.local.clock import SimClock
from sre_copilot.settings import Settings


def test_published_event_reaches_the_bus(settings: Settings, clock: SimClock) -> None:
    # Given the custom bus with a rule forwarding our lifecycle events to a queue
    events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
    events.create_event_bus(Name="sre-copilot-test")
    url = sqs.create_queue(QueueName="lifecycle-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="tap", EventBusName="sre-copilot-test",
                    EventPattern=json.dumps({"source": ["sre-copilot"], "detail-type": ["Incident Lifecycle Transition"]}))
    events.put_targets(Rule="tap", EventBusName="sre-copilot-test", Targets=[{"Id": "q", "Arn": arn}])
    # When a transition is published
    detail = {"tenant_id": "acme", "incident_id": "inc-1", "from": None, "to": "DETECTED"}
    EventBridgeBus(settings).publish("Incident Lifecycle Transition", detail)
    # Then the subscriber gets it with our source, its detail, and the (simulated) event time
    [message] = sqs.receive_message(QueueUrl=url).get("Messages", [])
    event = json.loads(message["Body"])
    assert event["source"] == "sre-copilot" and event["detail-type"] == "Incident Lifecycle Transition"
    assert event["detail"] == detail
    assert event["time"].startswith("2024-05-14T09:00:00")


def test_entry_the_bus_refuses_raises(settings: Settings) -> None:
    # Given the bus
    boto3.client("events", region_name=REGION).create_event_bus(Name="sre-copilot-test")
    # When EventBridge reports the entry as failed (an empty detail type)
    # Then the failure is raised with EventBridge's reason instead of being dropped
    with pytest.raises(EventPublishFailed, match="InvalidArgument"):
        EventBridgeBus(settings).publish("", {"x": 1})


def test_missing_bus_is_a_configuration_error(settings: Settings) -> None:
    # Given no bus of that name
    # When an event is published
    # Then the error names the setting
    with pytest.raises(ConfigurationError, match="SRE_COPILOT_EVENT_BUS_NAME"):
        EventBridgeBus(settings).publish("Incident Lifecycle Transition", {})
