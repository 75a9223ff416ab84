"""Issue 15's must-show on the shared samples, with every approval granted: each change-caused
incident (its label names a change) rolls back exactly the changed service's workload. Where its
alerts clear (scenarios-resolved), the rollback is verified by recovery and the incident reaches
MITIGATED before it is resolved; where nothing clears (scenarios), the same rollback ends unverified,
is never called mitigated, and a human is paged with what happened."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sre_copilot.evaluation.measures import match_incidents

pytestmark = pytest.mark.slow

SHARED = Path(__file__).resolve().parents[3] / "shared"


def _change_caused(folder: str) -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for truth in sorted((SHARED / folder).glob("*.truth.json")):
        labels = [label for label in json.loads(truth.read_text())["incidents"] if label.get("change_id")]
        if labels:
            out.append((truth.with_name(truth.name.replace(".truth.json", ".json")), {"incidents": labels}))
    return out


RESOLVED = _change_caused("scenarios-resolved")
NOT_CLEARING = _change_caused("scenarios")


def _workload(path: Path, service: str) -> str:
    catalog = json.loads(path.read_text())["catalog"]
    entry = next(s for s in catalog["services"] if s["name"] == service)
    return str(entry.get("runtime", {}).get("workload") or f"deployment/{service}")


def _rollbacks(incident: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in incident["actions"] if a["action"].startswith("rollback") and not a["dry_run"]]


def test_the_samples_hold_change_caused_incidents() -> None:
    assert len(RESOLVED) >= 4 and len(NOT_CLEARING) >= 4


@pytest.mark.parametrize(("path", "truth"), RESOLVED, ids=lambda v: v.stem if isinstance(v, Path) else "")
def test_change_caused_incident_rolls_back_the_changed_service_and_is_verified_by_recovery(
        path: Path, truth: dict[str, Any], replayed: Any) -> None:
    # Given a sample whose faults' alerts clear 10 minutes after their last alert, every approval granted
    run = replayed(path, "all")
    for label, incident in match_incidents(truth, run.result):
        assert incident is not None, label
        # Then exactly the changed service's workload was rolled back, live
        assert [a["target"] for a in _rollbacks(incident)] == [_workload(path, label["service"])], label
        # And the rollback was verified by its alerts clearing, and the incident reached MITIGATED first
        assert _rollbacks(incident)[0]["status"] == "verified", label
        states = [t["state"] for t in incident["timeline"]]
        assert "MITIGATED" in states, (label, states)
        if "RESOLVED" in states:
            assert states.index("MITIGATED") < states.index("RESOLVED")


@pytest.mark.parametrize(("path", "truth"), NOT_CLEARING, ids=lambda v: v.stem if isinstance(v, Path) else "")
def test_change_caused_incident_whose_alerts_never_clear_is_unverified_and_escalated(
        path: Path, truth: dict[str, Any], replayed: Any) -> None:
    # Given the same samples where nothing clears, every approval granted
    run = replayed(path, "all")
    for label, incident in match_incidents(truth, run.result):
        assert incident is not None, label
        rollbacks = _rollbacks(incident)
        assert [a["target"] for a in rollbacks] == [_workload(path, label["service"])], label
        # Then the rollback is not called a success, the incident never MITIGATED
        assert rollbacks[0]["status"] != "verified", label
        assert "MITIGATED" not in [t["state"] for t in incident["timeline"]], label
        # And a human was told, in Slack and by phone
        escalations = {n["channel"] for n in incident["notifications"] if n["kind"] == "escalation"}
        assert escalations == {"slack", "phone"}, (label, escalations)
