"""Every real payload in tests/fixtures/webhooks (provenance: tests/fixtures/webhooks/SOURCES.md)
through the deployed ingest handler: it answers 2xx, and the pipeline (ingest queues each signal,
correlation stores it) stores exactly the signals that `normalize` (and so `sre-copilot normalize`)
produces for the same bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sre_copilot.domain.catalog import Catalog
from sre_copilot.ingest.auth import sign_pagerduty
from sre_copilot.ingest.normalize import normalize
from sre_copilot.local.runtime import LOCAL_SECRETS, LocalDeployment

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
T0 = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
SOURCE_BY_FIXTURE: dict[str, str] = json.loads((FIXTURES / "sources.json").read_text())
COMPARED = ("id", "status", "severity", "title", "fingerprint", "service", "entity", "event_time")


def test_every_fixture_is_mapped_to_its_source() -> None:
    payloads = {p.name for p in FIXTURES.glob("*.json")} - {"pagerduty_v3_signature_test_vector.json", "sources.json"}
    assert payloads == set(SOURCE_BY_FIXTURE)


@pytest.mark.parametrize("name", sorted(SOURCE_BY_FIXTURE))
def test_fixture_through_the_ingest_handler_matches_normalize(name: str) -> None:
    source, raw = SOURCE_BY_FIXTURE[name], (FIXTURES / name).read_bytes()
    headers = {"Content-Type": "application/json"}
    if source == "pagerduty":
        headers["X-PagerDuty-Signature"] = sign_pagerduty(LOCAL_SECRETS["pagerduty"]["webhook_secrets"][0], raw)
    expected = normalize(source, raw, catalog=Catalog(), received_at=T0)
    # When the same bytes are posted to the deployed route (a PagerDuty event when it happened: its
    # signed occurred_at must be inside the replay window)
    start = T0
    if source == "pagerduty":
        start = datetime.fromisoformat(json.loads(raw)["event"]["occurred_at"].replace("Z", "+00:00"))
    with LocalDeployment(start=start) as deployment:
        deployment.put_catalog({"services": []})
        status, body = deployment.http("POST", f"/webhooks/{source}", raw, headers)
        deployment.advance_to(start + timedelta(minutes=16))  # past every priority's queue delay
        stored = [deployment.container.store.get_signal("default", s["id"]) for s in body.get("signals", [])]
    # Then it is accepted, and what is stored is what normalize produced, field for field
    assert status == 202, body
    assert bool(body.get("ignored")) == (expected.kind == "ignored")
    assert len(stored) == len(expected.signals)
    for got, want in zip(stored, expected.signals, strict=True):
        assert got is not None
        assert {f: getattr(got, f) for f in COMPARED if f != "id"} == {f: getattr(want, f) for f in COMPARED if f != "id"}


@pytest.mark.parametrize("name", ["alertmanager_v4_webhook_firing_2alerts_zulip.json",
                                  "cloudwatch_eventbridge_state_change_single_metric_awsdocs.json"])
def test_cli_normalize_gives_the_same_signals(name: str) -> None:
    source, path = SOURCE_BY_FIXTURE[name], FIXTURES / name
    done = subprocess.run([sys.executable, "-m", "sre_copilot.cli.main", "normalize", "--source", source, str(path)],
                          capture_output=True, text=True, timeout=120, check=True)
    printed = json.loads(done.stdout)["signals"]
    expected = normalize(source, path.read_bytes(), catalog=Catalog(), received_at=T0)
    fields = ("status", "severity", "title", "fingerprint", "event_time")
    assert [{f: s[f] for f in fields} for s in printed] == [
        {f: v for f, v in s.model_dump(mode="json").items() if f in fields} for s in expected.signals]
