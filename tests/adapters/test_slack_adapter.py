"""SlackNotifier through the real slack_sdk WebClient against the local sinks; request signing; button clicks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from sre_copilot.adapters.slack_notifier import (
    ApprovalAnswer,
    SlackNotifier,
    parse_interaction,
    verify_slack_request,
)
from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.reasoning import Decision, Hypothesis
from sre_copilot.errors import ConfigurationError, InvalidPayload, MalformedSignature, Unauthorized
from sre_copilot.local.sinks import LocalSinks
from sre_copilot.messages.slack import incident_card

# Slack's published example ("Verifying requests from Slack"): secret, timestamp, body and signature.
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = "1531420618"
DOC_BODY = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
            b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
            b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZR"
            b"skXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
DOC_NOW = datetime.fromtimestamp(int(DOC_TIMESTAMP), tz=UTC)


def test_post_sends_the_card_through_the_web_api_and_returns_the_ts(
    sinks: LocalSinks, incident: Incident, hypotheses: list[Hypothesis], decision: Decision, plan: ActionPlan,
) -> None:
    # Given a notifier whose WebClient points at the local Slack
    notifier = SlackNotifier(token="xoxb-test", base_url=sinks.slack_base_url)
    text, blocks = incident_card(incident, hypotheses, decision, None, plan)
    # When the card is posted
    ts = notifier.post("#team-commerce", text, blocks)
    # Then exactly one chat.postMessage went out, authenticated with the bot token, carrying the card
    [request] = sinks.requests
    assert (request["method"], request["path"], request["status"]) == ("POST", "/slack/api/chat.postMessage", 200)
    assert request["headers"]["authorization"] == "Bearer xoxb-test"
    assert request["headers"]["content-type"].startswith("application/json")
    assert request["body"] == {"channel": "#team-commerce", "text": text, "blocks": blocks, "unfurl_links": False}
    # And the returned ts names the stored message
    assert sinks.slack_messages[("#team-commerce", ts)]["blocks"] == blocks


def test_thread_reply_and_update_keep_blocks_unless_replaced(sinks: LocalSinks) -> None:
    notifier = SlackNotifier(token="xoxb-test", base_url=sinks.slack_base_url.rstrip("/"))
    parent = notifier.post("#inc", "opened", [{"type": "section", "text": {"type": "mrkdwn", "text": "v1"}}])
    reply = notifier.post("#inc", "mitigated", thread_ts=parent)
    # When the parent is updated with new text only
    notifier.update("#inc", parent, "opened (acknowledged)")
    # Then the reply is threaded, and the update omitted blocks so Slack keeps them
    assert sinks.requests[1]["body"] == {"channel": "#inc", "text": "mitigated", "thread_ts": parent,
                                         "unfurl_links": False}
    assert sinks.requests[2]["path"] == "/slack/api/chat.update"
    assert sinks.requests[2]["body"] == {"channel": "#inc", "ts": parent, "text": "opened (acknowledged)"}
    message = sinks.slack_messages[("#inc", parent)]
    assert (message["text"], message["blocks"][0]["text"]["text"], message["edits"]) == ("opened (acknowledged)",
                                                                                          "v1", 1)
    assert reply != parent


def test_slack_errors_surface_as_sdk_errors(sinks: LocalSinks) -> None:
    # Given a notifier without a token, and an update of a message that does not exist
    with pytest.raises(SlackApiError) as not_authed:
        SlackNotifier(token="", base_url=sinks.slack_base_url).post("#inc", "x")
    with pytest.raises(SlackApiError) as missing:
        SlackNotifier(token="xoxb-test", base_url=sinks.slack_base_url).update("#inc", "1.000001", "x")
    # Then Slack's error codes reach the caller
    assert not_authed.value.response["error"] == "not_authed"
    assert missing.value.response["error"] == "message_not_found"


def test_signature_from_slacks_documentation_verifies() -> None:
    verify_slack_request({"X-Slack-Request-Timestamp": DOC_TIMESTAMP, "X-Slack-Signature": DOC_SIGNATURE},
                         DOC_BODY, DOC_SECRET, DOC_NOW + timedelta(seconds=30))


def test_header_names_are_case_insensitive() -> None:
    # API Gateway's payload v2 lower-cases header names
    verify_slack_request({"x-slack-request-timestamp": DOC_TIMESTAMP, "x-slack-signature": DOC_SIGNATURE},
                         DOC_BODY, DOC_SECRET, DOC_NOW)


def test_tampered_body_is_unauthorized() -> None:
    tampered = DOC_BODY.replace(b"user_name=roadrunner", b"user_name=coyote")
    with pytest.raises(Unauthorized, match="does not match"):
        verify_slack_request({"X-Slack-Request-Timestamp": DOC_TIMESTAMP, "X-Slack-Signature": DOC_SIGNATURE},
                             tampered, DOC_SECRET, DOC_NOW)


def test_wrong_secret_is_unauthorized() -> None:
    with pytest.raises(Unauthorized):
        verify_slack_request({"X-Slack-Request-Timestamp": DOC_TIMESTAMP, "X-Slack-Signature": DOC_SIGNATURE},
                             DOC_BODY, "another-secret", DOC_NOW)


@pytest.mark.parametrize("skew_s", [301, -301, 3600])
def test_stale_or_future_timestamps_are_replays(skew_s: int) -> None:
    with pytest.raises(Unauthorized, match="more than 5 minutes"):
        verify_slack_request({"X-Slack-Request-Timestamp": DOC_TIMESTAMP, "X-Slack-Signature": DOC_SIGNATURE},
                             DOC_BODY, DOC_SECRET, DOC_NOW + timedelta(seconds=skew_s))


def test_edge_of_the_replay_window_still_verifies() -> None:
    verify_slack_request({"X-Slack-Request-Timestamp": DOC_TIMESTAMP, "X-Slack-Signature": DOC_SIGNATURE},
                         DOC_BODY, DOC_SECRET, DOC_NOW + timedelta(seconds=300))


def test_missing_and_malformed_headers() -> None:
    with pytest.raises(Unauthorized, match="missing"):
        verify_slack_request({}, DOC_BODY, DOC_SECRET, DOC_NOW)
    with pytest.raises(MalformedSignature):
        verify_slack_request({"X-Slack-Request-Timestamp": "yesterday", "X-Slack-Signature": DOC_SIGNATURE},
                             DOC_BODY, DOC_SECRET, DOC_NOW)
    with pytest.raises(MalformedSignature):
        verify_slack_request({"X-Slack-Request-Timestamp": DOC_TIMESTAMP, "X-Slack-Signature": DOC_SIGNATURE[3:]},
                             DOC_BODY, DOC_SECRET, DOC_NOW)
    with pytest.raises(ConfigurationError):
        verify_slack_request({"X-Slack-Request-Timestamp": DOC_TIMESTAMP, "X-Slack-Signature": DOC_SIGNATURE},
                             DOC_BODY, "", DOC_NOW)


def _interaction(action_id: str, value: str, **extra: object) -> bytes:
    payload = {"type": "block_actions", "team": {"id": "T0001", "domain": "acme"},
               "user": {"id": "U024BE7LH", "username": "ana", "name": "ana", "team_id": "T0001"},
               "api_app_id": "A0001", "trigger_id": "12466734323.1395872398",
               "container": {"type": "message", "message_ts": "1548261231.000200", "channel_id": "C0001"},
               "actions": [{"type": "button", "action_id": action_id, "block_id": "approval:plan-1a2b",
                            "value": value, "text": {"type": "plain_text", "text": "Approve rollback"},
                            "action_ts": "1548426417.840180"}], **extra}
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_signed_approve_click_parses_to_an_approval() -> None:
    # Given a block_actions click on Approve, signed as Slack signs it
    body = _interaction("approve", "inc-7f3a|plan-1a2b")
    now = datetime(2026, 3, 4, 10, 9, tzinfo=UTC)
    timestamp = str(int(now.timestamp()))
    signature = SignatureVerifier("local-secret").generate_signature(timestamp=timestamp, body=body)
    # When it is verified and parsed
    verify_slack_request({"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature or ""},
                         body, "local-secret", now)
    answer = parse_interaction(body)
    # Then it names the incident, the plan, the decision and the stable user id
    assert answer == ApprovalAnswer(incident_id="inc-7f3a", plan_id="plan-1a2b", approved=True, user="U024BE7LH",
                                    user_name="ana")


def test_reject_click_is_not_an_approval() -> None:
    assert parse_interaction(_interaction("reject", "inc-7f3a|plan-1a2b")).approved is False


@pytest.mark.parametrize(("body", "message"), [
    (b"not a form", "form body"),
    (urlencode({"payload": json.dumps({"type": "view_submission"})}).encode(), "block_actions"),
    (_interaction("something_else", "inc|plan"), "no approve or reject"),
    (_interaction("approve", "inc-only"), "<incident id>|<plan id>"),
    (_interaction("approve", "inc|plan", user={}), "which Slack user"),
])
def test_interactions_that_are_not_answers_are_invalid(body: bytes, message: str) -> None:
    with pytest.raises(InvalidPayload, match=message):
        parse_interaction(body)
