"""Findings 3, 6, 9, 11 and 12: SNS origin, secret expiry, redaction, least privilege, the LLM."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.reasoning import Decision, Hypothesis
from sre_copilot.domain.types import DecisionOutcome, EntityKind
from sre_copilot.errors import Unauthorized
from sre_copilot.ingest.auth import AuthPolicy, SnsVerifier, WebhookSecrets, authenticate
from sre_copilot.reasoning.recommend import recommend
from sre_copilot.reasoning.redact import redact
from sre_copilot.settings import Settings

# -- finding 3: SNS proves only that SNS signed -------------------------------------------------------
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
OURS = "arn:aws:sns:us-east-1:111111111111:sre-copilot-alarm-signals"


@pytest.fixture(scope="module")
def signer() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    start = datetime(2015, 1, 1, tzinfo=UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(start + timedelta(days=8000))
            .sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.PEM)


def _signed(key: rsa.RSAPrivateKey, topic: str, timestamp: str) -> bytes:
    message = {"Type": "Notification", "MessageId": "m-1", "TopicArn": topic, "Subject": "ALARM",
               "Message": json.dumps({"AlarmName": "checkout-5xx-high", "NewStateValue": "ALARM"}),
               "Timestamp": timestamp, "SignatureVersion": "2", "SigningCertURL": CERT_URL}
    canonical = "".join(f"{k}\n{message[k]}\n" for k in ("Message", "MessageId", "Subject", "Timestamp",
                                                          "TopicArn", "Type")).encode()
    signature = key.sign(canonical, padding.PKCS1v15(), hashes.SHA256())
    return json.dumps({**message, "Signature": base64.b64encode(signature).decode()}).encode()


@pytest.mark.parametrize(("topic", "timestamp", "why"), [
    ("arn:aws:sns:us-east-1:999999999999:someone-elses-topic", "2026-03-10T19:59:00.000Z", "not in the allowed topics"),
    (OURS, "2016-06-01T00:00:00.000Z", "replay window"),
])
def test_finding_3_a_validly_signed_foreign_or_old_sns_message_is_refused(
        signer: tuple[rsa.RSAPrivateKey, bytes], topic: str, timestamp: str, why: str) -> None:
    key, pem = signer
    verifier = SnsVerifier(lambda url: pem)
    policy = AuthPolicy(sns_topic_arns=frozenset({OURS}))
    now = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
    body = _signed(key, topic, timestamp)
    # the signature itself is good
    verifier.verify(json.loads(body))
    with pytest.raises(Unauthorized, match=why):
        authenticate("cloudwatch-sns", {}, body, WebhookSecrets(), sns_verifier=verifier, policy=policy, now=now)
    # while our own, fresh message passes
    authenticate("cloudwatch-sns", {}, _signed(key, OURS, "2026-03-10T19:59:00.000Z"), WebhookSecrets(),
                 sns_verifier=verifier, policy=policy, now=now)


# -- finding 6: secrets cached for the life of a warm Lambda ------------------------------------------
def test_finding_6_a_revoked_webhook_secret_stops_working_within_max_age() -> None:
    from sre_copilot.adapters.secrets import clear_secret_cache
    from sre_copilot.services.container import Container

    with mock_aws():
        import boto3

        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(Name="webhook", SecretString=json.dumps({"generic_bearer": "old"}))["ARN"]
        clear_secret_cache()
        container = Container(Settings(webhook_secret_arn=arn, secrets_max_age_s=1, region="us-east-1"))
        assert container.webhook_secrets().generic_bearer == "old"
        # When the operator revokes the token
        client.put_secret_value(SecretId=arn, SecretString=json.dumps({"generic_bearer": "new"}))
        # Then the same warm container refuses it once max_age has passed (no cold start)
        time.sleep(1.2)
        assert container.webhook_secrets().generic_bearer == "new"
        clear_secret_cache()


def test_secrets_max_age_defaults_to_300_s() -> None:
    assert Settings().secrets_max_age_s == 300


# -- finding 9: redaction gaps -------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "DB_PASSWORD=s3cr3t-Value-9", "export STRIPE_API_KEY=sk_live_51Habc123XYZ", '{"password": "hunter2 with spaces"}',
    "creds wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY leaked", "token glpat-AbCdEfGhIjKlMnOpQrSt1234",
])
def test_finding_9_the_reported_forms_are_redacted(text: str) -> None:
    secret = {"DB_PASSWORD=s3cr3t-Value-9": "s3cr3t-Value-9",
              "export STRIPE_API_KEY=sk_live_51Habc123XYZ": "sk_live_51Habc123XYZ",
              '{"password": "hunter2 with spaces"}': "hunter2",
              "creds wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY leaked": "wJalrXUtnFEMI",
              "token glpat-AbCdEfGhIjKlMnOpQrSt1234": "glpat-"}[text]
    assert secret not in redact(text)


def test_commit_ids_and_plain_words_survive_redaction() -> None:
    text = "deploy 3f786850e387550fdab836ed7e6dc881de23001b of checkout failed"
    assert redact(text) == text


KEYS = st.sampled_from(["password", "DB_PASSWORD", "STRIPE_API_KEY", "api_key", "client_secret", "GITHUB_TOKEN",
                        "auth-token", "secret", "db.password", "PrivateKey", "access_key", "x_api_key",
                        "SLACK_SIGNING_SECRET", "passphrase"])
VALUES = st.text(alphabet=st.characters(codec="ascii", categories=("L", "N"), include_characters="-_/+!@$%^*"),
                 min_size=8, max_size=40).filter(lambda v: any(c.isdigit() for c in v))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=KEYS, value=VALUES, form=st.sampled_from(["env", "json", "yaml", "text"]),
       prefix=st.sampled_from(["", "error: ", "config dump\n", "{\"level\": \"warn\", "]))
def test_finding_9_generated_secrets_never_reach_the_llm(key: str, value: str, form: str, prefix: str) -> None:
    assume(value.lower() not in key.lower() and "redacted" not in value.lower())
    body = {"env": f"{key}={value}", "json": json.dumps({key: value, "service": "checkout"}),
            "yaml": f"{key}: {value}", "text": f"connecting with {key} = '{value}' now"}[form]
    assert value not in redact(prefix + body)


# -- finding 11: the internet-facing functions' secrets -----------------------------------------------
def test_finding_11_internet_facing_functions_are_not_given_the_pagerduty_api_token() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from infra_cdk.constructs.functions import FUNCTIONS

    assert FUNCTIONS["ingest"].secrets == ("webhook",)
    assert "pagerduty" not in FUNCTIONS["callbacks"].secrets


# -- finding 12: the LLM cannot choose an action -------------------------------------------------------
CATALOG = Catalog.model_validate({"services": [{"name": "checkout", "tier": 1, "runtime": {
    "kind": "kubernetes", "workload": "deployment/checkout", "namespace": "shop"}}]})


def _hypothesis(hid: str, generator: str, confidence: float, fault: str = "bad deploy") -> Hypothesis:
    return Hypothesis(id=hid, entity="checkout", entity_kind=EntityKind.SERVICE, service="checkout",
                      change_id="deploy-1", fault=fault, summary="s", generator=generator, confidence=confidence)


def test_finding_12_an_llm_hypothesis_never_drives_a_plan_whatever_its_score() -> None:
    llm = _hypothesis("h-llm", "llm", 0.99)
    decision = Decision(outcome=DecisionOutcome.PRESENT, presented=["h-llm"], at=datetime(2026, 3, 10, tzinfo=UTC))
    # When the only presented hypothesis is the LLM's, Then there is no remediation at all
    assert recommend([llm], decision=decision, catalog=CATALOG, runbooks=None) == []
    # and beside a weaker deterministic one, the plan comes from the deterministic one
    det = _hypothesis("h-det", "change", 0.40)
    both = Decision(outcome=DecisionOutcome.PRESENT, presented=["h-llm", "h-det"], at=decision.at)
    recs = recommend([llm, det], decision=both, catalog=CATALOG, runbooks=None)
    assert recs and {r.hypothesis_id for r in recs} == {"h-det"}


def test_finding_12_the_card_marks_an_llm_hypothesis() -> None:
    from sre_copilot.messages.slack import LLM_MARK, _hypothesis_blocks

    text = json.dumps(_hypothesis_blocks(1, _hypothesis("h-llm", "llm", 0.5)))
    assert LLM_MARK in text
    assert LLM_MARK not in json.dumps(_hypothesis_blocks(1, _hypothesis("h-det", "change", 0.5)))


