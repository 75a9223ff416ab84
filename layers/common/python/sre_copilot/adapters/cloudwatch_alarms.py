"""CloudWatch alarm states for verification by recovery (DescribeAlarms, 100 names a request)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MAX_NAMES = 100


class CloudWatchAlarms:
    def __init__(self, client: Any) -> None:
        self.client = client

    def states(self, names: Iterable[str]) -> dict[str, str]:
        """name -> OK | ALARM | INSUFFICIENT_DATA, for the alarms CloudWatch knows; others are absent."""
        wanted = sorted(set(names))
        out: dict[str, str] = {}
        for first in range(0, len(wanted), MAX_NAMES):
            pages = self.client.get_paginator("describe_alarms").paginate(
                AlarmNames=wanted[first:first + MAX_NAMES], AlarmTypes=["MetricAlarm", "CompositeAlarm"])
            for page in pages:
                for alarm in (*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])):
                    out[alarm["AlarmName"]] = alarm["StateValue"]
        return out
