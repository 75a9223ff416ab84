"""Twilio: place the voice page with the twilio SDK; verify and read the keypress callbacks.

Twilio signs every request to our URLs (X-Twilio-Signature: HMAC-SHA1 of the full URL plus the
sorted POST parameters, keyed with the auth token); `RequestValidator` implements that scheme.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from sre_copilot.errors import ConfigurationError, Unauthorized


class RebasedHttpClient(TwilioHttpClient):
    """Sends the SDK's https://api.twilio.com/... requests to another base URL (the local sinks)."""

    def __init__(self, base_url: str, timeout: float | None = 10.0) -> None:
        super().__init__(timeout=timeout)
        parts = urlsplit(base_url)
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path.rstrip("/")

    def rebase(self, url: str) -> str:
        parts = urlsplit(url)
        if not parts.netloc.endswith("twilio.com"):
            return url
        return urlunsplit((self._scheme, self._netloc, self._prefix + parts.path, parts.query, parts.fragment))

    def request(self, method: str, url: str, params: dict[str, object] | None = None,
                data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None, timeout: float | None = None,
                allow_redirects: bool = False) -> Response:
        return super().request(method, self.rebase(url), params=params, data=data, headers=headers, auth=auth,
                               timeout=timeout, allow_redirects=allow_redirects)


class TwilioPager:
    """`PhonePager` over Twilio Programmable Voice."""

    def __init__(self, account_sid: str, auth_token: str, from_number: str, base_url: str | None = None) -> None:
        if not from_number:
            raise ConfigurationError("the Twilio caller number is empty; set from_number in the twilio secret")
        self.from_number = from_number
        http_client = RebasedHttpClient(base_url) if base_url else TwilioHttpClient(timeout=10.0)
        self.client = Client(account_sid, auth_token, account_sid=account_sid, http_client=http_client)

    def call(self, to: str, message: str, callback_url: str) -> str:
        """`message` is the TwiML to run when the call connects; returns the call SID.

        The status callback goes to the same URL: a call that ends unanswered (busy, no-answer,
        failed) must escalate even though nobody reached the keypad.
        """
        call = self.client.calls.create(to=to, from_=self.from_number, twiml=message, status_callback=callback_url,
                                        status_callback_method="POST")
        if not call.sid:
            raise ConfigurationError("Twilio accepted the call but returned no SID")
        return str(call.sid)

    def sms(self, to: str, body: str) -> str:
        """Send a text message (the fallback when a call fails); returns the message SID."""
        message = self.client.messages.create(to=to, from_=self.from_number, body=body)
        if not message.sid:
            raise ConfigurationError("Twilio accepted the message but returned no SID")
        return str(message.sid)


def verify_twilio_request(url: str, params: Mapping[str, str], signature: str, auth_token: str) -> None:
    """`url` is the full URL Twilio called, query string included, exactly as configured."""
    if not auth_token:
        raise ConfigurationError("the Twilio auth token is empty; set auth_token in the twilio secret")
    if not signature:
        raise Unauthorized("missing X-Twilio-Signature; only Twilio may call this URL")
    if not RequestValidator(auth_token).validate(url, dict(params), signature):
        raise Unauthorized("the Twilio signature does not match this URL and body; check the auth token and the "
                           "public URL the callback was registered with")


KeypressAction = Literal["acknowledge", "escalate", "hear_details", "call_ended", "call_failed"]
# Terminal call statuses that mean nobody was reached: the page falls back to SMS.
UNREACHED_STATUSES = frozenset({"busy", "no-answer", "failed", "canceled"})


class KeypressAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: KeypressAction
    call_sid: str | None = None
    digits: str | None = None
    call_status: str | None = None
    from_number: str | None = None
    to_number: str | None = None


def parse_keypress(params: Mapping[str, str]) -> KeypressAnswer:
    """1 acknowledges, 3 asks to hear the top hypothesis and recommended action; 2, any other key
    or no key before the timeout escalates.

    A page nobody acknowledged must move up the chain rather than stall, so everything that is not
    a clear "1" or "3" escalates. The status callback of a call that connected and ended says only
    that the call is over (`call_ended`): the keypress, or its absence, was already reported by the
    <Gather>. A call that never connected (busy, no-answer, failed) is `call_failed`.
    """
    digits = (params.get("Digits") or "").strip() or None
    status = params.get("CallStatus")
    action: KeypressAction
    if digits == "1":
        action = "acknowledge"
    elif digits == "3":
        action = "hear_details"
    elif digits is None and status == "completed":
        action = "call_ended"
    elif digits is None and status in UNREACHED_STATUSES:
        action = "call_failed"
    else:
        action = "escalate"
    return KeypressAnswer(action=action, call_sid=params.get("CallSid"), digits=digits, call_status=status,
                          from_number=params.get("From"), to_number=params.get("To"))

