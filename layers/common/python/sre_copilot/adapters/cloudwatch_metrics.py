"""MetricsReader on CloudWatch GetMetricData (namespace SRE/Services, dimension Service)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

NAMESPACE = "SRE/Services"


class CloudWatchMetrics:
    def __init__(self, client: Any, namespace: str = NAMESPACE, period_s: int = 60) -> None:
        self.client = client
        self.namespace = namespace
        self.period_s = period_s

    def series(self, service: str, metric: str, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
        query = {"Id": "m1", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": self.namespace, "MetricName": metric,
                       "Dimensions": [{"Name": "Service", "Value": service}]},
            "Period": self.period_s, "Stat": "Average"}}
        points: list[tuple[datetime, float]] = []
        kwargs: dict[str, Any] = {"MetricDataQueries": [query], "StartTime": start, "EndTime": end}
        while True:
            page = self.client.get_metric_data(**kwargs)
            for result in page.get("MetricDataResults", []):
                points.extend(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
            token = page.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
        return sorted(points)

    def put_series(self, service: str, metric: str, unit: str, points: list[tuple[datetime, float]]) -> None:
        """Load a series (replay loads scenario metrics this way)."""
        for i in range(0, len(points), 500):
            self.client.put_metric_data(Namespace=self.namespace, MetricData=[
                {"MetricName": metric, "Dimensions": [{"Name": "Service", "Value": service}],
                 "Timestamp": at, "Value": value, "Unit": unit} for at, value in points[i:i + 500]])
