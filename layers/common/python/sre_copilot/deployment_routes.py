"""How work reaches the functions: one description for the deployed and the embedded stack.

- Priority queues to correlate: `infra_cdk` builds the SQS queues and their Lambda event source
  mappings from `queue_routes`, and the embedded runtime (`local/runtime.py`) polls its moto queues
  by it, both from the same validated `cdk.json` context (`DeploymentConfig.queue_routes`).
- Our bus to functions: `BUS_ROUTES`, the EventBridge rules on the copilot's own bus.

`tests/infra/test_local_matches_template.py` compares the synthesized template with what the
embedded runtime builds, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from sre_copilot.domain.types import Priority


@dataclass(frozen=True)
class QueueRoute:
    """Seed 001's routing of one priority: P0 at once, P1 after a delivery delay (a lone alert
    that clears within it never wakes anyone), P2 and P3 in batches."""

    priority: str
    delivery_delay_s: int
    batch_size: int
    batching_window_s: int
    max_receive_count: int
    max_concurrency: int | None = None
    """Lambda's cap on concurrent batches for this source (P3 only: background work)."""


def queue_routes(*, batch_size: int, p1_delivery_delay_s: int, p2_batching_window_s: int,
                 p3_batching_window_s: int, max_receive_count: int, p3_max_concurrency: int,
                 p1_batching_window_s: int = 0, windowed_batch_size: int | None = None) -> tuple[QueueRoute, ...]:
    """A queue with a batching window may hand Lambda up to `windowed_batch_size` messages at once
    (SQS allows 10,000 then), so a storm costs fewer correlate runs, each one state save; P0 has no
    window, and its batches stay at `batch_size` (at most 10)."""
    windows = {"P1": p1_batching_window_s, "P2": p2_batching_window_s, "P3": p3_batching_window_s}
    return tuple(QueueRoute(
        priority=p,
        delivery_delay_s=p1_delivery_delay_s if p == "P1" else 0,
        batch_size=(windowed_batch_size or batch_size) if windows.get(p, 0) else batch_size,
        batching_window_s=windows.get(p, 0),
        max_receive_count=max_receive_count,
        max_concurrency=p3_max_concurrency if p == "P3" else None,
    ) for p in (q.value for q in Priority))


@dataclass(frozen=True)
class BusRoute:
    """An EventBridge rule on the copilot's bus: events of `detail_type` go to `function`."""

    name: str
    detail_type: str
    function: str


LIFECYCLE_DETAIL_TYPE = "Incident Lifecycle Transition"  # services/lifecycle.py publishes it
QUESTION_DETAIL_TYPE = "Slack Question Asked"  # services/slack_ask.py publishes it
BUS_ROUTES = (
    BusRoute("lifecycle-to-pagerduty", LIFECYCLE_DETAIL_TYPE, "pagerduty_sync"),
    BusRoute("slack-questions", QUESTION_DETAIL_TYPE, "pagerduty_sync"),
)
