"""Grouping rules: fingerprint, duplicate, graph, host, similarity, time window, host attribution, merges."""

from __future__ import annotations

from correlation_fixtures import CATALOG, alert

from sre_copilot.correlation import CorrelationConfig, CorrelationEngine, CorrelationOutcome
from sre_copilot.domain.catalog import Catalog


def engine(**config: object) -> CorrelationEngine:
    return CorrelationEngine(CATALOG, CorrelationConfig.model_validate(config) if config else None)


def test_same_fingerprint_joins_the_incident_even_after_the_window() -> None:
    # Given an open incident from a critical alert
    e = engine()
    first = e.ingest(alert("a1", 0, service="api", severity="critical", fp="api-5xx"))
    # When the same alert fires again 15 minutes later (past the 8-minute window, ingestion's dedup expired)
    again = e.ingest(alert("a2", 900, service="api", severity="warning", fp="api-5xx"))
    # Then it joins the same incident by fingerprint
    assert again.joined == first.incident_id
    assert again.explanation is not None and again.explanation.rule == "fingerprint"


def test_duplicate_joins_the_incident_of_its_original() -> None:
    e = engine()
    first = e.ingest(alert("a1", 0, service="db", severity="critical"))
    repeat = e.ingest(alert("a1-dup", 40, service="db", severity="critical", fp="fp-a1", duplicate_of="a1"))
    assert repeat.incident_id == first.incident_id and repeat.joined == first.incident_id
    assert repeat.explanation is not None and repeat.explanation.rule == "duplicate"


def test_caller_of_an_alerting_service_folds_in_with_the_graph_path() -> None:
    # Given api is alerting (critical, P1 opens at once)
    e = engine()
    opened = e.ingest(alert("api", 0, service="api", severity="critical"))
    # When web, which calls api, warns a minute later
    joined = e.ingest(alert("web", 60, service="web"))
    # Then it joins, explained by the call path
    assert joined.joined == opened.incident_id
    assert joined.explanation is not None
    assert joined.explanation.rule == "graph"
    assert joined.explanation.path == ["web", "api"]
    assert "web depends on api" in joined.explanation.evidence
    assert "60s earlier" in joined.explanation.evidence


def test_two_hop_dependency_folds_and_records_the_whole_path() -> None:
    e = engine()
    opened = e.ingest(alert("db", 0, service="db", severity="critical"))
    joined = e.ingest(alert("web", 120, service="web"))
    assert joined.joined == opened.incident_id
    assert joined.explanation is not None and joined.explanation.path == ["web", "api", "db"]
    assert joined.explanation.score < 0.6  # weaker than a direct call


def test_callers_of_a_shared_dependency_fold_together() -> None:
    e = engine()
    opened = e.ingest(alert("web", 0, service="web", severity="critical"))
    joined = e.ingest(alert("mobile", 30, service="mobile", severity="critical"))
    assert joined.joined == opened.incident_id
    assert joined.explanation is not None
    assert joined.explanation.path == ["mobile", "api", "web"]
    assert "both depend on api" in joined.explanation.evidence


def test_two_services_that_only_share_a_caller_stay_apart() -> None:
    # web and ledger are both called by admin; neither can break the other
    e = engine()
    web = e.ingest(alert("web", 0, service="web", severity="critical"))
    ledger = e.ingest(alert("ledger", 30, service="ledger", severity="critical"))
    assert ledger.opened and ledger.incident_id != web.incident_id
    # ...unless the graph is configured as undirected
    loose = engine(causal_paths_only=False)
    first = loose.ingest(alert("web", 0, service="web", severity="critical"))
    assert loose.ingest(alert("ledger", 30, service="ledger", severity="critical")).joined == first.incident_id


def test_services_beyond_max_hops_stay_apart() -> None:
    e = engine(max_hops=1)
    first = e.ingest(alert("db", 0, service="db", severity="critical"))
    second = e.ingest(alert("web", 30, service="web", severity="critical"))
    assert second.incident_id != first.incident_id


def test_related_alert_after_a_quiet_gap_longer_than_the_window_starts_anew() -> None:
    e = engine(window_s=300)
    first = e.ingest(alert("api", 0, service="api", severity="critical"))
    later = e.ingest(alert("web", 301, service="web", severity="critical"))
    assert later.opened and later.incident_id != first.incident_id


def test_window_is_measured_to_the_nearest_related_alert_not_the_incident_start() -> None:
    # A long incident keeps folding as long as each alert is near a related one
    e = engine(window_s=300)
    first = e.ingest(alert("db", 0, service="db", severity="critical"))
    e.ingest(alert("api", 250, service="api", severity="critical"))
    chained = e.ingest(alert("web", 500, service="web"))
    assert chained.joined == first.incident_id


def test_an_old_incident_takes_new_alerts_only_on_direct_evidence() -> None:
    # Given an incident that started 16 minutes ago and is still active (cascade_s is 15 minutes)
    e = engine(window_s=480, cascade_s=900)
    first = e.ingest(alert("db", 0, service="db", severity="critical", fp="db-down"))
    for minute in range(4, 17, 4):
        e.ingest(alert(f"api{minute}", minute * 60, service="api", fp=f"api-{minute}"))
    # When a related service starts failing now, it starts its own incident
    later = e.ingest(alert("web", 16 * 60 + 30, service="web", severity="critical"))
    assert later.opened and later.incident_id != first.incident_id
    # But the same alert firing again still joins the old incident
    refire = e.ingest(alert("db-again", 17 * 60, service="db", severity="critical", fp="db-down"))
    assert refire.joined == first.incident_id
    # And without the age limit the graph link would have folded it
    unlimited = engine(window_s=480, cascade_s=None)
    opened = unlimited.ingest(alert("db", 0, service="db", severity="critical"))
    for minute in range(4, 17, 4):
        unlimited.ingest(alert(f"api{minute}", minute * 60, service="api", fp=f"api-{minute}"))
    assert unlimited.ingest(alert("web", 16 * 60 + 30, service="web")).joined == opened.incident_id


def test_host_alarm_and_pods_of_different_services_on_it_fold_together() -> None:
    e = engine()
    host = e.ingest(alert("host", 0, host="host-a", severity="critical", alertname="StatusCheckFailed"))
    api_pod = e.ingest(alert("api-0", 60, service="api", instance="api-0", alertname="KubePodNotReady"))
    worker_pod = e.ingest(alert("worker-0", 90, service="worker", instance="worker-0", alertname="KubePodNotReady"))
    assert host.opened
    assert api_pod.joined == worker_pod.joined == host.incident_id
    assert api_pod.explanation is not None
    assert api_pod.explanation.rule == "host" and api_pod.explanation.path == ["host-a"]
    assert "host-a" in api_pod.explanation.evidence
    [incident] = e.incidents()
    assert incident.hosts == ["host-a"]
    assert set(incident.services) == {"api", "worker"}


def test_pods_of_different_services_on_one_host_fold_without_a_host_alarm() -> None:
    e = engine()
    first = e.ingest(alert("api-0", 0, service="api", instance="api-0"))
    second = e.ingest(alert("billing-0", 45, service="billing", instance="billing-0"))
    assert first.held
    assert second.opened and second.released == {"api-0": second.incident_id}
    assert second.explanation is not None and second.explanation.rule == "host"


def test_pods_on_a_failing_host_do_not_drag_in_a_nearby_service_outage() -> None:
    # Given a db outage with api alerting on it
    e = engine()
    outage = e.ingest(alert("db", 0, service="db", severity="critical"))
    e.ingest(alert("api", 30, service="api", severity="warning"))
    # When host-a fails two minutes later and its pods (one of them api's) go not-ready
    host = e.ingest(alert("host-a", 120, host="host-a", severity="critical", alertname="StatusCheckFailed"))
    api_pod = e.ingest(alert("api-0", 150, service="api", instance="api-0", alertname="KubePodNotReady"))
    worker_pod = e.ingest(alert("worker-0", 160, service="worker", instance="worker-0", alertname="KubePodNotReady"))
    # Then the pods belong to the host failure, and the two incidents stay apart
    assert host.incident_id != outage.incident_id
    assert api_pod.joined == worker_pod.joined == host.incident_id
    assert not api_pod.merged and not worker_pod.merged
    assert len([i for i in e.incidents() if not i.merged_into]) == 2


def _shared_node(elsewhere: int) -> Catalog:
    # node-1 runs an instance of four services; "orders" depends on "store", which runs on node-2
    # with `elsewhere` more services
    return Catalog.model_validate({
        "services": [*({"name": name, "tier": 1, "instances": [{"name": f"{name}-0", "host": "node-1"}]}
                       for name in ("cart", "search", "email")),
                     {"name": "orders", "tier": 1, "depends_on": ["store"],
                      "instances": [{"name": "orders-0", "host": "node-1"}]},
                     *({"name": name, "tier": 1, "instances": [{"name": f"{name}-0", "host": "node-2"}]}
                       for name in ["store", *(f"other{n}" for n in range(elsewhere))])],
        "hosts": [{"name": "node-1"}, {"name": "node-2"}]})


def _orders_pod_after_two_pods_on_node_1(catalog: Catalog) -> tuple[CorrelationEngine, str, CorrelationOutcome]:
    # Given a store outage, then pods of cart and search alerting on node-1, apart from it
    e = CorrelationEngine(catalog)
    store = e.ingest(alert("store", 0, service="store", severity="critical", catalog=catalog))
    assert store.incident_id is not None
    node = e.ingest(alert("cart-0", 10, service="cart", instance="cart-0", severity="critical", catalog=catalog))
    assert node.incident_id != store.incident_id
    e.ingest(alert("search-0", 20, service="search", instance="search-0", catalog=catalog))
    # When the pod of orders, which depends on the store, alerts on node-1 too
    return e, store.incident_id, e.ingest(alert("orders-0", 30, service="orders", instance="orders-0",
                                                catalog=catalog))


def test_a_node_running_most_of_the_estate_is_not_blamed_for_a_few_of_its_pods_alerting() -> None:
    # (node-1 runs four of the five services: three of them alerting there is what placement explains)
    e, store, orders = _orders_pod_after_two_pods_on_node_1(_shared_node(elsewhere=0))
    # Then the node is not the suspect, so the pod's dependency on the store counts: one incident
    assert orders.merged and orders.incident_id == store
    assert len([i for i in e.incidents() if not i.merged_into]) == 1


def test_a_node_running_a_small_share_of_the_estate_is_blamed_once_several_of_its_services_alert() -> None:
    # (node-1 runs four of fifteen services: three of them alerting there is more than placement explains)
    _e, store, orders = _orders_pod_after_two_pods_on_node_1(_shared_node(elsewhere=10))
    # Then the node is the suspect: the pod joins the node's incident by host only, apart from the store
    assert not orders.merged and orders.incident_id != store
    assert orders.explanation is not None and orders.explanation.rule == "host"


def test_without_host_attribution_the_pod_bridges_both_incidents() -> None:
    e = engine(host_attribution=False)
    outage = e.ingest(alert("db", 0, service="db", severity="critical"))
    e.ingest(alert("api", 30, service="api"))
    e.ingest(alert("host-a", 120, host="host-a", severity="critical"))
    bridged = e.ingest(alert("api-0", 150, service="api", instance="api-0"))
    assert bridged.merged and bridged.incident_id == outage.incident_id


def test_same_alert_name_on_the_same_service_is_a_similar_alert() -> None:
    e = engine()
    first = e.ingest(alert("l1", 0, service="api", severity="critical", alertname="HighLatencyP99"))
    second = e.ingest(alert("l2", 200, service="api", alertname="HighLatencyP99", fp="other-fp"))
    assert second.joined == first.incident_id
    assert second.explanation is not None and second.explanation.rule == "similar-alert"


def test_same_instance_with_another_alert_is_an_entity_match() -> None:
    e = engine()
    first = e.ingest(alert("p1", 0, service="api", instance="api-1", severity="critical", alertname="OOMKilled"))
    second = e.ingest(alert("p2", 30, service="api", instance="api-1", alertname="HighRestarts"))
    assert second.joined == first.incident_id
    assert second.explanation is not None and second.explanation.rule == "entity"


def test_later_evidence_connecting_two_incidents_merges_them() -> None:
    # Given db and cache outages: api calls both, but neither can cause the other, so two incidents
    e = engine()
    db = e.ingest(alert("db", 0, service="db", severity="critical"))
    cache = e.ingest(alert("cache", 20, service="cache", severity="critical"))
    assert db.incident_id != cache.incident_id
    # When api, which depends directly on both, starts failing
    bridge = e.ingest(alert("api", 60, service="api", severity="critical"))
    # Then the younger incident is merged into the older one, and the merge is explained
    assert bridge.merged == [(cache.incident_id, db.incident_id)]
    assert bridge.incident_id == db.incident_id
    by_id = {i.id: i for i in e.incidents()}
    assert by_id[cache.incident_id or ""].merged_into == db.incident_id
    survivor = by_id[db.incident_id or ""]
    assert set(survivor.signal_ids) >= {"db", "cache", "api"}
    assert survivor.merged_from == [cache.incident_id]
    merge = [x for x in survivor.explanations if x.rule == "merge"]
    assert merge and "api" in merge[0].evidence and merge[0].path == [cache.incident_id, db.incident_id]


def test_a_weak_two_hop_bridge_does_not_merge_incidents() -> None:
    e = engine()
    api = e.ingest(alert("api", 0, service="api", severity="critical"))
    queue = e.ingest(alert("queue", 10, service="queue", severity="critical"))
    # gateway reaches api (via web) and queue (via worker) in two hops each
    bridge = e.ingest(alert("gateway", 60, service="gateway", severity="critical"))
    assert not bridge.merged
    assert bridge.joined in {api.incident_id, queue.incident_id}


def test_merging_can_be_switched_off() -> None:
    e = engine(merge=False)
    db = e.ingest(alert("db", 0, service="db", severity="critical"))
    cache = e.ingest(alert("cache", 20, service="cache", severity="critical"))
    bridge = e.ingest(alert("api", 60, service="api", severity="critical"))
    # equally strong links: the alert joins the one whose related alert is nearest in time
    assert not bridge.merged and bridge.joined == cache.incident_id
    assert {i.id for i in e.incidents() if not i.merged_into} == {db.incident_id, cache.incident_id}


def test_a_held_alert_is_released_into_the_incident_that_absorbs_it() -> None:
    # Given a lone cache warning (held) and a db outage (open); they are not related to each other
    e = engine()
    held = e.ingest(alert("cache", 0, service="cache"))
    db = e.ingest(alert("db", 10, service="db", severity="critical"))
    assert held.held and db.opened
    # When api warns, linking both
    bridge = e.ingest(alert("api", 60, service="api"))
    # Then the held cache alert is pulled into the db incident
    assert bridge.joined == db.incident_id
    assert bridge.released == {"cache": db.incident_id}
    assert not bridge.merged  # a held group was never an incident
    assert e.group_of("cache") == db.incident_id
