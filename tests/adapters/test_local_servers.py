"""The local stand-ins themselves: provider semantics they promise, failure injection, the demo transcript."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from kubernetes.client import ApiClient, AppsV1Api, Configuration
from kubernetes.client.exceptions import ApiException

from sre_copilot.adapters.pagerduty_client import PagerDutyClient
from sre_copilot.adapters.slack_notifier import SlackNotifier
from sre_copilot.adapters.twilio_pager import TwilioPager
from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.incident import Incident
from sre_copilot.domain.reasoning import Hypothesis
from sre_copilot.local.k8s_api import LocalKubernetesApi, apply_json_patch, apply_merge_patch
from sre_copilot.local.sinks import LocalSinks
from sre_copilot.messages.phone import page_twiml

CARD: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": "P0 checkout down"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*State*\nDETECTED"}]},
        {"type": "actions", "elements": [{"type": "button", "action_id": "approve", "value": "i|p",
                                          "text": {"type": "plain_text", "text": "Approve rollback"}}]}]


def _apps(k8s: LocalKubernetesApi) -> AppsV1Api:
    configuration = Configuration(host=k8s.base_url, api_key={"BearerToken": "k8s-test-token"},
                                  api_key_prefix={"BearerToken": "Bearer"})
    return AppsV1Api(ApiClient(configuration))


# -- LocalSinks -----------------------------------------------------------------------------------

def test_transcript_tells_the_story_once_and_then_only_what_changed(
    sinks: LocalSinks, incident: Incident, hypotheses: list[Hypothesis],
) -> None:
    # Given the card posted, re-posted unchanged, then posted with a new state; a page; two equal notes
    slack = SlackNotifier(token="xoxb-test", base_url=sinks.slack_base_url)
    slack.post("#inc", "card", CARD)
    TwilioPager("AC" + "0" * 32, "token", "+15550000", base_url=sinks.twilio_base_url).call(
        "+15550100", page_twiml(incident, hypotheses[1], "https://x.example/cb"), "https://x.example/cb")
    slack.post("#inc", "card", CARD)
    moved: list[dict[str, Any]] = [CARD[0], {"type": "section", "fields": [{"type": "mrkdwn", "text": "*State*\nMITIGATED"}]}]
    slack.post("#inc", "card", moved)
    pagerduty = PagerDutyClient("pd-token", "copilot@example.com", base_url=sinks.pagerduty_base_url)
    pagerduty.add_note("Q1", "SRE Copilot analysis\n1. checkout")
    pagerduty.acknowledge("Q1")
    pagerduty.add_note("Q1", "SRE Copilot analysis\n1. checkout")
    # When the transcript is printed
    lines = sinks.printable_transcript().splitlines()
    # Then it follows arrival order, shows the first card in full and later ones as changes
    heads = [line for line in lines if line and not line.startswith(" ")]
    assert [h.split(" at ")[0] for h in heads] == ["Slack #inc", "Phone call to +15550100 from +15550000",
                                                   "Slack #inc", "Slack #inc", "PagerDuty Q1", "PagerDuty Q1",
                                                   "PagerDuty Q1"]
    assert "  ┃ P0 checkout down" in lines and "  ┃ State DETECTED" in lines and "  ┃ [Approve rollback]" in lines  # the header as written, not upper-cased
    assert heads[2].endswith("the same card again")
    assert heads[3].endswith("card updated (1 lines unchanged)") and "  ┃ State MITIGATED" in lines
    assert heads[5].endswith("status → acknowledged") and heads[6].endswith("the same note again")
    # And the call shows what the on-call hears, and what happens on silence
    assert any(line.startswith('  says: "This is S R E Copilot') for line in lines)
    assert '  if no key is pressed: "No key was pressed. Escalating to the next responder."' in lines


def test_injected_failures_hit_only_their_prefix_and_count(sinks: LocalSinks) -> None:
    sinks.fail_next("/pagerduty/incidents/Q2", 500, times=2)
    assert requests.put(f"{sinks.pagerduty_base_url}/incidents/Q1", timeout=5).status_code == 401  # not injected
    statuses = [requests.post(f"{sinks.pagerduty_base_url}/incidents/Q2/notes", timeout=5).status_code
                for _ in range(3)]
    assert statuses == [500, 500, 401]
    assert [r["status"] for r in sinks.requests_to("/pagerduty/incidents/Q2")] == [500, 500, 401]


def test_unknown_endpoints_answer_as_the_providers_would(sinks: LocalSinks) -> None:
    assert requests.get(f"{sinks.base_url}/nowhere", timeout=5).status_code == 404
    slack = requests.post(f"{sinks.slack_base_url}reactions.add", headers={"Authorization": "Bearer x"},
                          timeout=5)
    assert slack.json() == {"ok": False, "error": "unknown_method"}
    twilio = requests.get(f"{sinks.twilio_base_url}/2010-04-01/Accounts/AC1/Calls.json", timeout=5)
    assert twilio.status_code == 404 and twilio.json()["code"] == 20404


def test_sinks_must_be_started_before_use() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = LocalSinks().slack_base_url


# -- LocalKubernetesApi -------------------------------------------------------------------------------

def test_seed_skips_non_kubernetes_services_and_is_idempotent(k8s: LocalKubernetesApi,
                                                              demo_catalog: Catalog) -> None:
    count = len(k8s.deployments)
    assert k8s.seed(demo_catalog) == []
    assert len(k8s.deployments) == count
    assert all(ns == "shop" for ns, _ in k8s.deployments)
    assert ("shop", "payments-db") not in k8s.deployments


def _items(listed: Any) -> list[dict[str, Any]]:
    """The client's typed list as the plain JSON objects the API sent."""
    return list(ApiClient().sanitize_for_serialization(listed)["items"])


def test_list_by_label_selector(k8s: LocalKubernetesApi) -> None:
    apps = _apps(k8s)
    checkout = _items(apps.list_namespaced_deployment("shop", label_selector="app=checkout"))
    assert [d["metadata"]["name"] for d in checkout] == ["checkout"]
    others = _items(apps.list_namespaced_deployment("shop", label_selector="app!=checkout"))
    assert "checkout" not in {d["metadata"]["name"] for d in others} and len(others) == len(k8s.deployments) - 1
    replica_sets = _items(apps.list_namespaced_replica_set("shop", label_selector="app=checkout"))
    assert sorted(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for rs in replica_sets) == \
        ["1", "2"]
    assert all(rs["metadata"]["ownerReferences"][0]["name"] == "checkout" for rs in replica_sets)


def test_merge_patch_and_strategic_merge_of_containers(k8s: LocalKubernetesApi) -> None:
    apps = _apps(k8s)
    # A strategic merge patch merges the container list by name (keeps the port, changes the image)
    apps.patch_namespaced_deployment("checkout", "shop", {"spec": {"template": {"spec": {"containers": [
        {"name": "checkout", "image": "registry.local/shop/checkout:rev3"}]}}}})
    container = k8s.deployment("shop", "checkout")["spec"]["template"]["spec"]["containers"][0]
    assert container == {"name": "checkout", "image": "registry.local/shop/checkout:rev3",
                         "ports": [{"containerPort": 8080, "protocol": "TCP"}]}
    assert k8s.revisions("shop", "checkout")[3] == "registry.local/shop/checkout:rev3"
    # A JSON merge patch replaces lists and deletes keys set to null
    apps.patch_namespaced_deployment("checkout", "shop", {"spec": {"revisionHistoryLimit": None}},
                                     _content_type="application/merge-patch+json")
    assert "revisionHistoryLimit" not in k8s.deployment("shop", "checkout")["spec"]


@pytest.mark.parametrize(("patch", "message"), [
    ([{"op": "replace", "path": "/spec/selector", "value": {"matchLabels": {"app": "x"}}}], "immutable"),
    ([{"op": "replace", "path": "/spec/replicas", "value": -1}], "non-negative"),
    ([{"op": "replace", "path": "/spec/template/spec/containers", "value": []}], "name and an image"),
    ([{"op": "test", "path": "/spec/replicas", "value": 99}], "test failed"),
    ([{"op": "replace", "path": "/spec/nothing", "value": 1}], "does not exist"),
])
def test_invalid_patches_are_refused_and_change_nothing(k8s: LocalKubernetesApi, patch: list[dict[str, Any]],
                                                         message: str) -> None:
    before = k8s.deployment("shop", "checkout")
    with pytest.raises(ApiException) as raised:
        _apps(k8s).patch_namespaced_deployment("checkout", "shop", patch)
    assert raised.value.status == 422 and message in str(raised.value.body)
    assert k8s.deployment("shop", "checkout") == before


def test_only_dry_run_all_is_accepted(k8s: LocalKubernetesApi) -> None:
    with pytest.raises(ApiException) as raised:
        _apps(k8s).patch_namespaced_deployment("checkout", "shop", {"spec": {"replicas": 5}}, dry_run="Some")
    assert raised.value.status == 400


def test_bearer_token_is_required_when_configured(k8s: LocalKubernetesApi) -> None:
    anonymous = AppsV1Api(ApiClient(Configuration(host=k8s.base_url)))
    with pytest.raises(ApiException) as raised:
        anonymous.read_namespaced_deployment("checkout", "shop")
    assert raised.value.status == 401


def test_patch_helpers_follow_the_rfcs() -> None:
    doc = {"a": {"b": [1, 2], "c": "x"}}
    assert apply_json_patch(doc, [{"op": "add", "path": "/a/b/-", "value": 3},
                                  {"op": "remove", "path": "/a/c"}]) == {"a": {"b": [1, 2, 3]}}
    assert apply_json_patch({"a~b": {"c/d": 1}}, [{"op": "replace", "path": "/a~0b/c~1d", "value": 2}]) == \
        {"a~b": {"c/d": 2}}
    assert apply_merge_patch(doc, {"a": {"b": [9], "c": None}}, strategic=False) == {"a": {"b": [9]}}
    assert doc == {"a": {"b": [1, 2], "c": "x"}}  # inputs are not mutated
