"""Routing policy (domain/routing.py): which channel and which phone an incident reaches, and how
long a plan waits for a human. Pure functions: no adapter, no settings object."""

from __future__ import annotations

from datetime import UTC, datetime

from sre_copilot.actions.policy import ActionPolicy, PolicyRule
from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.routing import oncall_phone_for, slack_channel_for, with_approval_timeout
from sre_copilot.domain.types import Priority

AT = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
CATALOG = Catalog.model_validate({"services": [
    {"name": "checkout", "oncall": {"slack": "#payments-oncall", "phone": "+15550111"}},
    {"name": "search", "oncall": {"pagerduty": "PSEARCH"}},
]})


def _incident(service: str | None) -> Incident:
    return Incident(id="inc-1", priority=Priority.P1, title="5xx on checkout", service=service,
                    opened_at=AT, updated_at=AT)


def test_a_service_with_an_oncall_channel_gets_that_channel() -> None:
    # Given a catalog whose checkout service names its Slack channel
    # When an incident of checkout is routed
    # Then it goes to that channel
    assert slack_channel_for(_incident("checkout"), CATALOG) == "#payments-oncall"


def test_a_service_without_a_channel_gets_its_incident_channel() -> None:
    # Given services the catalog knows without a channel, and one it does not know at all
    # When their incidents are routed
    # Then each goes to #inc-<service>
    assert slack_channel_for(_incident("search"), CATALOG) == "#inc-search"
    assert slack_channel_for(_incident("billing"), CATALOG) == "#inc-billing"


def test_an_incident_no_service_owns_goes_to_triage() -> None:
    assert slack_channel_for(_incident(None), CATALOG) == "#inc-triage"


def test_the_services_phone_wins_over_the_default_oncall() -> None:
    # Given checkout names a phone and search does not
    # When each incident's on-call number is chosen with a deployment default
    # Then checkout's own number is used, and search (and an unowned incident) get the default
    assert oncall_phone_for(_incident("checkout"), CATALOG, "+15550999") == "+15550111"
    assert oncall_phone_for(_incident("search"), CATALOG, "+15550999") == "+15550999"
    assert oncall_phone_for(_incident(None), CATALOG, "+15550999") == "+15550999"


def test_the_deployment_timeout_applies_to_every_rule_and_the_default() -> None:
    # Given a policy whose rules wait different times for a human
    policy = ActionPolicy(rules=[PolicyRule(name="fast", approval_timeout_s=60),
                                 PolicyRule(name="slow", approval_timeout_s=900)])
    # When the deployment's approval timeout is applied
    timed = with_approval_timeout(policy, 420)
    # Then every rule and the default wait that long, and nothing else changes
    assert [r.approval_timeout_s for r in timed.rules] == [420, 420]
    assert timed.default.approval_timeout_s == 420
    assert [r.name for r in timed.rules] == ["fast", "slow"]
    assert timed.model_copy(update={"rules": policy.rules, "default": policy.default}) == policy
    # And the policy given is left as it was
    assert [r.approval_timeout_s for r in policy.rules] == [60, 900]
