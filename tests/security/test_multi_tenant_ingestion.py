"""Multi-tenant ingestion on the embedded deployment: the per-tenant webhook key names the delivery's
tenant, and everything downstream (archive, signals, dedup, queue, correlation, the workflow, the
read API) keeps each tenant's alerts to itself. Two tenants here send the very same alert (same
bytes, fingerprint and service) at the same moment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sre_copilot.adapters.secrets import clear_secret_cache
from sre_copilot.api.routes import app
from sre_copilot.domain.incident import IncidentState
from sre_copilot.domain.types import format_time
from sre_copilot.ingest import tenant_keys
from sre_copilot.local.runtime import (
    LOCAL_APPROVER,
    LOCAL_SECRETS,
    LOCAL_SLACK_TEAM,
    LocalDeployment,
    Responders,
)
from sre_copilot.messages.slack import ACK_ACTION_ID

START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
CATALOG = {"services": [{"name": "checkout", "depends_on": [], "team": "t", "tier": 1}]}
KEYS = {"acme": "k-acme-1", "globex": "k-globex-1"}
ACME_CHANNEL = "C0ACME"
GLOBEX_ACCOUNT = "210987654321"
ALARM_EVENT = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "webhooks" / (
    "cloudwatch_eventbridge_state_change_single_metric_awsdocs.json")


def _alert(at: datetime, *, receiver: str = "r", labels: dict[str, str] | None = None,
           status: str = "firing") -> bytes:
    labels = {"alertname": "HighErrorRate", "severity": "critical", "service": "checkout", **(labels or {})}
    alert = {"status": status, "labels": labels, "annotations": {"summary": "errors"},
             "startsAt": format_time(at), "generatorURL": "http://prom", "fingerprint": "f1",
             "endsAt": format_time(at) if status == "resolved" else "0001-01-01T00:00:00Z"}
    return json.dumps({"receiver": receiver, "status": status, "version": "4", "groupKey": "{}",
                       "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": labels, "commonAnnotations": {},
                       "externalURL": "http://am", "alerts": [alert]}).encode()


@pytest.fixture()
def deployment(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalDeployment]:
    """Given a deployment (tenant "default") deployed to serve acme and globex too (cdk.json
    `tenants`), whose webhook secret lists a key of each (and of initech, which it does not serve),
    each served tenant with its own catalog."""
    # Deployed as the stack sets it (the local runtime keeps what it does not set itself).
    monkeypatch.setenv("SRE_COPILOT_SERVED_TENANTS", ",".join(KEYS))
    monkeypatch.setenv("SRE_COPILOT_SLACK_CHANNEL_TENANTS", f"{ACME_CHANNEL}=acme")  # cdk.json slack_channel_tenants
    monkeypatch.setenv("SRE_COPILOT_AWS_SOURCE_TENANTS", f"{GLOBEX_ACCOUNT}=globex")  # cdk.json aws_source_tenants
    with LocalDeployment(start=START, responders=Responders(ack_pages_after_s=None)) as d:
        d.put_catalog(CATALOG)
        for tenant in KEYS:
            d.container.blobs.put_json(f"catalog/{tenant}.json", CATALOG)
        d.session.client("secretsmanager").put_secret_value(
            SecretId="sre-copilot/webhook", SecretString=json.dumps(
                {**LOCAL_SECRETS["webhook"],
                 "tenant_keys": {t: [tenant_keys.digest(k)] for t, k in {**KEYS, "initech": "k-initech-1"}.items()}}))
        clear_secret_cache()  # stands in for the secrets' max age passing
        yield d


def _post(d: LocalDeployment, body: bytes, key: str | None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["X-Sre-Copilot-Tenant-Key"] = key
    return d.http("POST", "/webhooks/alertmanager", body, headers)


def _api(tenant: str, path: str) -> tuple[int, dict[str, Any]]:
    """The read API as API Gateway calls it after the JWT authorizer accepted a token of `tenant`."""
    claims = {"sub": f"viewer-of-{tenant}", "custom:tenant_id": tenant, "cognito:groups": ["viewer"]}
    event = {
        "version": "2.0", "routeKey": f"GET {path}", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/json"}, "isBase64Encoded": False,
        "requestContext": {"accountId": "123456789012", "apiId": "api", "domainName": "api.example",
                           "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "192.0.2.1", "userAgent": "test"},
                           "authorizer": {"jwt": {"claims": claims, "scopes": None}},
                           "requestId": "req-1", "routeKey": f"GET {path}", "stage": "$default",
                           "time": "01/Jun/2026:08:00:00 +0000", "timeEpoch": 1780300800000},
    }
    response = app.resolve(event, None)
    return response["statusCode"], json.loads(response["body"] or "{}")



def _queued(d: LocalDeployment) -> list[dict[str, Any]]:
    sqs = d.session.client("sqs")
    return [json.loads(m["Body"]) for url in d.queue_urls.values()
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
            .get("Messages", [])]


def test_two_tenants_sending_the_same_alert_each_get_their_own_incident(deployment: LocalDeployment) -> None:
    store = deployment.container.store
    # When acme and globex send the same alert (same bytes) at the same moment, with their own keys
    accepted = {tenant: _post(deployment, _alert(START), key) for tenant, key in KEYS.items()}
    # Then both are accepted as new deliveries: neither is taken for a retry of the other's
    assert all(status == 202 and not body.get("retry") for status, body in accepted.values())
    signal_ids = {tenant: {s["id"] for s in body["signals"]} for tenant, (_, body) in accepted.items()}
    assert all(signal_ids.values()) and not signal_ids["acme"] & signal_ids["globex"]
    # And neither tenant's signal is a duplicate of the other's
    assert [s["duplicate_of"] for _, body in accepted.values() for s in body["signals"]] == [None, None]
    deployment.advance_to(START + timedelta(minutes=2))
    incidents = {tenant: store.open_incidents(tenant) for tenant in KEYS}
    # Then each tenant has exactly one incident, holding only its own signals, and the deployment's
    # own tenant has none
    assert [len(found) for found in incidents.values()] == [1, 1]
    assert store.open_incidents("default") == []
    for tenant, (incident,) in incidents.items():
        other = "globex" if tenant == "acme" else "acme"
        assert incident.tenant_id == tenant
        assert set(incident.signal_ids) == signal_ids[tenant]
        assert all(store.get_signal(tenant, sid) is not None for sid in incident.signal_ids)
        assert all(store.get_signal(other, sid) is None for sid in incident.signal_ids)
        assert store.get_incident(other, incident.id) is None
        # And its workflow ran as that tenant's: analysed, notified and audited under it
        assert incident.execution and incident.hypotheses
        assert store.notifications_for(tenant, incident.id)
        assert "incident.opened" in [r.action for r in store.for_subject(tenant, incident.id)]
        assert store.load_correlation_state(tenant)[0] is not None
    assert incidents["acme"][0].execution != incidents["globex"][0].execution
    assert store.load_correlation_state("default")[0] is None
    # And each tenant's read API (its own JWT) lists only its own incident and cannot read the other's
    acme_id, globex_id = incidents["acme"][0].id, incidents["globex"][0].id
    for tenant, own, theirs in (("acme", acme_id, globex_id), ("globex", globex_id, acme_id)):
        status, body = _api(tenant, "/v1/incidents")
        assert status == 200 and [i["id"] for i in body["incidents"]] == [own], tenant
        status, _ = _api(tenant, f"/v1/incidents/{theirs}")
        assert status == 404, tenant


def test_the_key_decides_the_tenant_not_the_payload(deployment: LocalDeployment) -> None:
    # When acme's key delivers an alert whose labels claim it is globex's
    status, body = _post(deployment, _alert(START, labels={"tenant_id": "globex", "tenant": "globex"}), KEYS["acme"])
    # Then it lands in acme, and globex holds nothing
    assert status == 202
    [signal_id] = [s["id"] for s in body["signals"]]
    assert [r["tenant_id"] for r in deployment.raw_archive_records()] == ["acme"]
    assert [m["tenant_id"] for m in _queued(deployment)] == ["acme"]
    assert body["raw_ref"] and "k-acme-1" not in json.dumps(body)
    # And correlation stores the signal in acme (from its queue message, which names the tenant)
    deployment.advance_to(START + timedelta(minutes=16))
    assert deployment.container.store.get_signal("acme", signal_id) is not None
    assert deployment.container.store.get_signal("globex", signal_id) is None


@pytest.mark.parametrize("key", [None, "", "k-umbrella-1", "K-ACME-1", "k-initech-1"])
def test_a_missing_unknown_or_unserved_key_is_refused_before_anything_is_stored(deployment: LocalDeployment,
                                                                       key: str | None) -> None:
    # When a delivery carries no key, or a key of no tenant
    status, body = _post(deployment, _alert(START), key)
    # Then it is refused with 401 and nothing of it is archived, queued or remembered
    if key == "k-initech-1":
        # (a valid key of a tenant the stack was not deployed for: the operator's error, said so,
        # and a 5xx so that the sender retries once the stack serves it)
        assert status == 500 and body["code"] == "configuration_error" and "`tenants`" in body["error"]
    else:
        assert status == 401 and body["code"] == "unauthorized"
    assert deployment.raw_archive_records() == [] and _queued(deployment) == []
    idempotency = deployment.session.client("dynamodb").scan(TableName="sre-copilot-idempotency")["Items"]
    assert idempotency == []
    deployment.settle()
    assert all(deployment.container.store.open_incidents(t) == [] for t in (*KEYS, "default"))


def test_a_duplicate_in_one_tenant_does_not_suppress_the_same_alert_in_another(deployment: LocalDeployment) -> None:
    # Given acme's alert accepted
    _, first = _post(deployment, _alert(START), KEYS["acme"])
    # When acme re-sends it (another delivery of the same alert) and globex sends the same alert
    _, again = _post(deployment, _alert(START, receiver="r2"), KEYS["acme"])
    _, other = _post(deployment, _alert(START, receiver="r2"), KEYS["globex"])
    # Then acme's repeat is a duplicate of acme's first signal, and globex's is a signal of its own
    assert again["signals"][0]["duplicate_of"] == first["signals"][0]["id"]
    assert other["signals"][0]["duplicate_of"] is None
    # And only the two originals are queued for correlation, each under its tenant
    assert sorted(m["tenant_id"] for m in _queued(deployment)) == ["acme", "globex"]
    deployment.advance_to(START + timedelta(minutes=16))
    assert deployment.container.store.get_signal("globex", other["signals"][0]["id"]) is not None


def test_each_tenant_is_classified_with_its_own_catalog(deployment: LocalDeployment) -> None:
    # Given globex lists checkout as a tier-4 service (at most P2), acme as tier 1
    deployment.container.blobs.put_json("catalog/globex.json", {"services": [
        {"name": "checkout", "depends_on": [], "team": "t", "tier": 4}]})
    # When both send the same critical alert
    _, acme = _post(deployment, _alert(START), KEYS["acme"])
    _, globex = _post(deployment, _alert(START), KEYS["globex"])
    # Then each is classified against its own tenant's catalog
    assert (acme["signals"][0]["priority"], globex["signals"][0]["priority"]) == ("P0", "P2")


def test_the_sweeper_serves_every_tenant_not_only_the_deployments(deployment: LocalDeployment) -> None:
    store = deployment.container.store
    # Given an incident of acme (not the deployment's tenant), analysed and parked
    assert _post(deployment, _alert(START), KEYS["acme"])[0] == 202
    deployment.advance_to(START + timedelta(minutes=2))
    [incident] = store.open_incidents("acme")
    # When its alert clears and stays clear past the resolution window (the sweeper's job, each minute)
    assert _post(deployment, _alert(START + timedelta(minutes=2), status="resolved"), KEYS["acme"])[0] == 202
    deployment.advance_to(START + timedelta(minutes=10))
    # Then the sweeper resolved and documented it as acme's
    closed = store.get_incident("acme", incident.id)
    assert closed is not None and closed.state is IncidentState.LEARNED
    assert "incident.opened" in [r.action for r in store.for_subject("acme", incident.id)]


def test_a_tenants_malformed_delivery_is_kept_for_review_as_that_tenants(deployment: LocalDeployment) -> None:
    # When globex's key delivers a body that is not an Alertmanager payload
    status, _ = _post(deployment, b'{"receiver": "r", "alerts": "not a list"}', KEYS["globex"])
    # Then it is answered 4xx, archived as globex's, and the review message names globex
    assert 400 <= status < 500
    assert [r["tenant_id"] for r in deployment.raw_archive_records()] == ["globex"]
    sqs = deployment.session.client("sqs")
    [review] = sqs.receive_message(QueueUrl=deployment.review_queue_url).get("Messages", [])
    assert json.loads(review["Body"])["tenant_id"] == "globex"


def _signed_slack(d: LocalDeployment, path: str, form: dict[str, str]) -> tuple[int, Any]:
    """A form post signed with the Slack app's signing secret, as Slack sends it."""
    from urllib.parse import urlencode

    from slack_sdk.signature import SignatureVerifier

    body = urlencode(form)
    timestamp = str(int(d.clock.now().timestamp()))
    signature = SignatureVerifier(LOCAL_SECRETS["slack"]["signing_secret"]).generate_signature(
        timestamp=timestamp, body=body) or ""
    return d.http("POST", path, body.encode(), {
        "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded"})


def _slack_click(d: LocalDeployment, action_id: str, value: str) -> tuple[int, Any]:
    """A Slack button click (the card's value names only the incident)."""
    payload = {"type": "block_actions", "user": {"id": LOCAL_APPROVER, "username": "oncall"},
               "team": {"id": LOCAL_SLACK_TEAM}, "actions": [{"action_id": action_id, "value": value}]}
    return _signed_slack(d, "/callbacks/slack/interactions", {"payload": json.dumps(payload)})


def test_slack_clicks_and_phone_keypresses_reach_the_incidents_own_tenant(deployment: LocalDeployment) -> None:
    store = deployment.container.store
    # Given one paged incident in each tenant
    for key in KEYS.values():
        assert _post(deployment, _alert(START), key)[0] == 202
    deployment.advance_to(START + timedelta(minutes=1))
    acme, globex = (store.open_incidents(t)[0] for t in KEYS)
    # When the on-call clicks Acknowledge on globex's Slack card
    status, _ = _slack_click(deployment, ACK_ACTION_ID, f"{globex.id}|")
    assert status == 200
    deployment.settle()
    # Then globex's incident is acknowledged, by them, and audited under globex
    acked = store.get_incident("globex", globex.id)
    assert acked is not None and acked.state is IncidentState.ACKNOWLEDGED
    assert ("lifecycle.acknowledged", f"slack:{LOCAL_APPROVER}") in [
        (r.action, r.actor) for r in store.for_subject("globex", globex.id)]
    # And when acme's on-call presses 1 on the paging call, acme's incident is acknowledged
    [call] = [n for n in store.notifications_for("acme", acme.id) if n.channel.value == "phone"][:1]
    deployment._press_key(acme.id, call.provider_id or "", call.target)
    deployment.settle()
    acked = store.get_incident("acme", acme.id)
    assert acked is not None and acked.state is IncidentState.ACKNOWLEDGED
    assert store.get_incident("default", acme.id) is None


def _slash(d: LocalDeployment, text: str, channel: str) -> tuple[int, Any]:
    """A `/sre` command from `channel`."""
    return _signed_slack(d, "/callbacks/slack/commands", {
        "command": "/sre", "text": text, "user_id": LOCAL_APPROVER, "channel_id": channel,
        "team_id": LOCAL_SLACK_TEAM})


def test_sre_commands_in_a_tenants_channel_see_and_act_on_that_tenants_incidents_only(
        deployment: LocalDeployment) -> None:
    store = deployment.container.store
    # Given one open incident in acme and one in globex, and acme's channel mapped to acme
    for key in KEYS.values():
        assert _post(deployment, _alert(START), key)[0] == 202
    deployment.advance_to(START + timedelta(minutes=1))
    acme, globex = (store.open_incidents(t)[0] for t in KEYS)
    # When someone runs `/sre incidents` in acme's channel
    status, body = _slash(deployment, "incidents", ACME_CHANNEL)
    # Then it lists acme's incident and not globex's
    assert status == 200 and acme.id in body["text"] and globex.id not in body["text"]
    # And in a channel no tenant is mapped to, it lists the deployment's own tenant's (none here)
    assert _slash(deployment, "incidents", "C0OTHER")[1]["text"] == "No open incidents."
    # When someone in acme's channel tries to acknowledge globex's incident
    status, body = _slash(deployment, f"ack {globex.id}", ACME_CHANNEL)
    # Then it is refused as unknown there, and globex's incident is untouched
    assert status == 404, body
    assert store.get_incident("globex", globex.id).state is IncidentState.DETECTED  # type: ignore[union-attr]
    # And acknowledging acme's own incident there works, audited under acme
    status, body = _slash(deployment, f"ack {acme.id}", ACME_CHANNEL)
    assert status == 200, body
    acked = store.get_incident("acme", acme.id)
    assert acked is not None and acked.state is IncidentState.ACKNOWLEDGED
    assert ("lifecycle.acknowledged", f"slack:{LOCAL_APPROVER}") in [
        (r.action, r.actor) for r in store.for_subject("acme", acme.id)]
    # And in an unmapped channel, a command naming globex's incident works on globex's (as a card click)
    status, body = _slash(deployment, f"ack {globex.id}", "C0OTHER")
    assert status == 200, body
    acked = store.get_incident("globex", globex.id)
    assert acked is not None and acked.state is IncidentState.ACKNOWLEDGED


def test_aws_alarms_carry_no_key_so_their_account_names_the_tenant(deployment: LocalDeployment) -> None:
    store = deployment.container.store
    # Given tenant keys in force, and globex's AWS account mapped to globex (cdk.json aws_source_tenants)
    results = {}
    for account in (GLOBEX_ACCOUNT, "123456789012"):
        event = json.loads(ALARM_EVENT.read_text())
        event["account"] = account
        # When an EventBridge rule invokes ingest with a CloudWatch alarm (no HTTP headers, no key)
        with deployment.executions.turn():
            raw, errored, _ = deployment.lambdas.invoke("ingest", event)
        assert not errored
        results[account] = json.loads(raw)
    # Then both are accepted, not refused for want of a key
    assert [r["status"] for r in results.values()] == [202, 202], results
    # And the mapped account's alarm is globex's, the unmapped one the deployment's own
    deployment.advance_to(deployment.clock.now() + timedelta(minutes=16))
    for account, tenant in ((GLOBEX_ACCOUNT, "globex"), ("123456789012", "default")):
        [signal] = results[account]["signals"]
        assert store.get_signal(tenant, signal["id"]) is not None, (account, tenant)
        assert all(store.get_signal(other, signal["id"]) is None for other in ("default", *KEYS) if other != tenant)


def test_a_tenants_postmortem_draft_reads_that_tenants_catalog(deployment: LocalDeployment) -> None:
    # Given the deployment's own catalog, where web calls checkout, and acme's, where nothing does
    deployment.put_catalog({"services": [{"name": "web", "depends_on": ["checkout"], "tier": 1},
                                         {"name": "checkout", "depends_on": [], "tier": 1}]})
    assert _post(deployment, _alert(START), KEYS["acme"])[0] == 202
    deployment.advance_to(START + timedelta(minutes=2))
    [incident] = deployment.container.store.open_incidents("acme")
    # When acme reads the open incident's postmortem draft through the read API
    status, body = _api("acme", f"/v1/incidents/{incident.id}/postmortem")
    # Then the draft judges checkout by acme's catalog (customer-facing: nobody calls it there)
    assert status == 200
    assert "Customer-facing services (no caller in the catalog): checkout" in body["markdown"]
