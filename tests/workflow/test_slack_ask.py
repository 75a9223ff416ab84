"""`/sre ask` through the signed slash-command route: the deterministic answer within Slack's 3 s,
then, with an LLM configured (the real anthropic SDK against a local Messages API server), prose
grounded on the incident's facts, marked as LLM, posted to the command's response_url; the
deterministic answer instead when the model fails, is slow, or cites figures the facts lack."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest
from checkout_payments import CATALOG, START
from slack_sdk.signature import SignatureVerifier

from sre_copilot.domain.types import format_time
from sre_copilot.local.runtime import LOCAL_SECRETS, LOCAL_SLACK_TEAM, LocalDeployment, Responders
from sre_copilot.services.slack_ask import ASK_INSTRUCTIONS, LLM_MARK

Answer = Callable[[dict[str, Any]], tuple[int, dict[str, Any], float]]


@contextmanager
def messages_api(answer: Answer) -> Iterator[list[dict[str, Any]]]:
    """A tiny local server speaking Anthropic's Messages API (POST /v1/messages)."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
            if ASK_INSTRUCTIONS not in json.dumps(request.get("system")):
                # the workflow's own LLM uses (hypotheses, postmortem prose) get an empty answer
                status, body, delay_s = 200, _text(""), 0.0
            else:
                seen.append({"path": self.path, "api_key": self.headers.get("x-api-key") or self.headers.get("authorization"), **request})
                status, body, delay_s = answer(request)
            time.sleep(delay_s)
            raw = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        seen.append({"url": f"http://127.0.0.1:{server.server_port}"})
        yield seen
    finally:
        server.shutdown()
        server.server_close()


def _text(text: str) -> dict[str, Any]:
    return {"id": "msg_ask", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 900, "output_tokens": 60}}


@contextmanager
def _deployment(answer: Answer | None) -> Iterator[tuple[LocalDeployment, list[dict[str, Any]]]]:
    if answer is None:
        with LocalDeployment(start=START, responders=Responders(ack_pages_after_s=None)) as d:
            d.put_catalog(CATALOG)
            yield d, []
        return
    with messages_api(answer) as seen:
        url = seen.pop(0)["url"]
        secrets = {**LOCAL_SECRETS, "llm": {"api_key": "sk-local", "base_url": url, "max_retries": 0,
                                            "model": "claude-haiku-4-5"}}
        with LocalDeployment(start=START, responders=Responders(ack_pages_after_s=None), secrets=secrets,
                             llm_provider="anthropic") as d:
            d.put_catalog(CATALOG)
            yield d, seen


def _alert(deployment: LocalDeployment) -> str:
    at = deployment.clock.now()
    labels = {"alertname": "HighErrorRate", "severity": "critical", "service": "checkout"}
    body = {"receiver": "r", "status": "firing", "version": "4", "groupKey": "{}", "truncatedAlerts": 0,
            "groupLabels": {}, "commonLabels": labels, "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": [{"status": "firing", "labels": labels, "annotations": {"summary": "5xx above SLO"},
                        "startsAt": format_time(at), "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prom", "fingerprint": "HighErrorRate-checkout"}]}
    status, _ = deployment.http("POST", "/webhooks/alertmanager", json.dumps(body).encode(),
                                {"Content-Type": "application/json"})
    assert status == 202
    deployment.settle()
    [incident] = deployment.container.store.open_incidents(deployment.tenant_id)
    return incident.id


def _ask(deployment: LocalDeployment, text: str, response_url: str | None) -> tuple[int, Any, float]:
    form = {"command": "/sre", "text": f"ask {text}", "user_id": "U0LOCAL", "channel_id": "C0LOCAL",
            "team_id": LOCAL_SLACK_TEAM}
    if response_url:
        form["response_url"] = response_url
    body = urlencode(form).encode()
    timestamp = str(int(deployment.clock.now().timestamp()))
    signature = SignatureVerifier(LOCAL_SECRETS["slack"]["signing_secret"]).generate_signature(
        timestamp=timestamp, body=body.decode()) or ""
    started = time.monotonic()
    status, payload = deployment.http("POST", "/callbacks/slack/commands", body, {
        "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded"})
    return status, payload, time.monotonic() - started


def test_with_an_llm_the_quick_answer_is_deterministic_and_grounded_prose_follows() -> None:
    replies: dict[str, Any] = {}

    def answer(request: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        # the model answers from the facts it was given: it names the incident's top hypothesis
        facts = request["messages"][0]["content"]
        replies["facts"] = facts
        return 200, _text("The copilot's analysis points at checkout; see the hypotheses listed."), 4.0

    with _deployment(answer) as (deployment, seen):
        incident_id = _alert(deployment)
        # When someone asks, with a model that takes 4 s to answer
        status, body, took_s = _ask(deployment, "why is checkout failing?", deployment.sinks.slack_response_url())
        # Then the command is answered within Slack's 3 s, deterministically, saying prose will follow
        assert status == 200 and took_s < 3.0 and not seen
        assert incident_id in body["text"] and "An LLM answer over these facts follows" in body["text"]
        # and once the handed-off work ran, the LLM prose reached the response_url, marked as LLM
        deployment.settle()
        [posted] = deployment.sinks.slack_responses
        assert posted["text"].startswith(LLM_MARK) and "claude-haiku-4-5" in posted["text"]
        assert "points at checkout" in posted["text"] and posted["response_type"] == "ephemeral"
        # and the model was given the incident's stored facts and the question, as data
        [call] = seen
        assert call["path"] == "/v1/messages" and "sk-local" in call["api_key"]
        assert incident_id in replies["facts"] and "<question>\nwhy is checkout failing?" in replies["facts"]
        audit = [a for a in deployment.container.store.for_subject(deployment.tenant_id, incident_id)
                 if a.action == "slack.ask.answered"]
        assert audit and audit[0].details["llm"] is True


@pytest.mark.parametrize(("reply", "why"), [
    ((500, {"type": "error", "error": {"type": "api_error", "message": "boom"}}, 0.0), "LLM call failed"),
    ((200, _text("Checkout lost 4711 orders at 03:12."), 0.0), "figure(s) not in the incident's facts"),
])
def test_a_failing_or_ungrounded_llm_falls_back_to_the_deterministic_answer(
        reply: tuple[int, dict[str, Any], float], why: str) -> None:
    with _deployment(lambda _r: reply) as (deployment, seen):
        incident_id = _alert(deployment)
        _ask(deployment, f"what is {incident_id}?", deployment.sinks.slack_response_url())
        deployment.settle()
        [posted] = deployment.sinks.slack_responses
        assert LLM_MARK not in posted["text"] and why in posted["text"]
        assert "The deterministic answer:" in posted["text"] and incident_id in posted["text"]
        assert "4711" not in posted["text"]
        assert seen  # the model was asked


def test_without_an_llm_or_a_slack_response_url_nothing_is_handed_off() -> None:
    with _deployment(None) as (deployment, _):
        incident_id = _alert(deployment)
        _, body, _ = _ask(deployment, "why is checkout failing?", deployment.sinks.slack_response_url())
        assert incident_id in body["text"] and "follows" not in body["text"]
        deployment.settle()
        assert deployment.sinks.slack_responses == []

    def never(_r: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        raise AssertionError("the model must not be asked")

    with _deployment(never) as (deployment, seen):
        incident_id = _alert(deployment)
        # a response_url outside Slack (a forged one) gets no facts posted to it
        _, body, _ = _ask(deployment, "why?", "https://attacker.example/collect")
        assert incident_id in body["text"] and "follows" not in body["text"]
        deployment.settle()
        assert deployment.sinks.slack_responses == [] and seen == []
