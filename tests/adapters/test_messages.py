"""What people read: the Slack card, the phone TwiML and the PagerDuty note."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

from sre_copilot.domain.action import ActionPlan, Recommendation
from sre_copilot.domain.incident import Incident, IncidentState
from sre_copilot.domain.reasoning import Decision, Hypothesis
from sre_copilot.domain.types import Approval
from sre_copilot.messages.pagerduty import hypotheses_note
from sre_copilot.messages.phone import page_twiml
from sre_copilot.messages.slack import incident_card


def _texts(blocks: list[dict[str, Any]]) -> str:
    """Every human-visible string of the blocks, in order."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                out.append(node["text"])
            for key, value in node.items():
                if key != "confirm":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(out)


def test_card_shows_priority_state_services_decision_and_top_three_hypotheses_with_factors(
    incident: Incident, hypotheses: list[Hypothesis], decision: Decision, recommendation: Recommendation,
    plan: ActionPlan,
) -> None:
    # Given a scored P0 incident with four hypotheses
    # When the card is rendered
    text, blocks = incident_card(incident, hypotheses, decision, recommendation, plan)
    shown = _texts(blocks)

    # Then the header and summary carry priority, state, services and the decision
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "P0 checkout 5xx rate above 5%",
                                                    "emoji": True}}
    assert "*Priority*\n:red_circle: P0" in shown
    assert "*State*\nDETECTED" in shown
    assert "*Services*\ncheckout, payments" in shown
    assert "*Decision*\npresent" in shown
    # And exactly the three best hypotheses appear, best first, each with confidence and range
    assert shown.index("1. checkout (service): bad deploy via deploy-4711") \
        < shown.index("2. checkout-7f9c-abcde (instance of checkout): pod crash loop") \
        < shown.index("3. payments (service): dependency failure")
    assert "cart" not in shown
    assert "Confidence *81% (range 74% to 88%)*" in shown
    assert "Confidence *44% (range 35% to 53%)*" in shown
    # And each carries the five-factor breakdown
    assert ("signal strength 0.90 · temporal correlation 0.95 · precedent frequency 0.30 · "
            "evidence quality 0.70 · human validation 0.50") in shown
    assert shown.count("human validation") == 3
    # And the recommendation shows its action, risk and runbook
    assert "*Recommended action:* `rollback` deployment/checkout" in shown
    assert "Risk *medium*  ·  Runbook rollback-deploy" in shown
    assert "Blast radius: frontend" in shown
    # And the fallback text summarises it for notifications
    assert text == ("[P0] checkout 5xx rate above 5% (inc-7f3a, DETECTED) — top hypothesis: checkout (service): "
                    "bad deploy via deploy-4711 at 81% — recommended: rollback deployment/checkout (risk medium) "
                    "— approval needed")
    # And the whole card stays within Slack's limits
    assert len(blocks) <= 50 and len(json.dumps(blocks)) < 40_000


def test_pending_plan_gets_approve_and_reject_buttons_naming_incident_and_plan(
    incident: Incident, hypotheses: list[Hypothesis], decision: Decision, recommendation: Recommendation,
    plan: ActionPlan,
) -> None:
    # Given a plan waiting for approval
    assert plan.approval is Approval.PENDING
    # When the card is rendered
    _, blocks = incident_card(incident, hypotheses, decision, recommendation, plan)
    # Then the approval block holds the two buttons with the ids and value the callback parses
    # (the card also carries Acknowledge/Resolve and per-hypothesis buttons in their own blocks)
    actions = next(b for b in blocks if b.get("block_id", "").startswith("approval:"))
    assert actions["type"] == "actions"
    buttons = {b["action_id"]: b for b in actions["elements"]}
    assert set(buttons) == {"approve", "reject"}
    assert buttons["approve"]["value"] == buttons["reject"]["value"] == "inc-7f3a|plan-1a2b"
    assert buttons["approve"]["style"] == "primary" and buttons["reject"]["style"] == "danger"
    assert "live change" in buttons["approve"]["confirm"]["text"]["text"]


def test_no_buttons_once_the_plan_is_decided(
    incident: Incident, hypotheses: list[Hypothesis], decision: Decision, recommendation: Recommendation,
    plan: ActionPlan,
) -> None:
    # Given plans that run on their own, were approved, or were blocked by a gate
    for approval in (Approval.AUTO, Approval.APPROVED, Approval.BLOCKED):
        decided = plan.model_copy(update={"approval": approval,
                                          "gate_results": {"deployment_age": "fail: last deploy is 60s old"}})
        # When the card is rendered
        _, blocks = incident_card(incident, hypotheses, decision, recommendation, decided)
        # Then there is no approval to click, and the plan line says why it did not run
        assert not _action_ids(blocks) & {"approve", "reject"}
        assert f"approval *{approval.value}*" in _texts(blocks)
        assert "gates failed: deployment_age (last deploy is 60s old)" in _texts(blocks)


def test_card_without_hypotheses_or_plan_and_hostile_text_is_escaped(incident: Incident) -> None:
    # Given an incident whose title carries Slack control characters and no analysis yet
    incident.title = "<!channel> latency & errors"
    # When the card is rendered
    text, blocks = incident_card(incident, [], None, None, None)
    # Then nothing can ping the channel and the card says there is no hypothesis
    shown = _texts(blocks)
    assert "No hypothesis yet" in shown
    assert "<!channel>" not in shown.replace(blocks[0]["text"]["text"], "")  # plain_text header is inert
    assert _action_ids(blocks) == {"acknowledge", "resolve"}  # nothing to approve or judge yet
    assert text.startswith("[P0] &lt;!channel&gt; latency &amp; errors")


def test_phone_twiml_speaks_the_summary_and_gathers_one_digit(incident: Incident,
                                                              hypotheses: list[Hypothesis]) -> None:
    # Given the top hypothesis and our callback URL
    url = "https://api.example.com/callbacks/twilio/voice?incident=inc-7f3a"
    # When the page is rendered
    twiml = page_twiml(incident, hypotheses[1], url)
    # Then it is a TwiML response whose Gather takes one digit and posts it to the callback
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    gather = root.find("Gather")
    assert gather is not None
    assert (gather.get("numDigits"), gather.get("action"), gather.get("method")) == ("1", url, "POST")
    said = gather.findtext("Say") or ""
    assert "priority 0 incident on service checkout: checkout 5xx rate above 5%." in said
    assert "Most likely cause: bad deploy in checkout, linked to change deploy-4711, confidence 81 percent." in said
    assert said.endswith("Press 1 to acknowledge, 2 to escalate, 3 to hear the likely cause and the recommended action.")
    # And silence escalates: the call falls through to a redirect to the same callback
    redirect = root.find("Redirect")
    assert redirect is not None and redirect.text == url


def test_phone_twiml_without_a_hypothesis_still_asks_for_a_key(incident: Incident) -> None:
    twiml = page_twiml(incident, None, "https://x.example/cb")
    assert "No likely cause has been identified yet." in twiml
    assert 'numDigits="1"' in twiml


def test_pagerduty_note_lists_ranked_hypotheses_with_factors(hypotheses: list[Hypothesis],
                                                             decision: Decision) -> None:
    note = hypotheses_note(hypotheses, decision)
    lines = note.splitlines()
    assert lines[0] == "SRE Copilot analysis (decision: present)"
    assert lines[1] == ("1. checkout (service): bad deploy via deploy-4711 — confidence 81% (range 74% to 88%)")
    assert lines[2] == ("   signal strength 0.90 · temporal correlation 0.95 · precedent frequency 0.30 · "
                        "evidence quality 0.70 · human validation 0.50")
    assert lines[3] == "   bad deploy explains the checkout errors"
    assert "3. payments (service): dependency failure" in note and "cart" not in note
    assert lines[-1] == "Why: top hypothesis 0.81 above 0.70 and 0.37 ahead"


def _action_ids(blocks: list[dict[str, Any]]) -> set[str]:
    return {e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]}


def test_living_card_shows_age_people_evidence_console_link_and_only_buttons_that_still_apply(
    incident: Incident, hypotheses: list[Hypothesis], decision: Decision, recommendation: Recommendation,
    plan: ActionPlan,
) -> None:
    # Given an acknowledged incident whose plan a named user approved
    incident.transition(IncidentState.ACKNOWLEDGED, at=incident.opened_at, actor="phone:+15550100",
                        reason="acknowledged by keypress")
    approved = plan.model_copy(update={"approval": Approval.APPROVED, "approver": "slack:U1"})
    now = incident.opened_at + timedelta(minutes=75)
    # When the card is rendered with its evidence and console link
    _, blocks = incident_card(incident, hypotheses, decision, recommendation, approved, now=now,
                              evidence=["both alerts are on checkout"], console_url="https://console/x")
    shown = _texts(blocks)
    # Then it says how old the incident is, who acknowledged and approved, and links the execution
    assert "(1h15m old)" in shown
    assert "Acknowledged by phone:+15550100" in shown and "approved by slack:U1" in shown
    assert "<https://console/x|Step Functions execution>" in shown
    assert "• both alerts are on checkout" in shown
    # And only Resolve and the hypothesis verdicts remain clickable
    assert _action_ids(blocks) == {"resolve", "confirm_hypothesis", "reject_hypothesis"}
    # When the incident is resolved, the card has nothing left to click
    incident.transition(IncidentState.RESOLVED, at=now, actor="slack:U1", reason="fixed")
    _, closed = incident_card(incident, hypotheses, decision, recommendation, approved, now=now)
    assert _action_ids(closed) == set()
