"""Every delivery of the shared sample scenarios normalises, and resolves against the scenario's catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.types import Priority, SignalStatus, parse_time
from sre_copilot.ingest.classify import classify
from sre_copilot.ingest.normalize import normalize

SCENARIOS = sorted((Path(__file__).resolve().parents[3] / "shared" / "scenarios").glob("*[0-9].json"))


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_delivery_normalises_and_resolves(path: Path) -> None:
    # Given a scenario's catalog and its deliveries, bodies serialised as the sender would
    scenario = _load(path)
    catalog = Catalog.model_validate(scenario["catalog"])
    for index, delivery in enumerate(scenario["deliveries"]):
        # When each is normalised
        result = normalize(delivery["source"], json.dumps(delivery["body"]).encode(), catalog=catalog,
                           received_at=parse_time(delivery["at"]), origin_delivery=index)
        # Then it yields signals, each tied to a catalog service or entity unless it is background noise
        assert result.kind == "alerts", (index, result.ignored_reason)
        for signal in result.signals:
            assert signal.origin.delivery == index
            # the payload's own time: the alert's start, which a re-notification repeats
            assert signal.event_time <= parse_time(delivery["at"])
            if not signal.background:
                assert signal.service or signal.entity, (index, signal.title)
            classify(signal, catalog)


def test_noise_is_background_and_background_is_p3() -> None:
    scenario = _load(SCENARIOS[0])
    catalog = Catalog.model_validate(scenario["catalog"])
    body = scenario["deliveries"][0]["body"]  # HighGCPause, severity=info
    (signal,) = normalize("alertmanager", body, catalog=catalog, received_at=parse_time("2026-03-10T20:35:41Z")).signals
    assert signal.background and signal.status is SignalStatus.FIRING
    assert classify(signal, catalog) is Priority.P3


def test_host_alarm_and_pods_on_that_host_share_the_host() -> None:
    # sample-1-000: a status-check alarm named after a node, then pods on that node going NotReady
    scenario = _load(next(p for p in SCENARIOS if p.stem == "sample-1-000"))
    catalog = Catalog.model_validate(scenario["catalog"])
    signals = [normalize(d["source"], d["body"], catalog=catalog, received_at=parse_time(d["at"])).signals[0]
               for d in scenario["deliveries"][6:10]]
    assert signals[0].entity == "ip-10-0-6-183" and signals[0].entity_kind == "host"
    assert [s.host for s in signals] == ["ip-10-0-6-183"] * 4
    assert [s.entity_kind for s in signals[1:]] == ["instance"] * 3
    assert [s.service for s in signals[1:]] == ["recommend", "cart", "reviews"]


def test_repeated_alert_keeps_its_fingerprint_but_not_its_id() -> None:
    # sample-1-003 deliveries 7 and 8: Alertmanager re-notifies the same PodCrashLooping alert
    scenario = _load(next(p for p in SCENARIOS if p.stem == "sample-1-003"))
    catalog = Catalog.model_validate(scenario["catalog"])
    first, second = (normalize("alertmanager", json.dumps(d["body"]), catalog=catalog,
                               received_at=parse_time(d["at"]), delivery_id=f"alertmanager:{i}").signals[0]
                     for i, d in ((7, scenario["deliveries"][7]), (8, scenario["deliveries"][8])))
    assert first.fingerprint == second.fingerprint
    assert first.id != second.id
