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
                   "parent": event.get("parentState"),
                   "entered": _fmt(at), "exited": None, "input": _short(details.get("input")), "output": None,
                   "status": "running", "input_doc": _load(details.get("input")), "output_doc": None}
            rows.append(row)
            open_rows[str(details.get("name"))] = row
        elif kind.endswith("StateExited"):
            details = event.get("stateExitedEventDetails", {})
            row = open_rows.pop(str(details.get("name")), {})
            if row:
                row.update(exited=_fmt(at), output=_short(details.get("output"), key=RESULT_KEYS.get(str(row["state"]))),
                           status="failed" if row["status"] == "failed" else "succeeded",
                           output_doc=_load(details.get("output")))
        elif kind == "TaskSubmitted" and rows:
            rows[-1]["status"] = "waiting for task token"
        elif kind in ("TaskFailed", "LambdaFunctionFailed", "ExecutionFailed") and rows:
            rows[-1]["status"] = "failed"
    return rows


def render(incident_id: str, rows: list[dict[str, Any]], status: str, width: int = 100) -> str:
    """One line per state: simulated time, state, and what it did in a few words (never cut JSON)."""
    lines = [f"Execution {incident_id}  status: {status}", "",
             f"{'#':>3}  {'time':<8}  {'state':<20}  what happened"]
    for i, row in enumerate(rows, 1):
        following = rows[i]["state"] if i < len(rows) else None
        # A child execution's states (the Express analysis pass) sit indented under their task.
        label = f"· {row['state']}" if row.get("parent") else str(row["state"])
        head = f"{i:>3}  {str(row['entered'])[11:19]:<8}  {label:<20}  "
        lines.append(head + _clip(summarise(row, following), width - len(head)))
    return "\n".join(lines)


def _load(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def _result(row: dict[str, Any]) -> dict[str, Any]:
    document = row.get("output_doc")
    key = RESULT_KEYS.get(str(row.get("state")))
    if isinstance(document, dict) and key and isinstance(document.get(key), dict):
        part = document[key]
        return part.get("result", part) if isinstance(part.get("result", part), dict) else {}
    return document if isinstance(document, dict) else {}


def summarise(row: dict[str, Any], following: str | None = None) -> str:
    """A short sentence for a state visit, from its own result."""
    state, r = str(row.get("state")), _result(row)
    if row.get("status") == "failed":
        return "failed"
    if state == "Analyse" and row.get("type") == "Task":
        # One state runs the Express pass (its states follow, marked ·) and then waits for a decision.
        then = (f"woken: {r.get('reason')}" if r.get("reason") else "waiting (task token parked)"
                if row.get("status") == "waiting for task token" else "done")
        return f"analysis pass (states below), then {then}"
    if state == "AwaitDecision" and row.get("parent"):  # the pass parking its parent's token
        doc = row.get("output_doc")
        park = ((doc.get("park") or {}).get("result") or {}) if isinstance(doc, dict) else {}
        return "token parked" + (f" until {str(park['deadline'])[11:19]}" if park.get("deadline") else "") + (
            f", plan {park['plan_id']}" if park.get("plan_id") else "")
    if row.get("status") == "waiting for task token":
        return "waiting (task token parked)"
    if row.get("type") == "Choice":
        return f"→ {following}" if following else "choice"
    if row.get("type") in ("Succeed", "Fail"):
        return "execution ended" if row.get("type") == "Succeed" else "execution failed"
    if state == "Unwrap" and row.get("parent") == "Reanalyse":
        return "re-analysis: its own Express run, holding the parked token"
    if state == "Unwrap" and row.get("parent"):
        return "the parent's state, handed to the analysis steps"
    if state == "PageLevel":
        raw = row.get("input_doc")
        given: dict[str, Any] = raw if isinstance(raw, dict) else {}
        where = "P1 delay" if given.get("level") == 0 else f"level {given.get('level')}"
        return f"{where}, round {given.get('round')}, {given.get('timeout_s')}s: " + (_page(r) if r else "waiting")
    summary = _SUMMARIES.get(state)
    if summary is not None and r:
        try:
            return summary(r)
        except (KeyError, TypeError, ValueError, IndexError):
            pass
    return json.dumps(r, separators=(",", ":"), default=str) if r else "done"


def _top(r: dict[str, Any]) -> str:
    top = r.get("top") or {}
    if not top:
        return f"{r.get('count', 0)} scored; no hypothesis"
    via = f" via {top['change_id']}" if top.get("change_id") else ""
    return f"{r.get('count')} scored; top {top.get('fault')} on {top.get('entity')}{via} at {top.get('confidence')}"


def _page(r: dict[str, Any]) -> str:
    # The answer is the state paging goes on with, `woken` saying who answered (executions started
    # before that release kept the answer alone, under `answer`).
    woken = next((r[k] for k in ("woken", "answer") if isinstance(r.get(k), dict)), r)
    by = f" (by {woken['by']})" if woken.get("by") else ""
    return f"{r['summary']}{by}" if r.get("summary") else f"answered: {woken.get('reason')}{by}"


_SUMMARIES: dict[str, Any] = {
    "AssembleContext": lambda r: (f"{r['signals']} signals, {r['changes']} recent changes"
                                  + (f"; missing {', '.join(r['missing'])}" if r.get("missing") else "")),
    "AggregateEvidence": lambda r: (f"{r['items']} evidence items ({', '.join(r.get('kinds', []))}), "
                                    f"{r.get('conflicts', 0)} conflicts"),
    "GenerateHypotheses": lambda r: f"{r['count']} hypotheses from {', '.join(r.get('generators', []))}",
    "ScoreConfidence": _top,
    "ApplyPolicy": lambda r: f"{r['outcome']}: {'; '.join(r.get('reasons', [])) or 'no reason given'}",
    "Recommend": lambda r: (f"{r['action']} {r['target']} (risk {r.get('risk')}), approval {r['approval']}"
                            if r.get("action") else "no action to recommend"),
    "Notify": lambda r: ("sent " + ", ".join(r["sent"])) if r.get("sent") else r.get("skipped", "nothing new"),
    "AwaitDecision": lambda r: f"woken: {r.get('reason')}",
    "Act": lambda r: f"{r.get('status')} plan {r.get('plan_id')} ({'dry run' if r.get('dry_run') else 'live'})",
    "Verify": lambda r: f"{'verified' if r.get('ok') else 'NOT verified'}: {r.get('why')}",
    "Rollback": lambda r: f"{r.get('status')} plan {r.get('plan_id')}",
    "Document": lambda r: f"postmortem written ({r.get('state', 'closed')})",
    "RecordFailure": lambda r: f"failure recorded: {r.get('error')}",
    "PageLevel": _page,
    "NextLevel": lambda r: str(r.get("summary") or r.get("outcome")),
}


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
               "CheckRecovery": "recovery", "Rollback": "rollback", "Document": "document", "RecordFailure": "failure",
               "Analyse": "wake"}


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
