"""Redaction of secrets and personal data before any text leaves for an LLM provider.

Alert bodies, change summaries and catalogs routinely carry tokens pasted into annotations, DSNs
with passwords, on-call phone numbers and e-mail addresses. Each match is replaced by a typed
placeholder ("[REDACTED:aws_access_key]") so the model still sees that something was there.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# A key that names a secret, with any prefix or suffix of word characters (DB_PASSWORD, stripe_api_key,
# x-auth-token, "clientSecret").
_SECRET_KEY = (r"(?i)(?<![A-Za-z0-9])([A-Za-z0-9_.-]*?(?:password|passwd|pwd|passphrase|secret|api[_-]?key|apikey|"
               r"access[_-]?key|private[_-]?key|signing[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|"
               r"token|credentials?)[A-Za-z0-9_-]*)")

# Order matters: multi-line and structured secrets first, so their parts are not half-matched later.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(pattern, flags)) for name, pattern, flags in (
    ("private_key", r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL),
    ("url_credentials", r"(?<=://)[^\s:/@]+:[^\s@/]+(?=@)", 0),
    ("bearer_token", r"(?i)(?<=bearer )[A-Za-z0-9\-._~+/]{8,}=*", 0),
    ("basic_auth", r"(?i)(?<=basic )[A-Za-z0-9+/]{8,}=*", 0),
    ("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", 0),
    ("slack_webhook", r"hooks\.slack\.com/services/[A-Za-z0-9/_-]+", 0),
    ("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})", 0),
    ("anthropic_key", r"\bsk-ant-[A-Za-z0-9_-]{16,}", 0),
    ("openai_key", r"\bsk-[A-Za-z0-9]{32,}", 0),
    ("aws_access_key", r"\b(?:AKIA|ASIA|ABIA|ACCA|AROA|AIDA)[A-Z0-9]{16}\b", 0),
    ("aws_secret_key", r"(?i)(?<=aws_secret_access_key)(\s*[:=]\s*[\"']?)[A-Za-z0-9/+=]{40}", 0),
    ("gitlab_token", r"\bgl(?:pat|dt|rt|ptt|ft|soat)-[A-Za-z0-9_-]{20,}", 0),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", 0),
    # A JSON or quoted value under a secret-like key: everything up to the closing quote, spaces too.
    ("secret_quoted", _SECRET_KEY + r"([\"']?\s*[:=]\s*)([\"'])((?:(?!\3)[^\\]|\\.)+)\3", 0),
    # KEY=value, key: value, DB_PASSWORD=..., STRIPE_API_KEY=...: the key may carry any prefix.
    ("secret_assignment", _SECRET_KEY + r"([\"']?\s*[:=]\s*[\"']?)([^\s\"',;&]{4,})", 0),
    # A bare AWS secret access key: 40 base64 characters mixing cases and digits (a hex SHA has no
    # capitals, so commit ids are kept).
    ("aws_secret_key", r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]{0,39}[A-Z])(?=[A-Za-z0-9/+]{0,39}[a-z])"
                       r"(?=[A-Za-z0-9/+]{0,39}[0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])", 0),
    ("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b", 0),
    ("phone", r"(?<![\w.-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]\d{3}[ .-]\d{4}(?![\w.-])|"
              r"(?<![\w.+-])\+\d{8,15}(?![\w.-])", 0),
))
_IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")


def _placeholder(name: str) -> str:
    return f"[REDACTED:{name}]"


def _replacer(name: str) -> Callable[[re.Match[str]], str]:
    placeholder = _placeholder(name)
    if name == "aws_secret_key":
        return lambda m: f"{m.group(1)}{placeholder}" if m.groups() and m.group(1) is not None else placeholder
    if name == "secret_quoted":
        kept = _placeholder("secret_assignment")
        return lambda m: m.group(0) if m.group(4).startswith("[REDACTED") else \
            f"{m.group(1)}{m.group(2)}{m.group(3)}{kept}{m.group(3)}"
    if name == "secret_assignment":
        # Keep the key name so the model knows a password was there; skip values already redacted.
        return lambda m: m.group(0) if m.group(3).startswith("[REDACTED") else f"{m.group(1)}{m.group(2)}{placeholder}"
    return lambda m: placeholder


def redact(text: str, *, ips: bool = False) -> str:
    """Replace secrets and PII in `text`. IP addresses are kept unless `ips` is True, because hosts
    are often named by address and reasoning needs to match them against the catalog."""
    if not text:
        return text
    out = text
    for name, pattern in _RULES:
        out = pattern.sub(_replacer(name), out)
    if ips:
        out = _IPV4.sub(_placeholder("ip"), out)
    return out
