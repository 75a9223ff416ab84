"""The two-service catalog (checkout calls payments) the workflow tests replay their incidents on."""

from __future__ import annotations

from datetime import UTC, datetime

START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
CATALOG = {"services": [
    {"name": "checkout", "depends_on": ["payments"], "team": "t", "tier": 1,
     "instances": [{"name": "checkout-0", "host": "ip-10-0-0-1"}]},
    {"name": "payments", "depends_on": [], "team": "t", "tier": 1,
     "instances": [{"name": "payments-0", "host": "ip-10-0-0-2"}]}],
    "hosts": [{"name": "ip-10-0-0-1"}, {"name": "ip-10-0-0-2"}]}
