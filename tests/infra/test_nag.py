"""cdk-nag's AwsSolutions pack: no unacknowledged finding, every acknowledgement reasoned in
`infra_cdk/nag_suppressions.py`, and a finding nobody acknowledged fails synthesis."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match
from cdk_nag import AwsSolutionsChecks
from infra_synth import Synthesized

from infra_cdk.app import register_nag
from infra_cdk.nag_suppressions import ACKNOWLEDGEMENTS

pytestmark = pytest.mark.infra
REASONS = {ack.reason for ack in ACKNOWLEDGEMENTS}


def _acknowledged_rules(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    """construct path -> {rule id: reason}, as recorded by `Validations.of(...).acknowledge`."""
    found: dict[str, dict[str, Any]] = {}
    for construct in synthesized.built.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                found.setdefault(construct.node.path, {}).update(entry.data)
    return found


def test_the_stack_has_no_unacknowledged_finding(synthesized: Synthesized) -> None:
    report = AwsSolutionsChecks().validate_scope(synthesized.built.stack)
    unacknowledged = [f"{v.rule_name} at {r.construct_path}" for v in report.violations for r in v.violating_resources]
    assert unacknowledged == []
    assert report.success


def test_no_awssolutions_annotation_is_left_on_the_stack(synthesized: Synthesized) -> None:
    annotations = Annotations.from_stack(synthesized.built.stack)
    assert annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*")) == []
    assert annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*")) == []


def test_every_acknowledgement_carries_a_reason_from_nag_suppressions(synthesized: Synthesized) -> None:
    recorded = _acknowledged_rules(synthesized)
    assert recorded, "the stack has acknowledged findings (IAM5, L1, ...); none were recorded"
    for path, rules in recorded.items():
        for rule_id, reason in rules.items():
            assert re.sub(r"^annotation::", "", rule_id, flags=re.IGNORECASE).startswith("AwsSolutions-"), path
            assert len(reason) >= 10, f"{rule_id} on {path}"
            assert reason in REASONS, f"{rule_id} on {path} has a reason not defined in nag_suppressions.py"


def test_the_template_metadata_keeps_the_same_reasons_for_audits(synthesized: Synthesized) -> None:
    rules = [rule for resource in synthesized.template_json["Resources"].values()
             for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])]
    assert len(rules) == len(synthesized.built.acknowledged)
    assert {rule["reason"] for rule in rules} <= REASONS


def test_acknowledgements_are_reasoned_specific_and_all_in_use(synthesized: Synthesized) -> None:
    for ack in ACKNOWLEDGEMENTS:
        assert len(ack.reason) >= 10, ack.rule
        assert ack.rule.startswith("AwsSolutions-"), ack.rule
        assert ack.paths not in ("", ".*", ".+"), f"{ack.rule} must name the constructs it applies to"
    used = {applied.acknowledgement for applied in synthesized.built.acknowledged}
    stale = [ack.rule for ack in ACKNOWLEDGEMENTS if ack not in used]
    assert stale == [], "acknowledgements that match nothing hide future findings; remove them"


def test_an_unacknowledged_finding_fails_synthesis(tmp_path: Any) -> None:
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Unreviewed")
    sqs.Queue(stack, "Plain", enforce_ssl=False)  # no DLQ, no TLS-only policy: AwsSolutions-SQS3/SQS4
    register_nag(app)
    with pytest.raises(Exception, match=r"AwsSolutions-SQS(3|4)"):
        app.synth()
