"""MetricsReader on CloudWatch GetMetricData (namespace SRE/Services, dimension Service), and any
metric a recovery criterion names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

K = TypeVar("K")

NAMESPACE = "SRE/Services"
MAX_QUERIES = 500
"""GetMetricData's limit of queries per request."""


class CloudWatchMetrics:
    def __init__(self, client: Any, namespace: str = NAMESPACE, period_s: int = 60) -> None:
        self.client = client
        self.namespace = namespace
        self.period_s = period_s

    def series_many(self, wanted: Sequence[tuple[str, str]], start: datetime,
                    end: datetime) -> dict[tuple[str, str], list[tuple[datetime, float]]]:
        """One GetMetricData request per 500 series (its limit), instead of one per series."""
        stats = {key: {"Metric": {"Namespace": self.namespace, "MetricName": key[1],
                                  "Dimensions": [{"Name": "Service", "Value": key[0]}]},
                       "Period": self.period_s, "Stat": "Average"} for key in wanted}
        return self.metric_stats(stats, start, end)

    def metric_stats(self, stats: Mapping[K, Mapping[str, Any]], start: datetime,
                     end: datetime) -> dict[K, list[tuple[datetime, float]]]:
        """Datapoints per GetMetricData `MetricStat` (any namespace, dimensions, statistic), oldest
        first; verification by recovery reads the metrics a plan names this way."""
        out: dict[K, list[tuple[datetime, float]]] = {key: [] for key in stats}
        keys = list(out)
        for first in range(0, len(keys), MAX_QUERIES):
            chunk = {f"m{first + i}": key for i, key in enumerate(keys[first:first + MAX_QUERIES])}
            queries = [{"Id": query_id, "ReturnData": True, "MetricStat": dict(stats[key])}
                       for query_id, key in chunk.items()]
            kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end,
                                      "ScanBy": "TimestampAscending"}
            while True:
                page = self.client.get_metric_data(**kwargs)
                for result in page.get("MetricDataResults", []):
                    key = chunk.get(str(result.get("Id")))
                    if key is not None:
                        out[key].extend(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
                token = page.get("NextToken")
                if not token:
                    break
                kwargs["NextToken"] = token
        return {key: sorted(points) for key, points in out.items()}

    def put_series(self, service: str, metric: str, unit: str, points: list[tuple[datetime, float]]) -> None:
        """Load a series (replay loads scenario metrics this way)."""
        for i in range(0, len(points), 500):
            self.client.put_metric_data(Namespace=self.namespace, MetricData=[
                {"MetricName": metric, "Dimensions": [{"Name": "Service", "Value": service}],
                 "Timestamp": at, "Value": value, "Unit": unit} for at, value in points[i:i + 500]])
