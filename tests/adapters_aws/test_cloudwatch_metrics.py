"""CloudWatchMetrics: several series read back in one GetMetricData request."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
from aws_test_support import REGION, START

from sre_copilot.adapters.cloudwatch_metrics import CloudWatchMetrics


def test_series_many_reads_every_series_in_one_request(aws: None) -> None:
    # Given two loaded series and one that has no data
    client = boto3.client("cloudwatch", region_name=REGION)
    metrics = CloudWatchMetrics(client)
    metrics.put_series("checkout", "ErrorRate", "Percent",
                       [(START + timedelta(minutes=i), float(i)) for i in range(5, -1, -1)])
    metrics.put_series("cart", "Latency", "Milliseconds", [(START, 120.0)])
    requests: list[dict[str, Any]] = []
    client.meta.events.register("provide-client-params.cloudwatch.GetMetricData",
                                lambda params, **_: requests.append(params))

    # When all three are asked for
    found = metrics.series_many([("checkout", "ErrorRate"), ("cart", "Latency"), ("search", "ErrorRate")],
                                START - timedelta(minutes=1), START + timedelta(minutes=10))

    # Then one request answers them all, each series oldest point first, the empty one empty
    assert len(requests) == 1 and len(requests[0]["MetricDataQueries"]) == 3
    assert [v for _, v in found[("checkout", "ErrorRate")]] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert found[("cart", "Latency")] == [(START, 120.0)]
    assert found[("search", "ErrorRate")] == []
