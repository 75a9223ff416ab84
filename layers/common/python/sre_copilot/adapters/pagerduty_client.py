"""PagerDuty REST API v2: mirror acknowledge/resolve and add notes to the linked PagerDuty incident.

PagerDuty rate-limits per token (HTTP 429) and has brief 5xx blips; both are retried with
exponential backoff, honouring Retry-After when sent. Other 4xx answers are our mistake (bad
token, unknown incident, missing From header) and fail at once with PagerDuty's own message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from sre_copilot.errors import ConfigurationError, SreCopilotError

ACCEPT = "application/vnd.pagerduty+json;version=2"
RETRYABLE = frozenset({429, 500, 502, 503, 504})


class PagerDutyApiError(SreCopilotError):
    status = 502
    code = "pagerduty_api_error"

    def __init__(self, message: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class PagerDutyClient:
    """`IncidentManagementSync` over PagerDuty's REST API."""

    def __init__(
        self,
        api_token: str,
        from_email: str,
        base_url: str = "https://api.pagerduty.com",
        *,
        max_attempts: int = 4,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        timeout_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        from sre_copilot.services.observability import trace_requests

        trace_requests()
        if not api_token:
            raise ConfigurationError("the PagerDuty API token is empty; set api_token in the pagerduty secret")
        if not from_email:
            raise ConfigurationError("PagerDuty needs the email of a valid user in the From header; "
                                     "set from_email in the pagerduty secret")
        self.base_url = base_url.rstrip("/")
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.timeout_s = timeout_s
        self._sleep = sleep
        self.session = session or requests.Session()
        self.headers = {"Authorization": f"Token token={api_token}", "From": from_email, "Accept": ACCEPT,
                        "Content-Type": "application/json"}

    # -- IncidentManagementSync -----------------------------------------------------------------
    def acknowledge(self, external_id: str, note: str | None = None) -> None:
        self._set_status(external_id, "acknowledged")
        if note:
            self.add_note(external_id, note)

    def resolve(self, external_id: str, note: str | None = None) -> None:
        self._set_status(external_id, "resolved")
        if note:
            self.add_note(external_id, note)

    def add_note(self, external_id: str, note: str) -> None:
        self._request("POST", f"/incidents/{external_id}/notes", {"note": {"content": note}})

    # -- HTTP -------------------------------------------------------------------------------------
    def _set_status(self, external_id: str, status: str) -> None:
        self._request("PUT", f"/incidents/{external_id}",
                      {"incident": {"type": "incident_reference", "status": status}})

    def _request(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self.session.request(method, url, json=body, headers=self.headers, timeout=self.timeout_s)
            except requests.ConnectionError as exc:
                if attempt == self.max_attempts:
                    raise PagerDutyApiError(f"PagerDuty unreachable at {self.base_url}: {exc}") from exc
                self._sleep(self._backoff(attempt, None))
                continue
            if response.status_code < 300:
                return response.json() if response.content else {}
            if response.status_code in RETRYABLE and attempt < self.max_attempts:
                self._sleep(self._backoff(attempt, response.headers.get("Retry-After")))
                continue
            raise PagerDutyApiError(f"PagerDuty {method} {path} answered {response.status_code}: "
                                    f"{_error_message(response)}", response.status_code)
        raise AssertionError("unreachable: the loop returns or raises")

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), self.max_backoff_s)
        return min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s)


def _error_message(response: requests.Response) -> str:
    try:
        error = response.json().get("error", {})
    except ValueError:
        return response.text[:300] or response.reason
    if not isinstance(error, dict):
        return str(error)[:300]
    details = "; ".join(str(e) for e in error.get("errors", []) or [])
    return f"{error.get('message', response.reason)}{' (' + details + ')' if details else ''}"
