"""MetricsReader on CloudWatch GetMetricData (namespace SRE/Services, dimension Service), and any
metric a recovery criterion names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sre_copilot.ports import clock

K = TypeVar("K")

NAMESPACE = "SRE/Services"
MAX_QUERIES = 500
"""GetMetricData's limit of queries per request."""
MAX_LIST_PAGES = 10
"""ListMetrics pages (500 metrics each) read before asking for every wanted series instead."""
LISTING_MAX_AGE = timedelta(minutes=5)
"""How long a warm function reuses its listing of the namespace. ListMetrics itself names a new
metric only up to 15 minutes after its first point."""


class CloudWatchMetrics:
    def __init__(self, client: Any, namespace: str = NAMESPACE, period_s: int = 60) -> None:
        self.client = client
        self.namespace = namespace
        self.period_s = period_s
        self._listing: tuple[datetime, set[tuple[str, str]] | None] | None = None

    def series_many(self, wanted: Sequence[tuple[str, str]], start: datetime,
                    end: datetime) -> dict[tuple[str, str], list[tuple[datetime, float]]]:
        """Every wanted (service, metric) series, empty where the namespace has none. Only the
        series ListMetrics names are read, one GetMetricData request per 500 (its limit).

        GetMetricData bills each metric asked for ($0.01 per 1,000), data or not, and ListMetrics
        each request ($0.01 per 1,000, 500 metrics a page): an analysis pass wants up to 144
        series, and most services publish few of them. ListMetrics takes up to 15 minutes to name
        a new metric; a series that young has no 7-day baseline to compare with anyway."""
        published = self._published()
        stats = {key: {"Metric": {"Namespace": self.namespace, "MetricName": key[1],
                                  "Dimensions": [{"Name": "Service", "Value": key[0]}]},
                       "Period": self.period_s, "Stat": "Average"}
                 for key in wanted if published is None or key in published}
        found = self.metric_stats(stats, start, end) if stats else {}
        return {key: found.get(key, []) for key in wanted}

    def _published(self) -> set[tuple[str, str]] | None:
        """(service, metric) of each metric in the namespace whose only dimension is Service, as
        GetMetricData matches them; None when the namespace is too big to list cheaply. Listed
        once per LISTING_MAX_AGE (by the product's clock, so a replay repeats exactly)."""
        now = clock.now()
        if self._listing is None or not timedelta(0) <= now - self._listing[0] < LISTING_MAX_AGE:
            self._listing = (now, self._list())
        return self._listing[1]

    def _list(self) -> set[tuple[str, str]] | None:
        published: set[tuple[str, str]] = set()
        kwargs: dict[str, Any] = {"Namespace": self.namespace}
        for _page in range(MAX_LIST_PAGES):
            page = self.client.list_metrics(**kwargs)
            for metric in page.get("Metrics", []):
                dimensions = metric.get("Dimensions") or []
                if len(dimensions) == 1 and dimensions[0].get("Name") == "Service":
                    published.add((str(dimensions[0].get("Value")), str(metric.get("MetricName"))))
            token = page.get("NextToken")
            if not token:
                return published
            kwargs["NextToken"] = token
        return None

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
