"""Microsoft Teams: post an Adaptive Card message to an incoming webhook (Workflows or connector)."""

from __future__ import annotations

from typing import Any

import requests

from sre_copilot.errors import ConfigurationError


class TeamsWebhook:
    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        if not url.startswith(("https://", "http://")):
            raise ConfigurationError("the Teams webhook URL must be an http(s) URL; set teams_webhook_url")
        self.url = url
        self.timeout_s = timeout_s

    def post(self, message: dict[str, Any]) -> str:
        """Raise on anything but 2xx; Teams answers with no id, so the status is returned."""
        response = requests.post(self.url, json=message, timeout=self.timeout_s)
        if response.status_code >= 300:
            raise RuntimeError(f"Teams webhook answered {response.status_code}: {response.text[:200]}")
        return str(response.status_code)
