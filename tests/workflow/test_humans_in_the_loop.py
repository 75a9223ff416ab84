"""People on the deployed workflow (embedded backend): the page reaches someone, escalates when
nobody answers, survives Slack being down, and only signed, fresh, authorised clicks change things."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from checkout_payments import CATALOG, START
from moto.ses.models import ses_backends
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

from sre_copilot.adapters.secrets import clear_secret_cache
from sre_copilot.cli import history as history_view
from sre_copilot.cli.commands import BUNDLED_DEMO
from sre_copilot.domain.types import format_time, parse_time
from sre_copilot.local.replay import Scenario
from sre_copilot.local.runtime import (
    ACCOUNT,
    LOCAL_API,
    LOCAL_SECRETS,
    LOCAL_SLACK_TEAM,
    LocalDeployment,
    Responders,
)
from sre_copilot.messages.slack import acknowledged_by
from sre_copilot.services.escalation import execution_name

ONCALL, SECONDARY = LOCAL_SECRETS["twilio"]["default_oncall"], LOCAL_SECRETS["twilio"]["secondary_oncall"]


def _alert(deployment: LocalDeployment, alertname: str = "HighErrorRate", service: str = "checkout") -> str:
    at = deployment.clock.now()
    labels = {"alertname": alertname, "severity": "critical", "service": service}
    body = {"receiver": "r", "status": "firing", "version": "4", "groupKey": "{}", "truncatedAlerts": 0,
            "groupLabels": {}, "commonLabels": labels, "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": [{"status": "firing", "labels": labels, "annotations": {"summary": "5xx above SLO"},
                        "startsAt": format_time(at), "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prom", "fingerprint": f"{alertname}-{service}"}]}
    status, _ = deployment.http("POST", "/webhooks/alertmanager", json.dumps(body).encode(),
                                {"Content-Type": "application/json"})
    assert status == 202
    deployment.settle()
    [incident] = deployment.container.store.open_incidents(deployment.tenant_id)
    return incident.id


@pytest.fixture
def deployment() -> Iterator[LocalDeployment]:
    # Nobody answers the phone unless a test presses a key.
    with LocalDeployment(start=START, responders=Responders(ack_pages_after_s=None)) as d:
        d.put_catalog(CATALOG)
        yield d


def _audit(deployment: LocalDeployment, incident_id: str, prefix: str) -> list[Any]:
    return [a for a in deployment.container.store.for_subject(deployment.tenant_id, incident_id)
            if a.action.startswith(prefix)]


def _paging_history(deployment: LocalDeployment, incident_id: str) -> list[dict[str, Any]]:
    arn = (deployment.escalation_state_machine_arn.replace(":stateMachine:", ":execution:") + ":"
           + execution_name(incident_id))
    return deployment.execution_history(arn)


def _twilio(deployment: LocalDeployment, incident_id: str, params: dict[str, str],
            signature: str | None = None) -> tuple[int, Any]:
    path, query = "/callbacks/twilio/voice", f"incident={incident_id}"
    url = f"{LOCAL_API}{path}?{query}"
    signature = signature or RequestValidator(LOCAL_SECRETS["twilio"]["auth_token"]).compute_signature(url, params)
    return deployment.http("POST", path, urlencode(params).encode(),
                           {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
                           query=query)


def _slack(deployment: LocalDeployment, path: str, body: bytes, *, age_s: int = 0,
           secret: str | None = None) -> tuple[int, Any]:
    timestamp = str(int(deployment.clock.now().timestamp()) - age_s)
    signature = SignatureVerifier(secret or LOCAL_SECRETS["slack"]["signing_secret"]).generate_signature(
        timestamp=timestamp, body=body.decode()) or ""
    return deployment.http("POST", path, body, {"X-Slack-Request-Timestamp": timestamp,
                                                "X-Slack-Signature": signature,
                                                "Content-Type": "application/x-www-form-urlencoded"})


def _set_slack_secret(deployment: LocalDeployment, value: dict[str, Any]) -> None:
    deployment.session.client("secretsmanager").put_secret_value(SecretId="sre-copilot/slack",
                                                                 SecretString=json.dumps(value))
    # The container reads secrets through Powertools Parameters, cached for `secrets_max_age_s`;
    # forgetting the cached values stands in for that age passing (rotation is tested in tests/security/).
    clear_secret_cache()


def _click(deployment: LocalDeployment, action_id: str, value: str, user: str = "U0LOCAL",
           **kwargs: Any) -> tuple[int, Any]:
    # Slack names the workspace in every block_actions payload; approvals and responses need ours.
    payload = {"type": "block_actions", "user": {"id": user, "username": "oncall"}, "team": {"id": LOCAL_SLACK_TEAM},
               "actions": [{"action_id": action_id, "value": value}]}
    return _slack(deployment, "/callbacks/slack/interactions", urlencode({"payload": json.dumps(payload)}).encode(),
                  **kwargs)


def _command(deployment: LocalDeployment, text: str, user: str = "U0LOCAL") -> tuple[int, Any]:
    body = urlencode({"command": "/sre", "text": text, "user_id": user, "channel_id": "C0LOCAL",
                      "team_id": "T0LOCAL"}).encode()
    return _slack(deployment, "/callbacks/slack/commands", body)


# -- escalation -------------------------------------------------------------------------------------
def test_an_unacknowledged_p0_escalates_to_level_two_after_its_timeout(deployment: LocalDeployment,
                                                                        tmp_path: Path) -> None:
    # Given a P0 page nobody acknowledges
    incident_id = _alert(deployment)
    # When the level's timeout (5 minutes) passes
    deployment.advance_to(START + timedelta(minutes=6))
    # Then level 1 was called at once and level 2 after the timeout, once each
    calls = [(c["to"], c["at"]) for c in deployment.sinks.calls]
    assert calls[0] == (ONCALL, START)
    assert calls[1][0] == SECONDARY and calls[1][1] >= START + timedelta(minutes=5)
    assert len(calls) == 2
    # And the timeout and the escalation are audited and are states of the paging execution
    assert [a.action for a in _audit(deployment, incident_id, "page.")] == [
        "page.started", "page.level1", "page.timed_out", "page.level2"]
    rows = history_view.state_rows(_paging_history(deployment, incident_id))
    # (the sweeper answered level 1 with the next level: no NextLevel task on that path)
    assert [r["state"] for r in rows][:3] == ["PageLevel", "Escalated", "PageLevel"]
    # And `sre-copilot history` shows it, one line per state
    executions = tmp_path / "executions"
    executions.mkdir()
    (executions / f"{incident_id}.json").write_text(json.dumps({
        "incident_id": incident_id, "events": [],
        "paging_events": history_view.serialisable(_paging_history(deployment, incident_id))}))
    shown = subprocess.run([sys.executable, "-m", "sre_copilot.cli.main", "--state-dir", str(tmp_path), "history",
                            incident_id], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "level 1, round 1, 300s: no acknowledgement: page level 2" in shown.stdout
    assert "no acknowledgement: page level 2" in shown.stdout
    assert all(len(line) <= 100 for line in shown.stdout.splitlines())


def test_key_one_stops_paging_and_key_two_escalates_at_once(deployment: LocalDeployment) -> None:
    # Given a P0 page ringing at level 1
    incident_id = _alert(deployment)
    sid = deployment.sinks.calls[0]["sid"]
    # When the on-call presses 2
    status, _ = _twilio(deployment, incident_id, {"CallSid": sid, "Digits": "2", "To": ONCALL,
                                                  "CallStatus": "in-progress"})
    deployment.settle()
    # Then level 2 is called without waiting for the timeout
    assert status == 200 and [c["to"] for c in deployment.sinks.calls] == [ONCALL, SECONDARY]
    # When level 2 presses 1
    _twilio(deployment, incident_id, {"CallSid": deployment.sinks.calls[1]["sid"], "Digits": "1",
                                      "To": SECONDARY, "CallStatus": "in-progress"})
    deployment.advance_to(START + timedelta(minutes=20))
    # Then the incident is acknowledged, paging ended and nobody else was called
    assert len(deployment.sinks.calls) == 2
    assert "page.acknowledged" in [a.action for a in _audit(deployment, incident_id, "page.")]


def test_after_the_backstop_timeout_next_level_pages_the_next_level(deployment: LocalDeployment) -> None:
    from sre_copilot.services import escalation

    # Given a P0 page ringing at level 1, whose token nobody answered (not even the sweeper), so the
    # state's own timeout fired and the Catch hands NextLevel the last state plus the error
    incident_id = _alert(deployment)
    event = {"incident_id": incident_id, "tenant_id": deployment.tenant_id, "level": 1, "round": 1,
             "timeout_s": 300, "native_timeout_s": 420, "outcome": "paging", "summary": "P0: call level 1 now",
             "woken": {"reason": "escalate", "by": "+15550100"},  # an earlier level's answer: not this one's
             "error": {"Error": "States.Timeout", "Cause": "the task timed out"}}
    # When NextLevel runs
    state = escalation.next_level(deployment.container, event)
    # Then it moves to level 2 for the timeout, and audits the timeout
    assert (state["level"], state["round"], state["outcome"]) == (2, 1, "paging")
    assert state["summary"] == "no acknowledgement: page level 2"
    assert "page.timed_out" in [a.action for a in _audit(deployment, incident_id, "page.")]


def test_key_three_speaks_the_top_hypothesis_and_the_recommended_action(deployment: LocalDeployment) -> None:
    incident_id = _alert(deployment)
    status, twiml = _twilio(deployment, incident_id, {"CallSid": deployment.sinks.calls[0]["sid"], "Digits": "3",
                                                      "To": ONCALL, "CallStatus": "in-progress"})
    assert status == 200 and isinstance(twiml, str)
    assert "<Gather" in twiml and ("most likely cause is" in twiml or "No likely cause" in twiml)
    assert "recommended action" in twiml.lower()


def test_a_failed_call_sends_an_sms_with_the_summary_and_a_link(deployment: LocalDeployment) -> None:
    # Given a P0 page
    incident_id = _alert(deployment)
    call = deployment.sinks.calls[0]
    # When Twilio reports the call was not answered
    status, _ = _twilio(deployment, incident_id, {"CallSid": call["sid"], "CallStatus": "no-answer", "To": ONCALL})
    # Then the same person gets a text with the incident and a link, and both are recorded
    assert status == 200
    [sms] = deployment.sinks.sms
    assert sms["to"] == ONCALL and "[P0]" in sms["body"] and "https://" in sms["body"]
    notes = deployment.container.store.notifications_for(deployment.tenant_id, incident_id)
    assert any(n.channel.value == "sms" and n.status == "sent" for n in notes)
    assert any(n.channel.value == "phone" and n.status == "no-answer" for n in notes)
    assert "page.call_failed" in [a.action for a in _audit(deployment, incident_id, "page.")]


def test_with_slack_down_a_p0_still_reaches_the_on_call_by_phone(deployment: LocalDeployment) -> None:
    # Given Slack answering 500 to everything
    deployment.sinks.fail_next("/slack/", 500, times=100)
    # When a P0 opens
    incident_id = _alert(deployment)
    # Then the on-call's phone rings, and the failed Slack post is recorded
    assert [c["to"] for c in deployment.sinks.calls] == [ONCALL]
    notes = deployment.container.store.notifications_for(deployment.tenant_id, incident_id)
    assert any(n.channel.value == "slack" and n.status == "failed" for n in notes)
    assert any(n.channel.value == "phone" and n.status == "sent" for n in notes)
    assert any(a.details.get("status") == "failed" for a in _audit(deployment, incident_id, "notify.slack"))
    # And the card went to the fallback channels instead: a Teams Adaptive Card and an email (SES)
    [teams] = deployment.sinks.teams
    assert teams["card"]["type"] == "AdaptiveCard" and "HighErrorRate" in json.dumps(teams["card"])
    [mail] = ses_backends[ACCOUNT]["us-east-1"].sent_messages
    assert mail.destinations["ToAddresses"] == ["oncall@example.com"] and "[P0]" in mail.subject
    assert {n.channel.value for n in notes if n.status == "sent"} >= {"phone"}
    notes = deployment.container.store.notifications_for(deployment.tenant_id, incident_id)
    assert {n.channel.value for n in notes if n.status == "sent"} >= {"phone", "teams", "email"}


def test_a_provider_error_is_retried_with_backoff_and_every_attempt_is_recorded(
    deployment: LocalDeployment,
) -> None:
    # Given Twilio failing the first call request
    deployment.sinks.fail_next("/twilio/", 500, times=1)
    # When a P0 pages
    incident_id = _alert(deployment)
    # Then the second attempt places the call, and both attempts are on record
    assert [c["to"] for c in deployment.sinks.calls] == [ONCALL]
    attempts = [(a.details["attempt"], a.details["status"]) for a in _audit(deployment, incident_id, "notify.attempt.phone")]
    assert attempts == [(1, "failed"), (2, "sent")]
    assert not deployment.sinks.sms  # no fallback needed


def test_a_call_that_cannot_be_placed_falls_back_to_sms_and_pages_are_rate_limited(
    deployment: LocalDeployment,
) -> None:
    from sre_copilot.domain.types import Channel
    from sre_copilot.services.delivery import RATE_PER_MINUTE, within_rate

    # Given Twilio refusing every call request (but not messages)
    deployment.sinks.fail_next("/twilio/2010-04-01/Accounts/AC00000000000000000000000000000000/Calls", 500, times=3)
    incident_id = _alert(deployment)
    # Then the on-call gets a text instead
    assert not deployment.sinks.calls
    [sms] = deployment.sinks.sms
    assert sms["to"] == ONCALL
    assert "page.sms" in [a.action for a in _audit(deployment, incident_id, "page.")]
    # And one number is not sent more than the channel's budget in a minute
    store_tenant = deployment.tenant_id
    budget = RATE_PER_MINUTE[Channel.SMS]
    results = [within_rate(deployment.container, store_tenant, Channel.SMS, "+15559999") for _ in range(budget + 1)]
    assert results == [True] * budget + [False]


# -- the living card ----------------------------------------------------------------------------------
def test_one_card_is_posted_then_edited_with_a_thread_and_ends_in_the_incidents_state(
    deployment: LocalDeployment,
) -> None:
    # Given a P0 whose analysis changes and which is acknowledged, then resolved from the card
    incident_id = _alert(deployment)
    _alert_more = _alert  # a second kind of alert joins the incident
    _alert_more(deployment, "PodCrashLooping")
    deployment.advance_to(START + timedelta(minutes=2))
    _click(deployment, "acknowledge", f"{incident_id}|")
    deployment.settle()
    status, _ = _click(deployment, "resolve", f"{incident_id}|")
    deployment.advance_to(START + timedelta(minutes=5))
    assert status == 200
    # Then exactly one top-level message was posted, and it was edited in place
    posts = [r for r in deployment.sinks.requests_to("/slack/api/chat.postMessage") if not r["body"].get("thread_ts")]
    assert len(posts) == 1
    assert deployment.sinks.requests_to("/slack/api/chat.update")
    [card] = [m for m in deployment.sinks.slack_messages.values() if not m["thread_ts"]]
    replies = [m["text"] for m in deployment.sinks.slack_messages.values() if m["thread_ts"] == card["ts"]]
    # And its thread tells the story
    assert any(r.startswith("ACKNOWLEDGED by slack:U0LOCAL") for r in replies)
    assert any(r.startswith("RESOLVED by slack:U0LOCAL") for r in replies)
    assert any("Postmortem: https://" in r for r in replies)
    # And the card's final state is the incident's, with nothing left to click
    incident = deployment.container.store.get_incident(deployment.tenant_id, incident_id)
    assert incident is not None
    fields = " ".join(f["text"] for b in card["blocks"] if b["type"] == "section" for f in b.get("fields", []))
    assert f"*State*\n{incident.state.value}" in fields
    assert all(b["type"] != "actions" for b in card["blocks"])


# -- buttons and the slash command ----------------------------------------------------------------------
def test_the_interaction_answers_within_three_seconds_while_downstream_work_is_slower(
    deployment: LocalDeployment,
) -> None:
    # Given a card, and Slack answering the card edit only after 4 s
    incident_id = _alert(deployment)
    deployment.sinks.delay_next("/slack/api/chat.update", 4.0)
    # When the on-call clicks Acknowledge
    started = time.monotonic()
    status, body = _click(deployment, "acknowledge", f"{incident_id}|")
    answered_s = time.monotonic() - started
    # Then the click is answered at once, and the card is edited afterwards (handed off)
    assert status == 200 and "acknowledged" in body["text"]
    assert answered_s < 3.0
    started = time.monotonic()
    deployment.settle()
    assert time.monotonic() - started >= 4.0  # the slow edit ran after the answer, not inside it
    [card] = [m for m in deployment.sinks.slack_messages.values() if not m["thread_ts"]]
    assert "Acknowledged by slack:U0LOCAL" in json.dumps(card["blocks"])


def test_forged_stale_or_unauthorised_clicks_change_nothing(deployment: LocalDeployment) -> None:
    incident_id = _alert(deployment)
    store = deployment.container.store
    # When Acknowledge arrives signed with the wrong secret, 6 minutes old, or from someone not
    # allowed to respond (responders are listed), and a confirm from a stranger
    # (the slack secret as the functions read it, with the responders listed)
    _set_slack_secret(deployment, {**deployment.container.secret("slack"), "responders": ["U0LOCAL"]})
    forged = _click(deployment, "acknowledge", f"{incident_id}|", secret="not-the-secret")
    stale = _click(deployment, "acknowledge", f"{incident_id}|", age_s=360)
    stranger = _click(deployment, "acknowledge", f"{incident_id}|", user="U0STRANGER")
    # Then each is refused and the incident is still unacknowledged
    assert (forged[0], stale[0], stranger[0]) == (401, 401, 403)
    incident = store.get_incident(deployment.tenant_id, incident_id)
    assert incident is not None and acknowledged_by(incident) is None
    assert not _audit(deployment, incident_id, "lifecycle.acknowledged")
    assert not _audit(deployment, incident_id, "incident.acknowledged")


def test_slash_command_status_incidents_ack_and_ask(deployment: LocalDeployment) -> None:
    incident_id = _alert(deployment)
    # /sre status and /sre status <service>
    status, body = _command(deployment, "status")
    assert status == 200 and body["response_type"] == "ephemeral" and incident_id in body["text"]
    _, body = _command(deployment, "status payments")
    assert body["text"] == "No open incidents on payments."
    # /sre incidents
    _, body = _command(deployment, "incidents")
    assert body["text"].startswith("1 open incident(s):") and "HighErrorRate" in body["text"]
    # /sre ask answers from the stored analysis
    _, body = _command(deployment, "ask why is checkout failing?")
    assert incident_id in body["text"] and ("Most likely causes" in body["text"] or "No hypothesis" in body["text"])
    # /sre ack acknowledges, and paging stops
    _, body = _command(deployment, f"ack {incident_id}")
    assert "acknowledged by slack:U0LOCAL" in body["text"]
    deployment.advance_to(START + timedelta(minutes=12))
    assert [c["to"] for c in deployment.sinks.calls] == [ONCALL]  # level 2 never called
    incident = deployment.container.store.get_incident(deployment.tenant_id, incident_id)
    assert incident is not None and acknowledged_by(incident) == "slack:U0LOCAL"
    # An unknown verb gets the usage; an unsigned request is refused
    _, body = _command(deployment, "dance")
    assert body["text"].startswith("Usage:")
    refused, _ = deployment.http("POST", "/callbacks/slack/commands", b"command=%2Fsre&text=incidents&user_id=U1",
                                 {"Content-Type": "application/x-www-form-urlencoded"})
    assert refused == 401


# -- approvals ------------------------------------------------------------------------------------------
@pytest.fixture
def pending_plan() -> Iterator[tuple[LocalDeployment, str, str]]:
    """The bundled demo up to the moment its rollback plan waits for a human."""
    from sre_copilot.local.replay import _change_body, _deliver, _load_metrics

    scenario = Scenario.load(BUNDLED_DEMO)
    timeline = sorted([(parse_time(c["at"]), 0, c) for c in scenario.changes]
                      + [(x.at, 1, x) for x in scenario.deliveries], key=lambda t: (t[0], t[1]))
    with LocalDeployment(start=timeline[0][0] - timedelta(minutes=1),
                         responders=Responders(ack_pages_after_s=None)) as d:
        d.put_catalog(scenario.catalog)
        _load_metrics(d, scenario)
        store = d.container.store
        pending: list[Any] = []
        for at, kind, item in timeline:
            d.advance_to(at)
            if kind == 0:
                d.http("POST", "/changes", json.dumps(_change_body(item)).encode(), {"Content-Type": "application/json"})
            else:
                _deliver(d, item)
            d.settle()
            pending = [(i.id, p.id) for i in store.open_incidents(d.tenant_id)
                       for p in store.actions_for(d.tenant_id, i.id) if p.approval.value == "pending"]
            if pending:
                break
        [(incident_id, plan_id)] = pending
        yield d, incident_id, plan_id


def _plan(deployment: LocalDeployment, incident_id: str, plan_id: str) -> Any:
    return next(p for p in deployment.container.store.actions_for(deployment.tenant_id, incident_id)
                if p.id == plan_id)


def test_a_signed_approval_from_an_approver_resumes_the_execution(
    pending_plan: tuple[LocalDeployment, str, str],
) -> None:
    deployment, incident_id, plan_id = pending_plan
    # When an approver clicks Approve
    status, body = _click(deployment, "approve", f"{incident_id}|{plan_id}")
    deployment.settle()
    # Then the execution runs the plan and verifies it, and the card says who approved
    assert status == 200 and "approved by" in body["text"]
    plan = _plan(deployment, incident_id, plan_id)
    assert (plan.approval.value, plan.approver) == ("approved", "slack:U0LOCAL")
    assert plan.status.value in ("executed", "verified")
    [card] = [m for m in deployment.sinks.slack_messages.values() if not m["thread_ts"]]
    assert "approved by slack:U0LOCAL" in json.dumps(card["blocks"])


def test_a_rejection_ends_the_plan_and_nothing_runs(pending_plan: tuple[LocalDeployment, str, str]) -> None:
    deployment, incident_id, plan_id = pending_plan
    status, _ = _click(deployment, "reject", f"{incident_id}|{plan_id}")
    deployment.settle()
    plan = _plan(deployment, incident_id, plan_id)
    # A rejection ends that plan (issue 18): it is skipped, never run
    assert status == 200 and plan.approval.value == "rejected" and plan.status.value == "skipped"
    assert "action.executed" not in [a.action for a in _audit(deployment, incident_id, "action.")]
    # A second answer to a decided plan changes nothing
    _click(deployment, "approve", f"{incident_id}|{plan_id}")
    assert _plan(deployment, incident_id, plan_id).approval.value == "rejected"


def test_forged_stale_or_unauthorised_approvals_change_nothing(
    pending_plan: tuple[LocalDeployment, str, str],
) -> None:
    deployment, incident_id, plan_id = pending_plan
    value = f"{incident_id}|{plan_id}"
    forged = _click(deployment, "approve", value, secret="forged")
    stale = _click(deployment, "approve", value, age_s=301)
    stranger = _click(deployment, "approve", value, user="U0NOTANAPPROVER")
    deployment.settle()
    # Forged and stale clicks are refused outright; a signed click from someone who is not an
    # approver gets a refusal only they see (the card stays as it is)
    assert (forged[0], stale[0]) == (401, 401)
    assert stranger[0] == 200 and stranger[1]["response_type"] == "ephemeral"
    assert "not an approver" in stranger[1]["text"]
    plan = _plan(deployment, incident_id, plan_id)
    assert (plan.approval.value, plan.status.value, plan.approver) == ("pending", "planned", None)


def test_a_p0_can_open_its_own_channel_and_invite_the_on_call(deployment: LocalDeployment) -> None:
    # Given incident channels switched on, with the checkout on-call's Slack user
    _set_slack_secret(deployment, {**deployment.container.secret("slack"), "incident_channel": True,
                                   "oncall_users": {"checkout": ["U0ONCALL"]}})
    # When a P0 opens
    incident_id = _alert(deployment)
    # Then it has its own channel with the on-call in it, the card lives there, and the team
    # channel points to it
    [channel] = deployment.sinks.slack_channels.values()
    assert channel["name"] == incident_id.lower() and channel["members"] == ["U0ONCALL"]
    [card] = [m for m in deployment.sinks.slack_messages.values() if m["blocks"]]
    assert card["channel"] == channel["id"]
    assert any(m["channel"] == "#inc-checkout" and f"<#{channel['id']}>" in m["text"]
               for m in deployment.sinks.slack_messages.values())
