"""The embedded deployment is the synthesized one: same queues, event source mappings, bus rules
and functions. Both are built from one description (`sre_copilot.deployment_routes` over the
validated `cdk.json` context); these tests fail if either side stops using it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from infra_synth import Synthesized

from infra_cdk.config import FUNCTION_NAMES
from sre_copilot.local.runtime import BEHAVIOUR_SETTINGS, LocalDeployment

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def local() -> Iterator[LocalDeployment]:
    with LocalDeployment(start=datetime(2026, 1, 1, tzinfo=UTC)) as deployment:
        yield deployment


def _deployed_routes(s: Synthesized) -> dict[str, dict[str, Any]]:
    """Per priority, what AWS will do with the queue: its delay and redrive, and how Lambda polls it."""
    stack = s.built.stack
    queues = s.resources("AWS::SQS::Queue")
    mappings = {m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]: m["Properties"]
                for m in s.resources("AWS::Lambda::EventSourceMapping").values()}
    routes = {}
    for priority, pq in stack.queues.priority.items():
        queue = queues[s.logical_id(pq.queue)]["Properties"]
        mapping = mappings[s.logical_id(pq.queue)]
        routes[priority] = {
            "delivery_delay_s": queue.get("DelaySeconds", 0),
            "max_receive_count": queue["RedrivePolicy"]["maxReceiveCount"],
            "batch_size": mapping.get("BatchSize", 10),  # CloudFormation's default for SQS
            "batching_window_s": mapping.get("MaximumBatchingWindowInSeconds", 0),
            "max_concurrency": mapping.get("ScalingConfig", {}).get("MaximumConcurrency"),
        }
    return routes


def test_given_both_deployments_then_every_priority_queue_is_routed_the_same_way(
        synthesized: Synthesized, local: LocalDeployment) -> None:
    # Given the synthesized template and the embedded deployment
    deployed = _deployed_routes(synthesized)

    # When the embedded runtime's queue routes are read
    embedded = {r.priority: {"delivery_delay_s": r.delivery_delay_s, "max_receive_count": r.max_receive_count,
                             "batch_size": r.batch_size, "batching_window_s": r.batching_window_s,
                             "max_concurrency": r.max_concurrency} for r in local.queue_routes}

    # Then they are the template's, priority by priority
    assert embedded == deployed


def test_given_the_embedded_queues_then_moto_redrives_them_as_the_template_does(
        synthesized: Synthesized, local: LocalDeployment) -> None:
    deployed = _deployed_routes(synthesized)
    sqs = local.session.client("sqs")
    for priority, url in local.queue_urls.items():
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
        assert int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"]) == deployed[priority]["max_receive_count"]


def test_given_both_deployments_then_the_bus_routes_the_same_events_to_the_same_functions(
        synthesized: Synthesized, local: LocalDeployment) -> None:
    # Given the rules on the copilot's own bus in the template
    stack = synthesized.built.stack
    bus = synthesized.logical_id(stack.events.bus)
    function_by_arn = {json.dumps({"Fn::GetAtt": [synthesized.logical_id(f.function), "Arn"]}): name
                       for name, f in stack.functions.items()}
    deployed = set()
    for rule in synthesized.resources("AWS::Events::Rule").values():
        props = rule["Properties"]
        if props.get("EventBusName") != {"Ref": bus} or "EventPattern" not in props:
            continue
        for detail_type in props["EventPattern"]["detail-type"]:
            for target in props["Targets"]:
                deployed.add((detail_type, function_by_arn[json.dumps(target["Arn"])]))

    # When the embedded deployment's rules are read back from (moto) EventBridge
    events = local.session.client("events")
    name_by_arn = {arn: name for name, arn in local.function_arns.items()}
    embedded = set()
    for rule in events.list_rules(EventBusName="sre-copilot")["Rules"]:
        for detail_type in json.loads(rule["EventPattern"])["detail-type"]:
            for target in events.list_targets_by_rule(Rule=rule["Name"], EventBusName="sre-copilot")["Targets"]:
                embedded.add((detail_type, name_by_arn[target["Arn"]]))

    # Then the same event types reach the same functions
    assert embedded == deployed


def test_every_function_the_embedded_runtime_runs_is_deployed(local: LocalDeployment) -> None:
    assert set(local.function_arns) <= set(FUNCTION_NAMES)


def test_given_both_deployments_then_functions_behave_by_the_same_settings(
        synthesized: Synthesized, local: LocalDeployment) -> None:
    # Given the behaviour settings the template gives its functions (timeouts, resolution policy)
    names = [f"SRE_COPILOT_{key.upper()}" for key in BEHAVIOUR_SETTINGS]
    deployed: dict[str, set[str]] = {name: set() for name in names}
    for resource in synthesized.resources("AWS::Lambda::Function").values():
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        for name in names:
            if name in variables:
                deployed[name].add(str(variables[name]))
    # When the embedded deployment's functions read theirs
    embedded = {name: {os.environ[name]} for name in names}
    # Then each has one value everywhere, and it is the same
    assert embedded == deployed
