"""Re-analysis on the deployed workflow (embedded backend): new evidence on a parked incident is
folded in by the same execution, and refresh flags do not outlive the analysis they ask for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from itertools import pairwise
from typing import Any

import boto3
from checkout_payments import CATALOG, START

from sre_copilot.domain.incident import Incident
from sre_copilot.domain.types import format_time
from sre_copilot.local.runtime import LocalDeployment, Responders


def _alert(deployment: LocalDeployment, alertname: str, service: str, severity: str = "critical",
           fingerprint: str = "") -> None:
    at = deployment.clock.now()
    labels = {"alertname": alertname, "severity": severity, "service": service}
    body = {"receiver": "r", "status": "firing", "version": "4", "groupKey": "{}", "truncatedAlerts": 0,
            "groupLabels": {}, "commonLabels": labels, "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": [{"status": "firing", "labels": labels, "annotations": {"summary": alertname},
                        "startsAt": format_time(at), "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prom", "fingerprint": fingerprint or f"{alertname}-{service}"}]}
    status, _ = deployment.http("POST", "/webhooks/alertmanager", json.dumps(body).encode(),
                                {"Content-Type": "application/json"})
    assert status == 202
    deployment.settle()


def _executions(deployment: LocalDeployment) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    return list(sfn.list_executions(stateMachineArn=deployment.state_machine_arn)["executions"])


def test_new_evidence_refreshes_the_parked_execution_and_clears_its_flag() -> None:
    with LocalDeployment(start=START, responders=Responders(ack_pages_after_s=None)) as deployment:
        deployment.put_catalog(CATALOG)
        store, tenant = deployment.container.store, deployment.tenant_id
        # Given an incident opened by a critical alert, analysed once and parked
        _alert(deployment, "HighErrorRate", "checkout")
        deployment.advance_to(START + timedelta(minutes=2))
        [incident] = store.open_incidents(tenant)
        assert store.is_parked(tenant, incident.id)
        first = incident.evidence_version

        # When a new kind of alert joins it and the sweeper's minute comes round
        _alert(deployment, "PodCrashLooping", "checkout")
        deployment.advance_to(START + timedelta(minutes=5))

        # Then the same execution analysed again, with both signals, and nothing is left flagged
        refreshed = store.get_incident(tenant, incident.id)
        assert refreshed is not None and refreshed.evidence_version == first + 1
        assert len(store.signals_for_incident(tenant, incident.id)) == 2
        assert [e["name"] for e in _executions(deployment)] == [incident.id]
        assert store.flagged_for_refresh(tenant) == []


def test_a_flag_on_a_closed_incident_is_dropped_by_the_sweeper() -> None:
    with LocalDeployment(start=START, responders=Responders(ack_pages_after_s=None)) as deployment:
        deployment.put_catalog(CATALOG)
        store, tenant = deployment.container.store, deployment.tenant_id
        # Given a flag left on an incident id that is not open (no incident, no parked execution)
        store.flag_refresh(tenant, "inc-gone")
        # When the sweeper runs
        deployment.advance_to(START + timedelta(minutes=2))
        # Then the flag is gone and nothing was woken
        assert store.flagged_for_refresh(tenant) == []
        assert _executions(deployment) == []


def _analyses(deployment: LocalDeployment, incident_id: str) -> list[int]:
    """The number of signals each analysis of the incident saw, in order."""
    store, tenant = deployment.container.store, deployment.tenant_id
    return [int(record.details["signals"]) for record in store.for_subject(tenant, incident_id) if record.action == "context.assembled"]


@contextmanager
def _parked_incident() -> Iterator[tuple[LocalDeployment, Incident]]:
    """A deployment with an incident opened by a critical alert, analysed once and parked."""
    with LocalDeployment(start=START, responders=Responders(ack_pages_after_s=None)) as deployment:
        deployment.put_catalog(CATALOG)
        _alert(deployment, "HighErrorRate", "checkout")
        deployment.advance_to(START + timedelta(minutes=2))
        [incident] = deployment.container.store.open_incidents(deployment.tenant_id)
        assert _analyses(deployment, incident.id) == [1]
        yield deployment, incident


def test_more_alerts_of_a_known_kind_are_analysed_once_they_settle() -> None:
    # Given an incident opened by a critical alert, analysed once and parked
    with _parked_incident() as (deployment, incident):
        store, tenant = deployment.container.store, deployment.tenant_id
        settle_s = deployment.container.settings.reanalysis_settle_s

        # When two more alerts of the same kind on the same service join it, a minute apart
        _alert(deployment, "HighErrorRate", "checkout", fingerprint="HighErrorRate-checkout-2")
        joined = deployment.clock.now()
        deployment.advance_to(joined + timedelta(minutes=1))
        _alert(deployment, "HighErrorRate", "checkout", fingerprint="HighErrorRate-checkout-3")

        # Then no re-analysis runs for them at the next minutes, as it would for a new kind
        deployment.advance_to(joined + timedelta(seconds=settle_s - 60))
        assert _analyses(deployment, incident.id) == [1]
        # And once the first of them has waited the settle window, one analysis sees all three
        deployment.advance_to(joined + timedelta(seconds=settle_s + 60))
        assert _analyses(deployment, incident.id) == [1, 3]
        assert store.flagged_for_refresh(tenant) == []


def test_passes_on_a_stream_of_new_evidence_are_spaced_further_apart_each_time() -> None:
    # Given an incident opened by a critical alert, analysed once and parked
    with _parked_incident() as (deployment, incident):
        store, tenant = deployment.container.store, deployment.tenant_id
        cap_s = deployment.container.settings.reanalysis_max_interval_s

        # When a new kind of alert joins it every minute for 16 minutes
        for minute in range(2, 18):
            deployment.advance_to(START + timedelta(minutes=minute))
            _alert(deployment, f"NewSymptom{minute}", "checkout", severity="warning")
        deployment.advance_to(START + timedelta(minutes=32))

        # Then the passes start 1, 2, 4 and then at most `reanalysis_max_interval_s` apart, not every minute
        starts = [record.at for record in store.for_subject(tenant, incident.id) if record.action == "context.assembled"]
        gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(starts)]
        assert len(starts) < 16 / 2, starts
        assert all(gap >= min(60 * 2 ** i, cap_s) for i, gap in enumerate(gaps)), gaps
        # And the last pass saw every alert: nothing was left unanalysed
        assert _analyses(deployment, incident.id)[-1] == 17
        assert store.flagged_for_refresh(tenant) == []


def test_a_re_analysis_runs_beside_the_parked_execution_or_by_it_when_the_pass_cannot_start() -> None:
    from sre_copilot.adapters.stepfunctions_engine import StepFunctionsEngine
    from sre_copilot.cli import history as history_view

    for startable in (True, False):
        with LocalDeployment(start=START, responders=Responders(ack_pages_after_s=None)) as deployment:
            deployment.put_catalog(CATALOG)
            store, tenant = deployment.container.store, deployment.tenant_id
            if not startable:  # Given an analysis state machine that does not exist (a bad deployment)
                missing = deployment.analysis_state_machine_arn + "-missing"
                object.__setattr__(deployment.container, "analysis_workflow", StepFunctionsEngine(
                    settings=deployment.container.settings, state_machine_arn=missing))
            # And an incident analysed once and parked
            _alert(deployment, "HighErrorRate", "checkout")
            deployment.advance_to(START + timedelta(minutes=2))
            [incident] = store.open_incidents(tenant)
            first = incident.evidence_version
            # When new evidence joins it and the sweeper's minute comes round
            _alert(deployment, "PodCrashLooping", "checkout")
            deployment.advance_to(START + timedelta(minutes=5))
            # Then it was analysed again and is parked again, either way
            refreshed = store.get_incident(tenant, incident.id)
            assert refreshed is not None and refreshed.evidence_version == first + 1
            assert store.is_parked(tenant, incident.id)
            # And the pass ran beside the parked execution, or (unstartable) the execution ran it
            rows = history_view.state_rows(deployment.execution_history(refreshed.execution or ""))
            beside = [r for r in rows if r["parent"] == "Reanalyse" and r["state"] == "Unwrap"]
            woken = [r["output_doc"]["wake"]["reason"] for r in rows if not r["parent"] and r.get("output_doc")
                     and isinstance(r["output_doc"].get("wake"), dict)]
            assert (len(beside), "refresh" in woken) == ((1, False) if startable else (0, True))
