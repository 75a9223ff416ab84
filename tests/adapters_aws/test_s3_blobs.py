"""S3Blobs: JSON and bytes under tenant-scoped keys, always encrypted at rest."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest
from aws_test_support import BUCKET, REGION, START

from sre_copilot.adapters.s3_blobs import S3Blobs
from sre_copilot.errors import ConfigurationError, InvalidPayload, NotFound
from sre_copilot.settings import Settings


def test_json_round_trips_under_the_bucket_default_encryption(settings: Settings, bucket: str) -> None:
    # Given a bucket whose default encryption is SSE-KMS under the stack's key (as infra_cdk deploys it)
    s3 = boto3.client("s3", region_name=REGION)
    key_id = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id},
        "BucketKeyEnabled": True}]})
    # And a snapshot document with a time in it
    blobs = S3Blobs(settings)
    document = {"incident_id": "inc-1", "taken_at": START + timedelta(seconds=1), "scores": [0.5, 1]}
    # When it is stored and read back
    uri = blobs.put_json("incidents/acme/inc-1/v1/context.json", document)
    # Then the URI names our bucket, the JSON comes back, and the object is JSON under the bucket's key
    # (not downgraded to SSE-S3)
    assert uri == f"s3://{BUCKET}/incidents/acme/inc-1/v1/context.json"
    assert blobs.get_json(uri) == {"incident_id": "inc-1", "taken_at": "2024-05-14T09:00:01.000Z", "scores": [0.5, 1]}
    head = s3.head_object(Bucket=BUCKET, Key="incidents/acme/inc-1/v1/context.json")
    assert head["ServerSideEncryption"] == "aws:kms" and key_id in head["SSEKMSKeyId"]
    assert head["ContentType"] == "application/json"


def test_bytes_are_encrypted_with_the_configured_kms_key(settings: Settings, bucket: str) -> None:
    # Given a KMS key configured for the bucket's objects
    key_id = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
    blobs = S3Blobs(settings, kms_key_id=key_id)
    # When a raw delivery is stored
    uri = blobs.put_bytes("raw/acme/pagerduty/2024/05/14/d-1.json", b'{"event":{}}', "application/json")
    # Then it is SSE-KMS under that key and reads back byte for byte (by URI or by key)
    head = boto3.client("s3", region_name=REGION).head_object(Bucket=BUCKET, Key="raw/acme/pagerduty/2024/05/14/d-1.json")
    assert head["ServerSideEncryption"] == "aws:kms" and key_id in head["SSEKMSKeyId"]
    assert blobs.get_bytes(uri) == b'{"event":{}}'
    assert blobs.get_bytes("raw/acme/pagerduty/2024/05/14/d-1.json") == b'{"event":{}}'


def test_missing_objects_and_bad_keys_are_reported(settings: Settings, bucket: str) -> None:
    # Given an empty bucket
    blobs = S3Blobs(settings)
    # When a missing object, a non-S3 URI or an escaping key is used
    # Then each error says what to fix
    with pytest.raises(NotFound, match="no object at"):
        blobs.get_json(f"s3://{BUCKET}/postmortems/acme/inc-404.md")
    with pytest.raises(InvalidPayload, match="not an s3:// URI"):
        blobs.get_json("https://example.com/x.json")
    with pytest.raises(InvalidPayload, match="not a usable object key"):
        blobs.put_bytes("review/../../etc/passwd", b"x")


def test_missing_bucket_is_a_configuration_error(settings: Settings) -> None:
    # Given settings naming a bucket that was never created
    blobs = S3Blobs(settings)
    # When anything is written
    # Then the error names the setting to fix
    with pytest.raises(ConfigurationError, match="SRE_COPILOT_BUCKET_NAME"):
        blobs.put_json("review/acme/x.json", {})


def test_deleting_an_object(settings: Settings, bucket: str) -> None:
    # Given a stored object
    blobs = S3Blobs(settings)
    uri = blobs.put_json("snapshots/acme/x.json", {"a": 1})
    # When it is deleted (twice: the second finds nothing)
    blobs.delete(uri)
    blobs.delete(uri)
    # Then it is gone
    with pytest.raises(NotFound):
        blobs.get_json(uri)
