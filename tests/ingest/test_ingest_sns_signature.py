"""SNS signature verification (SignatureVersion 1 and 2) with a locally generated certificate.

The string to sign is built here by hand from the rule in SOURCES.md, so the test checks our
implementation against the documented format rather than against itself.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from sre_copilot.domain.catalog import Catalog
from sre_copilot.errors import MalformedSignature, Unauthorized
from sre_copilot.ingest.auth import AuthPolicy, SnsVerifier, WebhookSecrets, authenticate
from sre_copilot.ingest.normalize import normalize

CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
TOPIC = "arn:aws:sns:us-east-1:123456789012:alarms"
OUR_TOPIC = AuthPolicy(sns_topic_arns=frozenset({TOPIC}))
SENT = datetime(2026, 3, 4, 10, 7, 30, tzinfo=UTC)
"""Shortly after the test notifications' signed Timestamp."""
ALARM = {"AlarmName": "checkout-5xx-high", "NewStateValue": "ALARM", "NewStateReason": "Threshold Crossed",
         "StateChangeTime": "2026-03-04T10:07:10.000+0000",
         "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:checkout-5xx-high",
         "Trigger": {"MetricName": "5XXError", "Namespace": "AWS/ApiGateway",
                     "Dimensions": [{"name": "ApiName", "value": "checkout"}]}}


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def cert_pem(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime(2026, 1, 1, tzinfo=UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + timedelta(days=365))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


class CountingFetch:
    """Serves the local certificate for any URL and counts the fetches."""

    def __init__(self, pem: bytes) -> None:
        self.pem = pem
        self.urls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.urls.append(url)
        return self.pem


def _canonical(message: dict[str, Any]) -> bytes:
    if message["Type"] == "Notification":
        keys = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        keys = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    return "".join(f"{k}\n{message[k]}\n" for k in keys if message.get(k) is not None).encode()


def _sign(key: rsa.RSAPrivateKey, message: dict[str, Any], version: str) -> dict[str, Any]:
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(_canonical(message), padding.PKCS1v15(), algorithm)
    return {**message, "SignatureVersion": version, "Signature": base64.b64encode(signature).decode(),
            "SigningCertURL": CERT_URL}


def _notification(subject: str | None = "ALARM: checkout-5xx-high") -> dict[str, Any]:
    message = {"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
               "TopicArn": "arn:aws:sns:us-east-1:123456789012:alarms", "Message": json.dumps(ALARM),
               "Timestamp": "2026-03-04T10:07:10.512Z",
               "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"}
    if subject is not None:
        message["Subject"] = subject
    return message


@pytest.fixture
def make_verifier(cert_pem: bytes) -> Callable[[], tuple[SnsVerifier, CountingFetch]]:
    def make() -> tuple[SnsVerifier, CountingFetch]:
        fetch = CountingFetch(cert_pem)
        return SnsVerifier(fetch_cert=fetch), fetch
    return make


@pytest.mark.parametrize("version", ["1", "2"])
def test_signed_notification_verifies(version: str, key: rsa.RSAPrivateKey,
                                      make_verifier: Callable[[], tuple[SnsVerifier, CountingFetch]]) -> None:
    # Given a notification signed with SHA1withRSA (v1) or SHA256withRSA (v2)
    verifier, fetch = make_verifier()
    signed = _sign(key, _notification(), version)
    body = json.dumps(signed).encode()
    # When authenticated as an SNS HTTP delivery, Then it verifies against the fetched certificate
    authenticate("cloudwatch-sns", {"x-amz-sns-message-type": "Notification"}, body, WebhookSecrets(),
                 sns_verifier=verifier, policy=OUR_TOPIC, now=SENT)
    assert fetch.urls == [CERT_URL]
    # and the verified body normalises to the alarm
    (signal,) = normalize("cloudwatch-sns", body, catalog=Catalog(), received_at=datetime(2026, 3, 4, tzinfo=UTC)).signals
    assert signal.title == "checkout-5xx-high"


def test_notification_without_subject_verifies(key: rsa.RSAPrivateKey,
                                               make_verifier: Callable[[], tuple[SnsVerifier, CountingFetch]]) -> None:
    verifier, _ = make_verifier()
    verifier.verify(_sign(key, _notification(subject=None), "2"))


def test_subscription_confirmation_verifies(key: rsa.RSAPrivateKey,
                                            make_verifier: Callable[[], tuple[SnsVerifier, CountingFetch]]) -> None:
    verifier, _ = make_verifier()
    confirmation = {"Type": "SubscriptionConfirmation", "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
                    "Token": "2336412f37", "TopicArn": "arn:aws:sns:us-east-1:123456789012:alarms",
                    "Message": "You have chosen to subscribe to the topic.",
                    "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37",
                    "Timestamp": "2026-03-04T10:00:00.000Z"}
    verifier.verify(_sign(key, confirmation, "1"))


def test_lambda_records_envelope_with_its_own_casing_verifies(
        key: rsa.RSAPrivateKey, make_verifier: Callable[[], tuple[SnsVerifier, CountingFetch]]) -> None:
    verifier, fetch = make_verifier()
    signed = _sign(key, _notification(), "1")
    record = {**{k: v for k, v in signed.items() if k != "SigningCertURL"}, "SigningCertUrl": CERT_URL}
    body = json.dumps({"Records": [{"EventSource": "aws:sns", "Sns": record}, {"EventSource": "aws:sns",
                                                                               "Sns": record}]}).encode()
    authenticate("cloudwatch-sns", {}, body, WebhookSecrets(), sns_verifier=verifier, policy=OUR_TOPIC, now=SENT)
    # the certificate is fetched once and then served from the cache
    assert fetch.urls == [CERT_URL]


def test_cache_fetches_each_certificate_url_once(key: rsa.RSAPrivateKey,
                                                 make_verifier: Callable[[], tuple[SnsVerifier, CountingFetch]]) -> None:
    verifier, fetch = make_verifier()
    for _ in range(5):
        verifier.verify(_sign(key, _notification(), "2"))
    other = {**_sign(key, _notification(), "2"), "SigningCertURL": CERT_URL.replace("0123", "9999")}
    verifier.verify(other)
    assert fetch.urls == [CERT_URL, CERT_URL.replace("0123", "9999")]


def test_tampered_message_is_unauthorized(key: rsa.RSAPrivateKey,
                                          make_verifier: Callable[[], tuple[SnsVerifier, CountingFetch]]) -> None:
    verifier, _ = make_verifier()
    signed = _sign(key, _notification(), "2")
    with pytest.raises(Unauthorized, match="does not verify"):
        verifier.verify({**signed, "Message": signed["Message"].replace("ALARM", "OK")})
    with pytest.raises(Unauthorized, match="does not verify"):
        # signed with SHA256 but claims SignatureVersion 1
        verifier.verify({**signed, "SignatureVersion": "1"})


def test_signature_by_another_key_is_unauthorized(make_verifier: Callable[[], tuple[SnsVerifier, CountingFetch]]) -> None:
    verifier, _ = make_verifier()
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Unauthorized):
        verifier.verify(_sign(stranger, _notification(), "2"))


@pytest.mark.parametrize("url", [
    "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
    "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-1.pem",
    "https://evil.example/sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
    "https://sns.us-east-1.amazonaws.com@evil.example/SimpleNotificationService-1.pem",
    "https://user:pw@sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
    "https://evil.example#@sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
    "https://evil.example\\@sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
    "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-1.pem",
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem?x=https://evil.example/a.pem",
    "https://sns.us-east-1.amazonaws.com/redirect",
    "https://sqs.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
    "https://sns.amazonaws.com/SimpleNotificationService-1.pem",
    "https://snsXus-east-1.amazonaws.com/SimpleNotificationService-1.pem",
    "file:///etc/passwd.pem",
    "https://sns.us-east-1.amazonaws.com /SimpleNotificationService-1.pem",
    "EXAMPLE",
])
def test_certificate_url_outside_sns_is_refused_without_fetching(
        url: str, key: rsa.RSAPrivateKey, make_verifier: Callable[[], tuple[SnsVerifier, CountingFetch]]) -> None:
    verifier, fetch = make_verifier()
    with pytest.raises(Unauthorized, match="SigningCertURL"):
        verifier.verify({**_sign(key, _notification(), "2"), "SigningCertURL": url})
    assert fetch.urls == []


def test_unreadable_signature_fields(key: rsa.RSAPrivateKey,
                                     make_verifier: Callable[[], tuple[SnsVerifier, CountingFetch]]) -> None:
    verifier, _ = make_verifier()
    signed = _sign(key, _notification(), "2")
    with pytest.raises(MalformedSignature):
        verifier.verify({**signed, "Signature": "%%% not base64 %%%"})
    with pytest.raises(MalformedSignature):
        verifier.verify({**signed, "SignatureVersion": "3"})
    with pytest.raises(Unauthorized, match="not signed"):
        verifier.verify({k: v for k, v in signed.items() if k != "Signature"})
    with pytest.raises(MalformedSignature):
        authenticate("cloudwatch-sns", {}, b"not json", WebhookSecrets(), sns_verifier=verifier)


def test_fetch_failure_or_bad_certificate_is_unauthorized(key: rsa.RSAPrivateKey) -> None:
    def broken(url: str) -> bytes:
        raise OSError("connection refused")

    with pytest.raises(Unauthorized, match="cannot fetch"):
        SnsVerifier(fetch_cert=broken).verify(_sign(key, _notification(), "2"))
    with pytest.raises(Unauthorized, match="not a PEM certificate"):
        SnsVerifier(fetch_cert=lambda url: b"<html>nope</html>").verify(_sign(key, _notification(), "2"))


def test_fixture_subscription_confirmation_does_not_verify_offline(fixtures_dir: Any, cert_pem: bytes) -> None:
    # The AWS docs example carries an EXAMPLE signature: it must be refused, never waved through.
    body = (fixtures_dir / "sns_http_subscription_confirmation_awsdocs.json").read_bytes()
    with pytest.raises((Unauthorized, MalformedSignature)):
        authenticate("cloudwatch-sns", {}, body, WebhookSecrets(), sns_verifier=SnsVerifier(CountingFetch(cert_pem)))
