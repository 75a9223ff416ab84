"""CloudWatchMetrics: the published series among those wanted, read back in one GetMetricData
request (which bills every metric asked for, with data or without)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_test_support import REGION, START

from sre_copilot.adapters import cloudwatch_metrics
from sre_copilot.adapters.cloudwatch_metrics import CloudWatchMetrics
from sre_copilot.ports import clock


def _requests(client: Any, operation: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    client.meta.events.register(f"provide-client-params.cloudwatch.{operation}",
                                lambda params, **_: seen.append(params))
    return seen


def test_series_many_reads_every_published_series_in_one_request(aws: None) -> None:
    # Given two loaded series and one that has no data
    client = boto3.client("cloudwatch", region_name=REGION)
    metrics = CloudWatchMetrics(client)
    metrics.put_series("checkout", "ErrorRate", "Percent",
                       [(START + timedelta(minutes=i), float(i)) for i in range(5, -1, -1)])
    metrics.put_series("cart", "Latency", "Milliseconds", [(START, 120.0)])
    requests = _requests(client, "GetMetricData")

    # When all three are asked for
    found = metrics.series_many([("checkout", "ErrorRate"), ("cart", "Latency"), ("search", "ErrorRate")],
                                START - timedelta(minutes=1), START + timedelta(minutes=10))

    # Then one request answers them all, each series oldest point first, and the series the
    # namespace does not hold is empty without being asked for
    assert len(requests) == 1 and len(requests[0]["MetricDataQueries"]) == 2
    assert [v for _, v in found[("checkout", "ErrorRate")]] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert found[("cart", "Latency")] == [(START, 120.0)]
    assert found[("search", "ErrorRate")] == []


def test_a_namespace_without_the_wanted_series_costs_one_listing(aws: None) -> None:
    # Given a namespace holding ErrorRate of checkout per Service and Operation, not per Service alone
    client = boto3.client("cloudwatch", region_name=REGION)
    metrics = CloudWatchMetrics(client)
    client.put_metric_data(Namespace=metrics.namespace, MetricData=[{
        "MetricName": "ErrorRate", "Timestamp": START, "Value": 1.0,
        "Dimensions": [{"Name": "Service", "Value": "checkout"}, {"Name": "Operation", "Value": "pay"}]}])
    reads, listings = _requests(client, "GetMetricData"), _requests(client, "ListMetrics")
    # When checkout's ErrorRate and Latency are wanted
    found = metrics.series_many([("checkout", "ErrorRate"), ("checkout", "Latency")],
                                START - timedelta(minutes=1), START + timedelta(minutes=10))
    # Then one ListMetrics request answers, and no metric is asked for: GetMetricData matches
    # dimensions exactly, so the per-Operation series is not checkout's ErrorRate
    assert (len(listings), len(reads)) == (1, 0)
    assert found == {("checkout", "ErrorRate"): [], ("checkout", "Latency"): []}


def test_a_namespace_too_big_to_list_has_every_wanted_series_asked_for(
        aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a namespace with more pages of metrics than series_many lists (one here, of 500)
    monkeypatch.setattr(cloudwatch_metrics, "MAX_LIST_PAGES", 1)
    client = boto3.client("cloudwatch", region_name=REGION)
    metrics = CloudWatchMetrics(client)
    for first in range(0, 501, 50):
        client.put_metric_data(Namespace=metrics.namespace, MetricData=[
            {"MetricName": f"M{n}", "Timestamp": START, "Value": 1.0,
             "Dimensions": [{"Name": "Service", "Value": "search"}]} for n in range(first, min(first + 50, 501))])
    metrics.put_series("checkout", "ErrorRate", "Percent", [(START, 2.0)])
    reads = _requests(client, "GetMetricData")
    # When two series are wanted
    found = metrics.series_many([("checkout", "ErrorRate"), ("cart", "Latency")],
                                START - timedelta(minutes=1), START + timedelta(minutes=10))
    # Then both are asked for, as before listing, and the answer is the same
    assert len(reads) == 1 and len(reads[0]["MetricDataQueries"]) == 2
    assert found == {("checkout", "ErrorRate"): [(START, 2.0)], ("cart", "Latency"): []}


class _Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def test_a_warm_reader_lists_the_namespace_once_per_five_minutes(aws: None) -> None:
    # Given a reader that has listed the namespace at START, while it held no series
    client = boto3.client("cloudwatch", region_name=REGION)
    metrics, simulated = CloudWatchMetrics(client), _Clock(START)
    before = clock.current_clock()
    clock.use_clock(simulated)
    try:
        listings = _requests(client, "ListMetrics")
        wanted, window = [("checkout", "ErrorRate")], (START - timedelta(hours=1), START + timedelta(hours=1))
        assert metrics.series_many(wanted, *window) == {("checkout", "ErrorRate"): []}
        # When checkout's ErrorRate is published, and the reader asked again within five minutes
        metrics.put_series("checkout", "ErrorRate", "Percent", [(START, 2.0)])
        simulated.at = START + timedelta(minutes=4)
        soon, listed_soon = metrics.series_many(wanted, *window), len(listings)
        simulated.at = START + timedelta(minutes=5)
        later, listed_later = metrics.series_many(wanted, *window), len(listings)
    finally:
        clock.use_clock(before)
    # Then the listing is reused within five minutes; after five, the namespace is listed again
    assert (soon, listed_soon) == ({("checkout", "ErrorRate"): []}, 1)
    assert (later, listed_later) == ({("checkout", "ErrorRate"): [(START, 2.0)]}, 2)
