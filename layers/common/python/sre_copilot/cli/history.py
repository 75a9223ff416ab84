"""Execution history as the Step Functions console's "Events" / "State view" shows it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sre_copilot.domain.types import format_time


def state_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per state visit: name, type, entered/exited (simulated) time, short input/output."""
    rows: list[dict[str, Any]] = []
    open_rows: dict[str, dict[str, Any]] = {}
    for event in events:
        kind = str(event.get("type", ""))
        at = event.get("simulatedTimestamp") or event.get("timestamp")
        if kind.endswith("StateEntered"):
            details = event.get("stateEnteredEventDetails", {})
            row = {"state": details.get("name"), "type": kind.removesuffix("StateEntered"),
                   "entered": _fmt(at), "exited": None, "input": _short(details.get("input")), "output": None,
                   "status": "running"}
            rows.append(row)
            open_rows[str(details.get("name"))] = row
        elif kind.endswith("StateExited"):
            details = event.get("stateExitedEventDetails", {})
            row = open_rows.pop(str(details.get("name")), {})
            if row:
                row.update(exited=_fmt(at), output=_short(details.get("output"), key=RESULT_KEYS.get(str(row["state"]))),
                           status="failed" if row["status"] == "failed" else "succeeded")
        elif kind == "TaskSubmitted" and rows:
            rows[-1]["status"] = "waiting for task token"
        elif kind in ("TaskFailed", "LambdaFunctionFailed", "ExecutionFailed") and rows:
            rows[-1]["status"] = "failed"
    return rows


def render(incident_id: str, rows: list[dict[str, Any]], status: str) -> str:
    lines = [f"Execution {incident_id}  status: {status}", "",
             f"{'#':>3}  {'State':<20} {'Type':<8} {'Entered (sim)':<26} {'Status':<24} Output"]
    for i, row in enumerate(rows, 1):
        lines.append(f"{i:>3}  {row['state']:<20} {row['type']:<8} {row['entered']:<26} {row['status']:<24} "
                     f"{row['output'] or ''}")
    return "\n".join(lines)


def serialisable(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return json.loads(json.dumps(events, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    return str(value)


def _fmt(value: Any) -> str:
    if isinstance(value, datetime):
        return format_time(value)
    return str(value or "")


RESULT_KEYS = {"AssembleContext": "context", "AggregateEvidence": "evidence", "GenerateHypotheses": "hypotheses",
               "ScoreConfidence": "scores", "ApplyPolicy": "decision", "Recommend": "recommendation",
               "Notify": "notify", "AwaitDecision": "wake", "Act": "act", "Verify": "verify",
               "CheckRecovery": "recovery", "Rollback": "rollback", "Document": "document", "RecordFailure": "failure"}


def _short(text: Any, limit: int = 90, key: str | None = None) -> str | None:
    if text is None:
        return None
    try:
        document = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return str(text)[:limit]
    if key and isinstance(document, dict) and key in document:
        # Each task writes its result under its own ResultPath; show only what this state added.
        part = document[key]
        document = part.get("result", part) if isinstance(part, dict) else part
    elif isinstance(document, dict) and not key:
        document = {k: v for k, v in document.items() if k in ("incident_id", "tenant_id")}
    out = json.dumps(document, separators=(",", ":"), default=str)
    return out if len(out) <= limit else out[: limit - 1] + "…"
