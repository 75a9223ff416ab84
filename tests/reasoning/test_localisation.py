"""Anomaly localisation: cause over symptoms on anomaly-detector alerts (reasoning/localisation.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shop_catalog import shop_catalog

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.signal import Signal
from sre_copilot.domain.types import EntityKind, Severity, SignalStatus
from sre_copilot.reasoning.localisation import (
    FEATURES,
    fault_class,
    faulty_error_move,
    healthy_move,
    localise,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CATALOG = shop_catalog(shop_host="n2", hosts=("n1", "n2", "n3"))
_n = iter(range(10_000))


def metric(pod: str, name: str, at_s: float, direction: str = "up") -> Signal:
    svc, host, inst = CATALOG.find_instance(pod) or (None, None, pod)
    return Signal(id=f"s{next(_n)}", source="alertmanager", status=SignalStatus.FIRING, severity=Severity.WARNING,
                  event_time=T0 + timedelta(seconds=at_s), received_at=T0 + timedelta(seconds=at_s),
                  title=f"{name} {direction} on {pod}", labels={"metric": name, "direction": direction},
                  service=svc, entity=inst, entity_kind=EntityKind.INSTANCE, host=host, fingerprint=f"fp-{pod}-{name}")


def call(client: str, server: str, at_s: float) -> Signal:
    return Signal(id=f"s{next(_n)}", source="alertmanager", status=SignalStatus.FIRING, severity=Severity.WARNING,
                  event_time=T0 + timedelta(seconds=at_s), received_at=T0 + timedelta(seconds=at_s),
                  title=f"latency {client} -> {server}", labels={"client": client, "server": server},
                  fingerprint=f"fp-{client}-{server}")


def test_the_pod_with_resource_anomalies_and_slow_for_its_callers_ranks_first() -> None:
    # Given cart-1 with CPU and memory anomalies, slow for both front pods, and front pods with latency only
    signals = [metric("cart-1", "container_cpu_usage_seconds", 0), metric("cart-1", "container_memory_rss", 10),
               call("front-0", "cart-1", 20), call("front-1", "cart-1", 25),
               metric("front-0", "grpc_latency", 40), metric("front-1", "grpc_latency", 45)]
    # When the entities are ranked
    ranked = localise(signals, CATALOG)
    # Then cart-1 comes first, as an instance of cart, with a resource fault class
    assert ranked[0].entity == "cart-1" and ranked[0].service == "cart" and ranked[0].kind is EntityKind.INSTANCE
    assert ranked[0].score == 1.0
    assert ranked[0].fault.startswith(("container CPU", "container memory"))
    assert {"resource", "trace", "onset"} <= set(ranked[0].features)


def test_a_node_whose_pods_are_quiet_is_the_suspect_of_its_node_anomalies() -> None:
    # Given node-level CPU and disk anomalies on n3 (no pods) and one latency anomaly on a pod
    signals = [Signal(id=f"n{i}", source="alertmanager", status=SignalStatus.FIRING, severity=Severity.WARNING,
                      event_time=T0 + timedelta(seconds=i), received_at=T0 + timedelta(seconds=i), title="node",
                      labels={"metric": m, "direction": "up"}, entity="n3", entity_kind=EntityKind.HOST, host="n3",
                      fingerprint=f"fp-n3-{m}") for i, m in enumerate(["system.cpu.pct", "system.io.w_s"])]
    signals.append(metric("front-0", "grpc_latency", 30))
    # Then the node ranks first, as a host
    ranked = localise(signals, CATALOG)
    assert ranked[0].entity == "n3" and ranked[0].kind is EntityKind.HOST


def test_threshold_alerts_without_direction_are_left_to_the_structural_generators() -> None:
    plain = metric("cart-1", "x", 0).model_copy(update={"labels": {"alertname": "HighCPU"}})
    assert localise([plain], CATALOG) == []


def test_every_feature_can_be_switched_off() -> None:
    signals = [metric("cart-1", "container_cpu_usage_seconds", 0), call("front-0", "cart-1", 5)]
    for removed in FEATURES:
        ranked = localise(signals, CATALOG, features=[f for f in FEATURES if f != removed])
        assert ranked and all(removed not in s.features for s in ranked)


def test_metric_names_map_to_fault_classes() -> None:
    assert fault_class("container_cpu_usage_seconds") == "CPU"
    assert fault_class("system.mem.used") == "memory"
    assert fault_class("container_fs_reads_bytes") == "disk I/O"
    assert fault_class("container_network_receive_packets") == "network"
    assert fault_class("grpc-mrt") == "latency"


def test_a_chronic_anomaly_yields_to_an_unusual_one_when_weights_say_so() -> None:
    # Given a pod with many alerts that fire in every incident, and one with fewer unusual ones
    chronic = [metric("cart-1", name, 0) for name in ("mem_usage", "cpu_usage", "fs_reads", "threads")]
    unusual = [metric("shop-0", name, 30) for name in ("net_receive", "cpu_usage")]
    signals = chronic + unusual
    # When nothing is known about how usual they are, the busier pod leads
    assert localise(signals, CATALOG)[0].entity == "cart-1"
    # Then with the history's weights (chronic 0.1, unusual 1.0) the unusual pod leads
    weights = {s.id: 0.1 for s in chronic} | {s.id: 1.0 for s in unusual}
    assert localise(signals, CATALOG, weights=weights)[0].entity == "shop-0"
    # And switching the `rarity` feature off ignores the weights
    without = localise(signals, CATALOG, weights=weights, features=[f for f in FEATURES if f != "rarity"])
    assert without[0].entity == "cart-1"


def test_several_replicas_slow_for_their_callers_make_the_service_a_suspect() -> None:
    # Given both replicas of cart slow for the front pods
    signals = [call("front-0", "cart-0", 0), call("front-1", "cart-1", 5), call("front-0", "cart-1", 10)]
    # When the anomalies are ranked
    ranked = localise(signals, CATALOG)
    # Then the service itself leads, as a service suspect, ahead of either replica
    assert (ranked[0].entity, ranked[0].kind) == ("cart", EntityKind.SERVICE)
    assert {s.entity for s in ranked[1:]} >= {"cart-0", "cart-1"}
    # And one slow replica alone stays an instance suspect
    alone = localise([call("front-0", "cart-0", 0), call("front-1", "cart-0", 5)], CATALOG)
    assert all(s.kind is not EntityKind.SERVICE for s in alone)


def service_metric(service: str, name: str, at_s: float, direction: str = "up") -> Signal:
    return Signal(id=f"s{next(_n)}", source="alertmanager", status=SignalStatus.FIRING, severity=Severity.WARNING,
                  event_time=T0 + timedelta(seconds=at_s), received_at=T0 + timedelta(seconds=at_s),
                  title=f"{name} {direction} on {service}", labels={"metric": name, "direction": direction},
                  service=service,
                  entity=service, entity_kind=EntityKind.SERVICE, fingerprint=f"fp-{service}-{name}")


def test_anomalies_that_start_minutes_after_the_first_alert_count_less() -> None:
    # Given shop-0 with two resource anomalies at the incident's start, and cart-1 with three that
    # start ten minutes later (where a fault's symptoms have had time to spread)
    signals = [metric("shop-0", "container_cpu_usage_seconds", 0), metric("shop-0", "container_memory_rss", 5),
               *(metric("cart-1", m, 600) for m in ("container_fs_reads", "container_threads", "container_net_rx"))]
    # When the entities are ranked, with and without the decay
    ranked = localise(signals, CATALOG)
    undecayed = localise(signals, CATALOG, features=[f for f in FEATURES if f != "decay"])
    # Then the early one comes first; counted flat, the later one's extra alert would win
    assert ranked[0].entity == "shop-0"
    assert undecayed[0].entity == "cart-1"


def test_an_anomaly_most_pods_share_counts_less_than_one_only_a_single_pod_shows() -> None:
    # Given four pods with the same memory and thread anomalies, and shop-0 alone with a CPU anomaly
    signals = [metric(pod, m, 0) for pod in ("front-0", "front-1", "cart-0", "cart-1")
               for m in ("container_memory_usage_MB", "container_threads")]
    signals.append(metric("shop-0", "container_cpu_usage_seconds", 0))
    # When the entities are ranked, with and without within-incident specificity
    ranked = localise(signals, CATALOG)
    flat = localise(signals, CATALOG, features=[f for f in FEATURES if f != "specificity"])
    # Then the pod with the anomaly nobody else shows comes first; by count, the shared ones win
    assert ranked[0].entity == "shop-0"
    assert flat[0].entity != "shop-0"


def test_a_service_gathers_pagerank_from_its_alerting_pods() -> None:
    # Given the same service-level anomaly on cart and on shop, and anomalies on shop's only pod
    signals = [service_metric("cart", "grpc_mrt", 0), service_metric("shop", "grpc_mrt", 0),
               metric("shop-0", "container_cpu_usage_seconds", 0)]
    # When the entities are ranked
    ranked = {s.entity: s for s in localise(signals, CATALOG)}
    # Then shop's pod passes part of its score to shop, which now outranks cart
    assert ranked["shop"].features["pagerank"] > ranked["cart"].features["pagerank"]
    assert ranked["shop"].score > ranked["cart"].score


def test_an_entry_service_with_only_errors_and_latency_yields_to_what_it_depends_on() -> None:
    # Given the entry service front (nothing calls it) with three error and latency anomalies, and
    # cart, which front depends on, with one latency anomaly and a CPU anomaly on its pod cart-1
    edge = [service_metric("front", m, 0) for m in ("http_error_rate", "http_latency_p99", "http_success_rate")]
    below = [service_metric("cart", "grpc_latency", 0), metric("cart-1", "container_cpu_usage_seconds", 0)]
    # When the entities are ranked, with and without the `entry` feature
    ranked = localise(edge + below, CATALOG)
    flat = localise(edge + below, CATALOG, features=[f for f in FEATURES if f != "entry"])
    # Then front's errors count as the symptom users see: counted in full it leads, discounted it
    # falls behind cart's anomalies
    assert flat[0].entity == "front"
    assert ranked[0].entity in {"cart", "cart-1"}
    # And with a resource anomaly of its own, or with nothing anomalous behind it, it is not discounted
    own = localise([*edge, service_metric("front", "cpu_usage", 0), *below], CATALOG)
    assert own[0].entity == "front"
    alone = {s.entity: s for s in localise(edge, CATALOG)}
    alone_flat = {s.entity: s for s in localise(edge, CATALOG, features=[f for f in FEATURES if f != "entry"])}
    assert alone["front"].features["density"] == alone_flat["front"].features["density"]


def test_latency_and_error_metrics_have_a_healthy_direction_resources_and_rates_do_not() -> None:
    # Given metric names as anomaly detectors label them
    # When asked whether each move is the metric's healthy way
    # Then success rates up and response times or failure counts down are healthy
    assert healthy_move("grpc-sr", "up") and healthy_move("http_success_rate", "up")
    assert healthy_move("grpc-mrt", "down") and healthy_move("http_latency_p99", "down")
    assert healthy_move("http_5xx_errors", "down")
    # And their fault-side moves are not, nor any move of a resource metric, a request count or rate
    assert not healthy_move("grpc-sr", "down") and not healthy_move("grpc-mrt", "up")
    assert not healthy_move("http_5xx_errors", "up")
    assert not healthy_move("container_cpu_usage_seconds", "down")
    assert not healthy_move("container_memory_usage_MB", "down")
    assert not healthy_move("grpc-rr", "down") and not healthy_move("grpc-count", "up")


def test_a_service_that_got_faster_and_more_successful_yields_to_one_that_got_slower() -> None:
    # Given cart with three anomalies that are all improvements (faster, fewer errors, more
    # successes) and shop with two that are faults (slower on two latency metrics), all at once
    better = [service_metric("cart", "grpc_latency", 0, "down"), service_metric("cart", "grpc_success_rate", 0),
              service_metric("cart", "grpc_error_count", 0, "down")]
    worse = [service_metric("shop", "grpc_latency", 0), service_metric("shop", "grpc_latency_p99", 0)]
    # When the entities are ranked, with and without the `polarity` feature
    ranked = localise(better + worse, CATALOG)
    flat = localise(better + worse, CATALOG, features=[f for f in FEATURES if f != "polarity"])
    # Then counted by number cart leads, and with each improvement at half weight shop does
    assert flat[0].entity == "cart"
    assert ranked[0].entity == "shop"
    # And an improvement still counts for something: cart stays a suspect
    assert "cart" in {s.entity for s in ranked}


def test_error_metrics_moving_the_faulty_way_are_errors_latency_and_rates_are_not() -> None:
    # Given metric names as anomaly detectors label them
    # When asked whether each move is an error moving the faulty way
    # Then a success rate down and a failure count or rate up are
    assert faulty_error_move("grpc-sr", "down") and faulty_error_move("http_success_rate", "down")
    assert faulty_error_move("grpc_error_count", "up") and faulty_error_move("http_5xx", "up")
    # And their healthy moves are not, nor latency, request counts and rates, or resource metrics
    assert not faulty_error_move("grpc-sr", "up") and not faulty_error_move("grpc_error_count", "down")
    assert not faulty_error_move("grpc-mrt", "up") and not faulty_error_move("grpc-rr", "down")
    assert not faulty_error_move("grpc-count", "up") and not faulty_error_move("container_cpu_usage_seconds", "up")


CHAIN = Catalog.model_validate({"services": [{"name": "edge", "depends_on": ["api"]},
                                             {"name": "api", "depends_on": ["store"]}, {"name": "store"}]})


def test_the_deepest_service_with_errors_outranks_a_caller_with_more_alerts() -> None:
    # Given api (edge -> api -> store) with more errors and a latency anomaly, and store, which api
    # depends on, with a success rate drop of its own
    signals = [service_metric("api", "grpc_error_count", 0), service_metric("api", "grpc_latency", 0),
               service_metric("store", "grpc_success_rate", 0, "down")]
    # When the entities are ranked, with and without the `origin` feature
    ranked = localise(signals, CHAIN)
    flat = localise(signals, CHAIN, features=[f for f in FEATURES if f != "origin"])
    # Then counted by number api leads; with errors traced to where they start, store does
    assert flat[0].entity == "api"
    assert ranked[0].entity == "store" and ranked[0].features["origin"] > 0
    # And api, whose dependency errs, is not an origin
    assert "origin" not in {s.entity: s for s in ranked}["api"].features


def test_errors_over_a_slow_dependency_are_not_an_origin_over_a_quiet_one_they_are() -> None:
    # Given api with a success rate drop, over store that is slow (api's errors may be its timeouts)
    over_slow = {s.entity: s for s in localise([service_metric("api", "grpc_success_rate", 0, "down"),
                                                 service_metric("store", "grpc_latency", 0)], CHAIN)}
    # Then neither is an origin of errors: store does not fail, api's errors have a cause below it
    assert all("origin" not in s.features for s in over_slow.values())
    # Given the same drop over a store with only a CPU anomaly (no errors, no slowness)
    over_quiet = {s.entity: s for s in localise([service_metric("api", "grpc_success_rate", 0, "down"),
                                                  service_metric("store", "cpu_usage", 0)], CHAIN)}
    # Then api is where the errors start
    assert over_quiet["api"].features["origin"] > 0 and "origin" not in over_quiet["store"].features
    # And a success rate that went up (healthy) makes nothing an origin
    healthy = localise([service_metric("api", "grpc_success_rate", 0, "up")], CHAIN)
    assert all("origin" not in s.features for s in healthy)


def node_metric(node: str, name: str, at_s: float) -> Signal:
    return Signal(id=f"s{next(_n)}", source="alertmanager", status=SignalStatus.FIRING, severity=Severity.WARNING,
                  event_time=T0 + timedelta(seconds=at_s), received_at=T0 + timedelta(seconds=at_s),
                  title=f"{name} up on {node}", labels={"metric": name, "direction": "up"}, entity=node,
                  entity_kind=EntityKind.HOST, host=node, fingerprint=f"fp-{node}-{name}")


def test_a_node_whose_pods_stand_out_against_the_pods_elsewhere_outranks_a_node_without_pods() -> None:
    # Given the same node-level memory anomaly on n2 (runs cart-1 and shop-0) and on n3 (runs no pod),
    # and both of n2's pods anomalous while the three pods on n1 stay quiet
    signals = [node_metric("n2", "system.mem.used", 0), node_metric("n3", "system.mem.used", 0),
               metric("cart-1", "container_memory_usage_MB", 5), metric("shop-0", "container_threads", 5)]
    # When the entities are ranked
    suspects = localise(signals, CATALOG)
    ranked = {s.entity: s for s in suspects}
    order = [s.entity for s in suspects]
    # Then n2 gains its pods' excess over the placed pods' mean (x sqrt(2)) and ranks above n3
    assert ranked["n2"].features["colocation"] > 0 and "colocation" not in ranked["n3"].features
    assert order.index("n2") < order.index("n3")
    # and without the feature the node whose pods alert yields to the one without pods (the `host` discount)
    without = [s.entity for s in localise(signals, CATALOG, features=[f for f in FEATURES if f != "colocation"])]
    assert without.index("n3") < without.index("n2")


def test_a_node_whose_pods_are_as_anomalous_as_everyones_gains_nothing_from_colocation() -> None:
    # Given every placed pod with the same anomaly at the same time, and node-level anomalies on n1 and n2
    pods = ["front-0", "front-1", "cart-0", "cart-1", "shop-0"]
    signals = [metric(p, "container_memory_usage_MB", 0) for p in pods]
    signals += [node_metric("n1", "system.mem.used", 0), node_metric("n2", "system.mem.used", 0)]
    # When the entities are ranked
    ranked = localise(signals, CATALOG, limit=20)
    # Then no node stands out: neither gains a colocation term
    assert {s.entity for s in ranked} >= {"n1", "n2"}
    assert all("colocation" not in s.features for s in ranked)


def test_colocation_at_most_doubles_what_a_node_shows_itself() -> None:
    # Given n2's two pods strongly anomalous from the start and n2 itself with one node anomaly
    # twenty minutes later (decayed to almost nothing), the pods on n1 quiet
    signals = [metric(p, m, 0) for p in ("cart-1", "shop-0")
               for m in ("container_cpu_usage_seconds", "container_memory_usage_MB", "container_fs_reads")]
    signals.append(node_metric("n2", "system.io.w_s", 1200))
    # When the entities are ranked
    n2 = next(s for s in localise(signals, CATALOG, limit=20) if s.entity == "n2")
    # Then its colocation term is capped at its own score (its features before PageRank), far below
    # its pods' excess over the placed pods' mean x sqrt(2)
    own = sum(v for k, v in n2.features.items() if k not in {"colocation", "pagerank"})
    assert 0 < n2.features["colocation"] <= own + 0.005
    assert n2.features["colocation"] < 0.5
