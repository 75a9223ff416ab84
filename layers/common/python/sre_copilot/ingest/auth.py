"""Webhook authentication per source: HMAC signatures, SNS signatures, bearer/basic credentials.

`authenticate` raises `Unauthorized` (401) when credentials are missing or do not verify, and
`MalformedSignature` (400) when a signature header is present but not in the source's documented
format. Header names are case-insensitive. When several schemes are configured for one source, any
one of them verifying is enough (e.g. rotating from basic auth to a bearer token).

Fail closed: a source with no credentials configured is refused (`SourceNotConfigured`, 401
"source not configured"), unless the deployment names it in `insecure_sources` (development only).
Signed timestamps are checked against a replay window: the SNS `Timestamp`, PagerDuty's
`event.occurred_at` and Grafana's timestamp header; SNS messages must also come from an allowed topic.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sre_copilot.errors import MalformedSignature, SourceNotConfigured, Unauthorized
from sre_copilot.ingest.sns_signature import SnsVerifier, check_cert_url, string_to_sign

__all__ = [
    "AuthPolicy",
    "SnsVerifier",
    "WebhookSecrets",
    "authenticate",
    "check_cert_url",
    "check_sns_origin",
    "sign_github",
    "sign_grafana",
    "sign_pagerduty",
    "sns_messages",
    "string_to_sign",
]

Pair = tuple[str, str]
"""(username, password) for basic auth, or (header name, value) for a custom header."""


@dataclass
class WebhookSecrets:
    pagerduty: list[str] = field(default_factory=list)
    grafana_hmac: str | None = None
    alertmanager_bearer: str | None = None
    alertmanager_basic: Pair | None = None
    github: str | None = None
    generic_bearer: str | None = None
    generic_basic: Pair | None = None
    grafana_bearer: str | None = None
    grafana_basic: Pair | None = None
    datadog_basic: Pair | None = None
    datadog_header: Pair | None = None
    opsgenie_basic: Pair | None = None
    opsgenie_header: Pair | None = None
    cloudwatch_header: Pair | None = None
    """API-key header of an EventBridge API destination connection."""
    changes_bearer: str | None = None
    """Token for /changes from CI/CD; falls back to generic_bearer."""
    grafana_signature_header: str = "X-Grafana-Alerting-Signature"
    grafana_timestamp_header: str = "X-Grafana-Alerting-Timestamp"


@dataclass(frozen=True)
class AuthPolicy:
    """The deployment's authentication rules beyond the secrets themselves."""

    insecure_sources: frozenset[str] = frozenset()
    """Sources accepted without credentials (development only; the prod stage refuses any)."""
    changes_scheme: str = "bearer"
    """How /changes authenticates: `bearer` (changes_bearer, else generic_bearer) or `github`
    (X-Hub-Signature-256). Configuration decides, never a request header."""
    sns_topic_arns: frozenset[str] = frozenset()
    """SNS topics whose messages are accepted; empty refuses every SNS message."""
    replay_window_s: float = 3600.0
    """How far a signed timestamp may be from now, either way."""


def sign_pagerduty(secret: str, body: bytes) -> str:
    """The X-PagerDuty-Signature value PagerDuty sends for `body`: 'v1=<hex HMAC-SHA256>'."""
    return "v1=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def sign_github(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def sign_grafana(secret: str, body: bytes, timestamp: str | None = None) -> str:
    signed = f"{timestamp}:".encode() + body if timestamp else body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def authenticate(source: str, headers: Mapping[str, str], raw_body: bytes, secrets: WebhookSecrets, *,
                 sns_verifier: SnsVerifier | None = None, policy: AuthPolicy | None = None,
                 now: datetime | None = None) -> None:
    policy = policy or AuthPolicy()
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    checks = _checks(source, lowered, raw_body, secrets, sns_verifier, policy, now or _now())
    if not checks:
        if source in policy.insecure_sources:
            return
        raise SourceNotConfigured(
            f"source not configured: no credentials are configured for '{source}', so its deliveries are refused")
    failures: list[Unauthorized | MalformedSignature] = []
    for check in checks:
        try:
            check()
            return
        except (Unauthorized, MalformedSignature) as exc:
            failures.append(exc)
    raise next((f for f in failures if isinstance(f, MalformedSignature)), failures[0])


Check = Callable[[], None]


def _now() -> datetime:
    from sre_copilot.ports import clock

    return clock.now()


def _checks(source: str, h: dict[str, str], body: bytes, s: WebhookSecrets,
            sns_verifier: SnsVerifier | None, policy: AuthPolicy, now: datetime) -> list[Check]:
    checks: list[Check] = []

    def add_bearer(token: str | None, who: str) -> None:
        if token:
            checks.append(lambda: _bearer(h, token, who))

    def add_basic(pair: Sequence[str] | None, who: str) -> None:
        if pair:
            checks.append(lambda: _basic(h, pair, who))

    def add_header(pair: Sequence[str] | None, who: str) -> None:
        if pair:
            checks.append(lambda: _header(h, pair, who))

    if source == "pagerduty":
        if s.pagerduty:
            checks.append(lambda: _pagerduty(h, body, s.pagerduty, policy, now))
    elif source == "cloudwatch-sns":
        if sns_verifier is not None and source not in policy.insecure_sources:
            checks.append(lambda: _sns(body, sns_verifier, policy, now))
    elif source == "cloudwatch":
        add_header(s.cloudwatch_header, "CloudWatch (EventBridge API destination)")
    elif source == "alertmanager":
        add_bearer(s.alertmanager_bearer, "Alertmanager")
        add_basic(s.alertmanager_basic, "Alertmanager")
    elif source == "grafana":
        if s.grafana_hmac:
            secret = s.grafana_hmac
            checks.append(lambda: _grafana(h, body, secret, s, policy, now))
        add_bearer(s.grafana_bearer, "Grafana")
        add_basic(s.grafana_basic, "Grafana")
    elif source == "datadog":
        add_basic(s.datadog_basic, "Datadog")
        add_header(s.datadog_header, "Datadog")
    elif source == "opsgenie":
        add_basic(s.opsgenie_basic, "Opsgenie")
        add_header(s.opsgenie_header, "Opsgenie")
    elif source == "generic":
        add_bearer(s.generic_bearer, "generic webhook")
        add_basic(s.generic_basic, "generic webhook")
    elif source == "github" or (source == "changes" and policy.changes_scheme == "github"):
        if s.github:
            secret = s.github
            checks.append(lambda: _github(h, body, secret))
    elif source == "changes":
        add_bearer(s.changes_bearer or s.generic_bearer, "change events")
    else:
        def unknown() -> None:
            raise Unauthorized(f"no authentication scheme is defined for source '{source[:40]}'")

        checks.append(unknown)
    return checks


_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


def _matches(expected_hex: str, given_hex: str) -> bool:
    return hmac.compare_digest(expected_hex.encode("ascii"), given_hex.lower().encode("ascii"))


def _fresh(what: str, at: datetime | None, policy: AuthPolicy, now: datetime) -> None:
    """Refuse a signed timestamp outside the replay window: a captured delivery cannot be replayed
    once its idempotency record (24 h, longer than the window) could have expired."""
    if at is None:
        return
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    skew = abs((now - at).total_seconds())
    if skew > policy.replay_window_s:
        raise Unauthorized(f"{what} is {skew:.0f} s from now, outside the {policy.replay_window_s:.0f} s replay "
                           "window; a stale or replayed delivery is refused")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _pagerduty(h: dict[str, str], body: bytes, secrets: list[str], policy: AuthPolicy, now: datetime) -> None:
    header = h.get("x-pagerduty-signature")
    if header is None:
        raise Unauthorized("PagerDuty delivery is not signed: the X-PagerDuty-Signature header is missing")
    given: list[str] = []
    for entry in header.split(","):
        version, sep, value = entry.strip().partition("=")
        if not sep or not version or not value:
            raise MalformedSignature("X-PagerDuty-Signature must be a comma-separated list of v1=<hex> entries")
        if version == "v1":
            if not _HEX64.match(value):
                raise MalformedSignature("X-PagerDuty-Signature v1 entry is not 64 hex characters")
            given.append(value)
    if not given:
        raise MalformedSignature("X-PagerDuty-Signature has no v1 signature")
    expected = [sign_pagerduty(secret, body)[3:] for secret in secrets]
    if not any(_matches(e, g) for e in expected for g in given):
        raise Unauthorized("X-PagerDuty-Signature does not match the body for any configured webhook secret")
    # PagerDuty signs no timestamp header; the event's occurred_at is inside the signed body.
    event = (_json_object(body) or {}).get("event")
    if isinstance(event, dict):
        _fresh("the PagerDuty event's occurred_at", _parse_time(event.get("occurred_at")), policy, now)


def _github(h: dict[str, str], body: bytes, secret: str) -> None:
    header = h.get("x-hub-signature-256")
    if header is None:
        raise Unauthorized("GitHub delivery is not signed: the X-Hub-Signature-256 header is missing")
    scheme, sep, value = header.strip().partition("=")
    if scheme != "sha256" or not sep or not _HEX64.match(value):
        raise MalformedSignature("X-Hub-Signature-256 must be sha256=<64 hex characters>")
    if not _matches(sign_github(secret, body)[7:], value):
        raise Unauthorized("X-Hub-Signature-256 does not match the body for the configured GitHub secret")


def _grafana(h: dict[str, str], body: bytes, secret: str, s: WebhookSecrets, policy: AuthPolicy,
             now: datetime) -> None:
    name = s.grafana_signature_header
    header = h.get(name.lower())
    if header is None:
        raise Unauthorized(f"Grafana delivery is not signed: the {name} header is missing")
    value = header.strip().removeprefix("sha256=")
    if not _HEX64.match(value):
        raise MalformedSignature(f"{name} must be a hex HMAC-SHA256 (64 hex characters)")
    timestamp = h.get(s.grafana_timestamp_header.lower())
    if not _matches(sign_grafana(secret, body, timestamp), value):
        raise Unauthorized(f"{name} does not match the body for the configured Grafana secret")
    if timestamp is not None:
        try:
            stamped = datetime.fromtimestamp(float(timestamp), tz=UTC)
        except (ValueError, OverflowError, OSError):
            raise MalformedSignature(f"{s.grafana_timestamp_header} is not a Unix time") from None
        _fresh(f"the {s.grafana_timestamp_header} timestamp", stamped, policy, now)


def _authorization(h: dict[str, str], scheme: str, who: str) -> str:
    header = h.get("authorization")
    if header is None:
        raise Unauthorized(f"{who} requires an Authorization: {scheme} header")
    given_scheme, _, credentials = header.strip().partition(" ")
    if given_scheme.lower() != scheme.lower():
        raise Unauthorized(f"{who} requires {scheme} credentials in the Authorization header")
    if not credentials.strip():
        raise MalformedSignature(f"Authorization header has the {scheme} scheme but no credentials")
    return credentials.strip()


def _bearer(h: dict[str, str], token: str, who: str) -> None:
    given = _authorization(h, "Bearer", who)
    if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode("utf-8")):
        raise Unauthorized(f"the bearer token for {who} is not valid")


def _basic(h: dict[str, str], pair: Sequence[str], who: str) -> None:
    given = _authorization(h, "Basic", who)
    try:
        decoded = base64.b64decode(given, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise MalformedSignature("Authorization Basic credentials are not base64 of user:password") from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise MalformedSignature("Authorization Basic credentials are not base64 of user:password")
    user_ok = hmac.compare_digest(user.encode(), str(pair[0]).encode())
    password_ok = hmac.compare_digest(password.encode(), str(pair[1]).encode())
    if not (user_ok and password_ok):
        raise Unauthorized(f"the basic-auth credentials for {who} are not valid")


def _header(h: dict[str, str], pair: Sequence[str], who: str) -> None:
    name, expected = str(pair[0]), str(pair[1])
    given = h.get(name.lower())
    if given is None:
        raise Unauthorized(f"{who} requires the {name} header")
    if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8")):
        raise Unauthorized(f"the {name} header for {who} is not valid")


def sns_messages(body: bytes) -> list[dict[str, Any]]:
    """The SNS messages of an HTTPS delivery or a Lambda `Records` envelope."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise MalformedSignature("SNS body is not JSON, so its signature cannot be checked") from None
    if isinstance(document, dict) and isinstance(document.get("Records"), list):
        records = document["Records"]
        if not records:
            raise MalformedSignature("SNS Records envelope holds no records to verify")
        messages = []
        for record in records:
            message = record.get("Sns") if isinstance(record, dict) else None
            if not isinstance(message, dict):
                raise MalformedSignature("SNS record has no Sns message to verify")
            messages.append(message)
        return messages
    if not isinstance(document, dict):
        raise MalformedSignature("SNS body is not a JSON object, so its signature cannot be checked")
    return [document]


def check_sns_origin(message: Mapping[str, Any], policy: AuthPolicy, now: datetime) -> None:
    """A valid SNS signature proves only that SNS signed the message, for any account's topic at any
    time: the topic must be one of ours and the signed Timestamp recent."""
    topic = message.get("TopicArn")
    if not isinstance(topic, str) or topic not in policy.sns_topic_arns:
        raise Unauthorized(f"SNS topic {str(topic)[:200]!r} is not in the allowed topics (sns_topic_arns)")
    at = _parse_time(message.get("Timestamp"))
    if at is None:
        raise Unauthorized("SNS message has no valid Timestamp, so its freshness cannot be checked")
    _fresh("the SNS message Timestamp", at, policy, now)


def _sns(body: bytes, verifier: SnsVerifier, policy: AuthPolicy, now: datetime) -> None:
    for message in sns_messages(body):
        verifier.verify(message)
        check_sns_origin(message, policy, now)
