"""The raw-delivery archive: a Firehose stream, encrypted with the deployment's key, that batches
every accepted webhook body into the artifact bucket's raw/ prefix; ingest may only put records."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_synth import Synthesized

from infra_cdk.constructs.raw_archive import BUFFER_INTERVAL_S, BUFFER_MB
from infra_cdk.constructs.storage import RAW_PREFIX

pytestmark = pytest.mark.infra


def _stream(synthesized: Synthesized) -> tuple[str, dict[str, Any]]:
    streams = synthesized.resources("AWS::KinesisFirehose::DeliveryStream")
    assert len(streams) == 1
    return next(iter(streams.items()))


def test_the_archive_stream_batches_into_raw_and_is_encrypted(synthesized: Synthesized) -> None:
    # Given the synthesized stream
    _, stream = _stream(synthesized)
    props = stream["Properties"]
    destination = props["ExtendedS3DestinationConfiguration"]
    # Then it writes gzipped batches under raw/ of the artifact bucket, at most one object per buffer
    bucket = synthesized.logical_id(synthesized.built.stack.storage.bucket)
    assert destination["BucketARN"] == {"Fn::GetAtt": [bucket, "Arn"]}
    assert destination["Prefix"].startswith(RAW_PREFIX) and destination["ErrorOutputPrefix"].startswith(RAW_PREFIX)
    assert destination["BufferingHints"] == {"IntervalInSeconds": BUFFER_INTERVAL_S, "SizeInMBs": BUFFER_MB}
    assert destination["CompressionFormat"] == "GZIP"
    # And the stream and its objects are encrypted with the deployment's key
    key = synthesized.logical_id(synthesized.built.stack.encryption.key)
    assert props["DeliveryStreamEncryptionConfigurationInput"]["KeyType"] == "CUSTOMER_MANAGED_CMK"
    assert key in json.dumps(props["DeliveryStreamEncryptionConfigurationInput"])
    assert key in json.dumps(destination["EncryptionConfiguration"])


def test_ingest_knows_the_stream_and_may_only_put_records(synthesized: Synthesized) -> None:
    logical_id, _ = _stream(synthesized)
    ingest = synthesized.built.stack.functions["ingest"]
    function = synthesized.resources("AWS::Lambda::Function")[synthesized.logical_id(ingest.function)]
    assert function["Properties"]["Environment"]["Variables"]["SRE_COPILOT_RAW_ARCHIVE_STREAM"] == {"Ref": logical_id}
    policies = [p for p in synthesized.resources("AWS::IAM::Policy").values()
                if logical_id in json.dumps(p["Properties"]["PolicyDocument"])
                and synthesized.logical_id(ingest.role) in json.dumps(p["Properties"].get("Roles"))]
    actions = {a for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]
               if logical_id in json.dumps(s["Resource"]) for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"firehose:PutRecord", "firehose:PutRecordBatch"}
    # And a workflow step, which never receives webhooks, is not given the stream
    notify = synthesized.built.stack.functions["notify"].function
    variables = synthesized.resources("AWS::Lambda::Function")[synthesized.logical_id(notify)]["Properties"]
    assert "SRE_COPILOT_RAW_ARCHIVE_STREAM" not in variables["Environment"]["Variables"]
