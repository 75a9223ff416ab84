"""PagerDutyClient: real HTTP requests (via requests) to the local sinks, asserted on the wire."""

from __future__ import annotations

import pytest

from sre_copilot.adapters.pagerduty_client import PagerDutyApiError, PagerDutyClient
from sre_copilot.errors import ConfigurationError
from sre_copilot.local.sinks import LocalSinks

EXPECTED_HEADERS = {
    "authorization": "Token token=pd-test-token",
    "from": "copilot@example.com",
    "accept": "application/vnd.pagerduty+json;version=2",
    "content-type": "application/json",
}


def _client(sinks: LocalSinks, sleeps: list[float] | None = None, **kwargs: object) -> PagerDutyClient:
    record = sleeps if sleeps is not None else []
    return PagerDutyClient(api_token="pd-test-token", from_email="copilot@example.com",
                           base_url=sinks.pagerduty_base_url, sleep=record.append, **kwargs)  # type: ignore[arg-type]


def _wire(sinks: LocalSinks) -> list[tuple[str, str, int, object]]:
    return [(r["method"], r["path"], r["status"], r["body"]) for r in sinks.requests]


def _headers(request: dict[str, object]) -> dict[str, str]:
    headers = request["headers"]
    assert isinstance(headers, dict)
    return {k: v for k, v in headers.items() if k in EXPECTED_HEADERS}


def test_acknowledge_puts_the_status_then_adds_the_note(sinks: LocalSinks) -> None:
    # When our lifecycle moves to ACKNOWLEDGED and is mirrored to PagerDuty
    _client(sinks).acknowledge("Q1ABCDEF", "SRE Copilot: inc-7f3a → ACKNOWLEDGED by phone:+15550100")
    # Then PagerDuty got the documented update and note requests, in that order
    assert _wire(sinks) == [
        ("PUT", "/pagerduty/incidents/Q1ABCDEF", 200,
         {"incident": {"type": "incident_reference", "status": "acknowledged"}}),
        ("POST", "/pagerduty/incidents/Q1ABCDEF/notes", 201,
         {"note": {"content": "SRE Copilot: inc-7f3a → ACKNOWLEDGED by phone:+15550100"}}),
    ]
    # And every request carried the token, the acting user's email and the v2 media type
    assert all(_headers(r) == EXPECTED_HEADERS for r in sinks.requests)
    assert sinks.pagerduty_incidents["Q1ABCDEF"]["status"] == "acknowledged"


def test_resolve_without_a_note_is_one_request(sinks: LocalSinks) -> None:
    _client(sinks).resolve("Q1ABCDEF")
    assert _wire(sinks) == [("PUT", "/pagerduty/incidents/Q1ABCDEF", 200,
                             {"incident": {"type": "incident_reference", "status": "resolved"}})]


def test_add_note(sinks: LocalSinks) -> None:
    _client(sinks).add_note("Q1ABCDEF", "1. checkout (service): bad deploy via deploy-4711 — confidence 81%")
    assert _wire(sinks) == [("POST", "/pagerduty/incidents/Q1ABCDEF/notes", 201,
                             {"note": {"content": "1. checkout (service): bad deploy via deploy-4711 — "
                                                  "confidence 81%"}})]
    assert sinks.pagerduty_notes[0]["content"].startswith("1. checkout")


def test_rate_limited_requests_are_retried_with_backoff_honouring_retry_after(sinks: LocalSinks) -> None:
    # Given PagerDuty answers 429 twice (once with Retry-After) before accepting
    sinks.fail_next("/pagerduty/incidents/Q1ABCDEF", 429, headers={"Retry-After": "2"})
    sinks.fail_next("/pagerduty/incidents/Q1ABCDEF", 429)
    sleeps: list[float] = []
    # When the note is added
    _client(sinks, sleeps, backoff_s=0.5).add_note("Q1ABCDEF", "retry me")
    # Then the same request went three times, waiting Retry-After then the exponential step
    assert [status for _, _, status, _ in _wire(sinks)] == [429, 429, 201]
    assert {body["note"]["content"] for _, _, _, body in _wire(sinks)} == {"retry me"}  # type: ignore[index]
    assert sleeps == [2.0, 1.0]


def test_server_errors_are_retried_then_reported(sinks: LocalSinks) -> None:
    # Given PagerDuty keeps failing with 503
    sinks.fail_next("/pagerduty/", 503, times=3)
    sleeps: list[float] = []
    # When we try to resolve with at most three attempts
    with pytest.raises(PagerDutyApiError, match="answered 503") as raised:
        _client(sinks, sleeps, max_attempts=3, backoff_s=0.25).resolve("Q1ABCDEF")
    # Then it tried three times, backing off between them, and says what PagerDuty answered
    assert raised.value.http_status == 503
    assert [status for _, _, status, _ in _wire(sinks)] == [503, 503, 503]
    assert sleeps == [0.25, 0.5]


def test_client_errors_fail_at_once_with_pagerdutys_message(sinks: LocalSinks) -> None:
    # Given an empty note, which PagerDuty refuses as invalid input
    sleeps: list[float] = []
    with pytest.raises(PagerDutyApiError, match=r"answered 400: Invalid Input Provided \(note.content is required\)"):
        _client(sinks, sleeps).add_note("Q1ABCDEF", "")
    # Then there was no retry
    assert len(sinks.requests) == 1 and sleeps == []


def test_credentials_are_required() -> None:
    with pytest.raises(ConfigurationError, match="api_token"):
        PagerDutyClient(api_token="", from_email="copilot@example.com")
    with pytest.raises(ConfigurationError, match="from_email"):
        PagerDutyClient(api_token="t", from_email="")


def test_unreachable_pagerduty_is_reported_after_retries() -> None:
    # Given a base URL where nothing listens (a sinks server that has been stopped)
    with LocalSinks() as stopped:
        url = stopped.pagerduty_base_url
    sleeps: list[float] = []
    client = PagerDutyClient(api_token="t", from_email="a@example.com", base_url=url, max_attempts=2,
                             backoff_s=0.1, sleep=sleeps.append)
    with pytest.raises(PagerDutyApiError, match="unreachable"):
        client.add_note("Q1", "x")
    assert sleeps == [0.1]
