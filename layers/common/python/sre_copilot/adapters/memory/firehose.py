"""Firehose in memory: the DirectPut stream `FirehoseRawArchive` writes every delivery to, with
its S3 destination in the memory backend's bucket.

`FirehoseRawArchive` runs unchanged on top of it. Each record is written at once as one object
under the destination's prefix, `<prefix>YYYY/MM/DD/HH/<stream>-1-YYYY-MM-DD-HH-MM-SS-<id>`, as
moto's Firehose writes it (the deployed stream buffers records into fewer objects; readers take
every JSON line of every object under `raw/` either way). Unknown streams get Firehose's
ResourceNotFoundException. Not modelled: buffering, compression, other destinations.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sre_copilot.adapters.memory.s3 import MemoryS3
from sre_copilot.adapters.memory.wire import client_error


@dataclass(frozen=True)
class _Stream:
    bucket: str
    prefix: str


class MemoryFirehose:
    def __init__(self, s3: MemoryS3) -> None:
        self.s3 = s3
        self._streams: dict[str, _Stream] = {}
        self._written = 0
        self._lock = threading.Lock()

    def create_delivery_stream(self, *, DeliveryStreamName: str,
                               ExtendedS3DestinationConfiguration: dict[str, Any], **_: Any) -> dict[str, Any]:
        destination = ExtendedS3DestinationConfiguration
        prefix = str(destination.get("Prefix", ""))
        with self._lock:
            if DeliveryStreamName in self._streams:
                raise client_error("ResourceInUseException", f"Firehose {DeliveryStreamName} under account already exists",
                                   "CreateDeliveryStream")
            self._streams[DeliveryStreamName] = _Stream(
                bucket=str(destination["BucketARN"]).split(":")[-1],
                prefix=prefix if prefix.endswith("/") or not prefix else f"{prefix}/")
        return {"DeliveryStreamARN": f"arn:aws:firehose:us-east-1:123456789012:deliverystream/{DeliveryStreamName}"}

    def put_record(self, *, DeliveryStreamName: str, Record: dict[str, bytes], **_: Any) -> dict[str, Any]:
        with self._lock:
            stream = self._streams.get(DeliveryStreamName)
            self._written += 1
            written = self._written
        if stream is None:
            raise client_error("ResourceNotFoundException",
                               f"Firehose {DeliveryStreamName} under account 123456789012 not found.", "PutRecord")
        # Derived, not drawn: a replay's raw references come out the same every time.
        record_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"firehose:{DeliveryStreamName}#{written}"))
        now = datetime.now(UTC)  # the delivery time Firehose names its objects by: the wall clock's
        key = f"{stream.prefix}{now:%Y/%m/%d/%H}/{DeliveryStreamName}-1-{now:%Y-%m-%d-%H-%M-%S}-{record_id}"
        self.s3.put_object(Bucket=stream.bucket, Key=key, Body=bytes(Record["Data"]))
        return {"RecordId": record_id, "Encrypted": False}
