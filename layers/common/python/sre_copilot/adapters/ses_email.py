"""Email through Amazon SES (moto locally): plain text, one message per recipient list."""

from __future__ import annotations

from typing import Any

from sre_copilot.errors import ConfigurationError


class SesEmailer:
    def __init__(self, client: Any, from_address: str) -> None:
        if not from_address:
            raise ConfigurationError("no sender address for email; set SRE_COPILOT_EMAIL_FROM (an SES identity)")
        self.client = client
        self.from_address = from_address

    def send(self, to: list[str], subject: str, body: str) -> str:
        response = self.client.send_email(
            Source=self.from_address, Destination={"ToAddresses": to},
            Message={"Subject": {"Data": subject[:200], "Charset": "UTF-8"},
                     "Body": {"Text": {"Data": body, "Charset": "UTF-8"}}})
        return str(response["MessageId"])
