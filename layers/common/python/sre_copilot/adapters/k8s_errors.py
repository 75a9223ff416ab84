"""Errors of the Kubernetes executor (shared by the Deployment, pod and node actions)."""

from __future__ import annotations

import json

from kubernetes.client.exceptions import ApiException

from sre_copilot.errors import SreCopilotError


class KubernetesActionError(SreCopilotError):
    status = 502
    code = "kubernetes_action_failed"


class RolloutInProgress(KubernetesActionError):
    """The rollout is still within its progress deadline: neither verified nor failed yet.

    Raised (not returned as a failure) so that the workflow retries Verify after a wait instead of
    rolling back a remediation that simply has not finished; Lambda reports it under this class name.
    """

    status = 503
    code = "rollout_in_progress"


def _api_message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "{}").get("message") or exc.reason)
    except (TypeError, ValueError):
        return str(exc.reason)
