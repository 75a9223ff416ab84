"""What a replay keeps about the people side: paging executions and postmortem documents."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from sre_copilot.adapters.stepfunctions_engine import execution_arn
from sre_copilot.services.escalation import execution_name


def paging_histories(deployment: Any, result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for incident in result["incidents"]:
        arn = execution_arn(deployment.escalation_state_machine_arn, execution_name(incident["id"]))
        try:
            out[incident["id"]] = deployment.execution_history(arn)
        except ClientError:
            continue  # never paged (P2/P3, or merged before the page)
    return out


def postmortems(deployment: Any, result: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for incident in result["incidents"]:
        ref = incident.get("postmortem")
        if ref:
            out[incident["id"]] = deployment.container.blobs.get_bytes(ref).decode("utf-8", "replace")
    return out
