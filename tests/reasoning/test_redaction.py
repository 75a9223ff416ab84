"""Redaction of secrets and personal data before text is sent to an LLM."""

from __future__ import annotations

import pytest

from sre_copilot.reasoning.redact import redact


@pytest.mark.parametrize(("text", "secret", "kind"), [
    ("key AKIAIOSFODNN7EXAMPLE leaked", "AKIAIOSFODNN7EXAMPLE", "aws_access_key"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "aws_secret_key"),
    ("Authorization: Bearer eyJhbGciOi.abcdefghijk.lmnopqrstuv", "eyJhbGciOi.abcdefghijk", "bearer_token"),
    ("dsn postgres://app:s3cr3t-pw@db.internal:5432/orders", "s3cr3t-pw", "url_credentials"),
    ("token xoxb-123456789012-abcdefghijkl posted", "xoxb-123456789012-abcdefghijkl", "slack_token"),
    ("hook https://hooks.slack.com/services/T000/B000/XXXX", "T000/B000/XXXX", "slack_webhook"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----", "MIIEow", "private_key"),
    ("gh token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "github_token"),
    ("password=hunter22 in env", "hunter22", "secret_assignment"),
    ("api_key: 'abcd1234efgh'", "abcd1234efgh", "secret_assignment"),
    ("contact jane.doe@example.com now", "jane.doe@example.com", "email"),
    ("page +15550100 or (555) 010-0199", "+15550100", "phone"),
    ("call 555-010-0199 now", "555-010-0199", "phone"),
])
def test_secrets_and_pii_are_replaced_by_typed_placeholders(text: str, secret: str, kind: str) -> None:
    out = redact(text)
    assert secret not in out
    assert f"[REDACTED:{kind}]" in out


def test_operational_text_is_left_alone() -> None:
    text = ("ip-10-0-6-183-statuscheckfailed-high at 2026-03-10T21:11:39Z; v2.3.1; p99 1046.0 ms; "
            "search-os CPUUtilization 97.5; fingerprint 3fa82e545c12cd34; host 10.0.6.183")
    assert redact(text) == text


def test_ip_addresses_only_when_asked() -> None:
    assert redact("peer 10.0.6.183 refused", ips=True) == "peer [REDACTED:ip] refused"
    assert redact("") == ""
