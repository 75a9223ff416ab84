"""SSM Automation for the embedded backend: moto 5 has documents but no automation executions.

Adds StartAutomationExecution, GetAutomationExecution and StopAutomationExecution to moto's SSM
responses, with the real API's checks (the document exists and is an Automation runbook; only
declared parameters; ClientToken makes a start idempotent). An execution succeeds at once unless
`fail_documents` names its runbook, so tests can watch a runbook fail.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.responses import ActionResult
from moto.ssm.exceptions import ValidationException
from moto.ssm.responses import SimpleSystemManagerResponse

fail_documents: set[str] = set()
_executions: dict[str, dict[str, Any]] = {}
_tokens: dict[str, str] = {}


def _start(self: SimpleSystemManagerResponse) -> ActionResult:
    name = self._get_param("DocumentName")
    parameters = self._get_param("Parameters") or {}
    token = self._get_param("ClientToken")
    if token and token in _tokens:
        return ActionResult({"AutomationExecutionId": _tokens[token]})
    document = self.ssm_backend.describe_document(name=name, document_version=None,  # type: ignore[arg-type]
                                                  version_name=None)  # type: ignore[arg-type]
    if document.get("DocumentType") != "Automation":
        raise ValidationException(f"{name} is not an Automation document")
    declared = {p["Name"] for p in document.get("Parameters", [])}
    if set(parameters) - declared:
        raise ValidationException(f"Parameters {sorted(set(parameters) - declared)} are not defined in {name}")
    # Derived, not random, so a replay's execution ids are the same every run: from the ClientToken
    # when there is one (the executors always send one), else from the request and its repeat count.
    request = json.dumps({"name": name, "parameters": parameters}, sort_keys=True)
    seed = f"token:{token}" if token else f"{request}#{sum(1 for e in _executions.values() if e.get('request') == request)}"
    execution_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"ssm-automation:{seed}"))
    _executions[execution_id] = {"AutomationExecutionId": execution_id, "DocumentName": name,
                                 "Parameters": parameters, "request": request,
                                 "AutomationExecutionStatus": "Failed" if name in fail_documents else "Success"}
    if token:
        _tokens[token] = execution_id
    return ActionResult({"AutomationExecutionId": execution_id})


def _get(self: SimpleSystemManagerResponse) -> ActionResult:
    execution_id = self._get_param("AutomationExecutionId")
    if execution_id not in _executions:
        raise ValidationException(f"Automation execution {execution_id} does not exist")
    execution = {k: v for k, v in _executions[execution_id].items() if k != "request"}  # ours, not the API's
    return ActionResult({"AutomationExecution": json.loads(json.dumps(execution))})


def _stop(self: SimpleSystemManagerResponse) -> ActionResult:
    execution = _executions.get(self._get_param("AutomationExecutionId"))
    if execution and execution["AutomationExecutionStatus"] in ("Pending", "InProgress", "Waiting"):
        execution["AutomationExecutionStatus"] = "Cancelled"
    return ActionResult({})


@contextmanager
def ssm_automation() -> Iterator[dict[str, dict[str, Any]]]:
    """Install the three calls for the duration; yields the executions started."""
    patched = {"start_automation_execution": _start, "get_automation_execution": _get,
               "stop_automation_execution": _stop}
    saved: dict[str, Any] = {name: getattr(SimpleSystemManagerResponse, name, None) for name in patched}
    for name, fn in patched.items():
        setattr(SimpleSystemManagerResponse, name, fn)
    _executions.clear()
    _tokens.clear()
    try:
        yield _executions
    finally:
        for name, fn in saved.items():
            if fn is None:
                delattr(SimpleSystemManagerResponse, name)
            else:
                setattr(SimpleSystemManagerResponse, name, fn)
        fail_documents.clear()
