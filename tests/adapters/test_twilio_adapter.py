"""TwilioPager through the real twilio Client against the local sinks; callback signatures; keypresses."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from sre_copilot.adapters.twilio_pager import (
    KeypressAnswer,
    TwilioPager,
    parse_keypress,
    verify_twilio_request,
)
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.reasoning import Hypothesis
from sre_copilot.errors import ConfigurationError, Unauthorized
from sre_copilot.local.sinks import LocalSinks
from sre_copilot.messages.phone import page_twiml

ACCOUNT = "AC0123456789abcdef0123456789abcdef"
TOKEN = "twilio-test-token"
CALLBACK = "https://api.example.com/callbacks/twilio/voice?incident=inc-7f3a"

# twilio-python's own validator test vector (tests/unit/test_request_validator.py).
VECTOR_TOKEN = "12345"
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {"CallSid": "CA1234567890ABCDE", "Digits": "1234", "From": "+14158675309", "To": "+18005551212",
                 "Caller": "+14158675309"}
VECTOR_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_call_creates_a_call_with_inline_twiml_and_returns_its_sid(
    sinks: LocalSinks, incident: Incident, hypotheses: list[Hypothesis],
) -> None:
    # Given a pager whose twilio Client is rebased onto the local sinks
    pager = TwilioPager(account_sid=ACCOUNT, auth_token=TOKEN, from_number="+15550000",
                        base_url=sinks.twilio_base_url)
    twiml = page_twiml(incident, hypotheses[1], CALLBACK)
    # When the on-call is paged
    sid = pager.call("+15550100", twiml, CALLBACK)
    # Then one create-call request went to the account's Calls resource with HTTP basic auth
    [request] = sinks.requests
    assert (request["method"], request["path"], request["status"]) == (
        "POST", f"/twilio/2010-04-01/Accounts/{ACCOUNT}/Calls.json", 201)
    assert request["headers"]["authorization"] == "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    assert request["headers"]["content-type"] == "application/x-www-form-urlencoded"
    # And the form carries who to call, from which number, the TwiML and the status callback
    assert request["body"] == {"To": "+15550100", "From": "+15550000", "Twiml": twiml, "StatusCallback": CALLBACK,
                               "StatusCallbackMethod": "POST"}
    # And the SID is the one Twilio assigned
    assert sid == sinks.calls[0]["sid"] and sid.startswith("CA") and len(sid) == 34


def test_the_local_on_call_hears_the_page_and_can_answer(sinks: LocalSinks, incident: Incident,
                                                         hypotheses: list[Hypothesis]) -> None:
    # Given a responder hook standing in for the on-call's phone
    heard: list[dict[str, Any]] = []
    sinks.on_call_placed = heard.append
    pager = TwilioPager(account_sid=ACCOUNT, auth_token=TOKEN, from_number="+15550000",
                        base_url=sinks.twilio_base_url)
    # When a call is placed
    sid = pager.call("+15550100", page_twiml(incident, hypotheses[1], CALLBACK), CALLBACK)
    # Then, once the sink has finished with the request, the hook got the words and where to post the key
    assert sinks.wait_idle()
    [call] = heard
    assert call["sid"] == sid and call["gather_action"] == CALLBACK and call["num_digits"] == "1"
    assert "Press 1 to acknowledge, 2 to escalate, 3 to hear the likely cause" in call["spoken"][0]
    # And the demo transcript shows the call
    transcript = sinks.printable_transcript()
    assert "Phone call to +15550100 from +15550000 at " in transcript
    assert sid in transcript and "Most likely cause: bad deploy in checkout" in transcript


def test_twilio_errors_reach_the_caller_with_twilios_code(sinks: LocalSinks) -> None:
    # Given an on-call entry without a phone number
    pager = TwilioPager(account_sid=ACCOUNT, auth_token=TOKEN, from_number="+15550000",
                        base_url=sinks.twilio_base_url)
    # When the page is attempted
    with pytest.raises(TwilioRestException) as raised:
        pager.call("", "<Response/>", CALLBACK)
    # Then Twilio's answer (400, code 21201) surfaces, and no call exists
    assert (raised.value.status, raised.value.code) == (400, 21201)
    assert sinks.calls == []


def test_a_pager_needs_a_caller_number() -> None:
    with pytest.raises(ConfigurationError, match="from_number"):
        TwilioPager(account_sid=ACCOUNT, auth_token=TOKEN, from_number="")


def test_twilio_published_signature_verifies() -> None:
    verify_twilio_request(VECTOR_URL, VECTOR_PARAMS, VECTOR_SIGNATURE, VECTOR_TOKEN)


@pytest.mark.parametrize(("url", "params", "token"), [
    (VECTOR_URL, {**VECTOR_PARAMS, "Digits": "1"}, VECTOR_TOKEN),  # body tampered
    (VECTOR_URL.replace("foo=1", "foo=9"), VECTOR_PARAMS, VECTOR_TOKEN),  # URL tampered
    (VECTOR_URL, VECTOR_PARAMS, "another-token"),
])
def test_tampered_callbacks_are_unauthorized(url: str, params: dict[str, str], token: str) -> None:
    with pytest.raises(Unauthorized, match="does not match"):
        verify_twilio_request(url, params, VECTOR_SIGNATURE, token)


def test_unsigned_callback_and_missing_token() -> None:
    with pytest.raises(Unauthorized, match="missing"):
        verify_twilio_request(VECTOR_URL, VECTOR_PARAMS, "", VECTOR_TOKEN)
    with pytest.raises(ConfigurationError):
        verify_twilio_request(VECTOR_URL, VECTOR_PARAMS, VECTOR_SIGNATURE, "")


def test_keypress_from_our_own_twiml_round_trips() -> None:
    # Given the callback Twilio posts when the on-call presses 1 during our <Gather>
    params = {"AccountSid": ACCOUNT, "CallSid": "CAabc", "CallStatus": "in-progress", "Digits": "1",
              "From": "+15550000", "To": "+15550100", "Direction": "outbound-api", "FinishedOnKey": ""}
    signature = RequestValidator(TOKEN).compute_signature(CALLBACK, params)
    # When it is verified and parsed
    verify_twilio_request(CALLBACK, params, signature, TOKEN)
    # Then it acknowledges, for that call
    assert parse_keypress(params) == KeypressAnswer(action="acknowledge", call_sid="CAabc", digits="1",
                                                    call_status="in-progress", from_number="+15550000",
                                                    to_number="+15550100")


@pytest.mark.parametrize(("params", "action"), [
    ({"Digits": "2", "CallStatus": "in-progress"}, "escalate"),
    ({"Digits": "9", "CallStatus": "in-progress"}, "escalate"),  # a wrong key is not an acknowledgement
    ({"CallStatus": "in-progress"}, "escalate"),  # the <Redirect> after the Gather timed out
    # status callback: nobody picked up, so the page falls back to SMS (the level's timeout escalates)
    ({"CallStatus": "no-answer"}, "call_failed"),
    ({"CallStatus": "busy"}, "call_failed"),
    ({"CallStatus": "failed"}, "call_failed"),
    ({"Digits": "3", "CallStatus": "in-progress"}, "hear_details"),
    ({"CallStatus": "completed"}, "call_ended"),  # status callback after a call that connected
])
def test_everything_but_a_clear_one_or_three_escalates_or_falls_back(params: dict[str, str], action: str) -> None:
    assert parse_keypress({"CallSid": "CAabc", **params}).action == action


def test_twiml_round_trip_through_the_sink_matches_what_we_rendered(sinks: LocalSinks, incident: Incident) -> None:
    pager = TwilioPager(account_sid=ACCOUNT, auth_token=TOKEN, from_number="+15550000",
                        base_url=sinks.twilio_base_url)
    twiml = page_twiml(incident, None, CALLBACK)
    pager.call("+15550100", twiml, CALLBACK)
    sent = ET.fromstring(sinks.calls[0]["twiml"])
    assert ET.tostring(sent) == ET.tostring(ET.fromstring(twiml))
