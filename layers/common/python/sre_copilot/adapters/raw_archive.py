"""Where ingest keeps every accepted delivery's raw body, as received.

`FirehoseRawArchive` (deployed): one `firehose:PutRecord` per delivery. Firehose acknowledges a
record once it holds it durably, so the body is kept before the 2xx; it writes the records to the
artifact bucket's `raw/` prefix in gzipped batches (`infra_cdk/constructs/raw_archive.py`), one S3
PUT per buffer instead of one per delivery. Each record is one JSON line naming its tenant, source
and delivery id, so a delivery is found again by its id (`raw_ref`) in the hour's objects.

`BlobRawArchive` (no stream configured): one S3 object per delivery under
`raw/<tenant>/<source>/<yyyy/mm/dd>/<delivery>.json`, as before the stream existed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from sre_copilot.adapters import aws_clients

# Firehose's record limit is 1,000 KiB; ingest's body limit (`max_body_bytes`) is far below it.
FIREHOSE_RECORD_LIMIT = 1000 * 1024


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:200]


class FirehoseRawArchive:
    def __init__(self, *, stream: str, region: str) -> None:
        self.stream = stream
        self.client: Any = aws_clients.client("firehose", region)

    def put(self, *, tenant_id: str, source: str, delivery_id: str, received_at: datetime, raw: bytes) -> str:
        record = json.dumps({"tenant_id": tenant_id, "source": source, "delivery_id": delivery_id,
                             "received_at": received_at.isoformat(), "raw": raw.decode("utf-8", "replace")},
                            separators=(",", ":")).encode() + b"\n"
        if len(record) > FIREHOSE_RECORD_LIMIT:
            raise ValueError(f"delivery {delivery_id} is {len(record)} bytes, above Firehose's record limit")
        try:
            response = self.client.put_record(DeliveryStreamName=self.stream, Record={"Data": record})
        except ClientError as exc:
            aws_clients.raise_domain_error(exc, action=f"archiving delivery {delivery_id}",
                                           resource=f"delivery stream {self.stream}",
                                           setting="SRE_COPILOT_RAW_ARCHIVE_STREAM")
        return f"firehose://{self.stream}/{received_at:%Y/%m/%d/%H}/{response['RecordId']}#{_safe(delivery_id)}"


class BlobRawArchive:
    def __init__(self, blobs: Any) -> None:
        self.blobs = blobs

    def put(self, *, tenant_id: str, source: str, delivery_id: str, received_at: datetime, raw: bytes) -> str:
        return str(self.blobs.put_bytes(f"raw/{tenant_id}/{source}/{received_at:%Y/%m/%d}/{_safe(delivery_id)}.json",
                                        raw, "application/json"))
