"""BlobStore on S3: raw deliveries, analysis snapshots, postmortems and rejected payloads.

Key layout (all tenant-scoped, see docs/data-model.md): `raw/<tenant>/<source>/<yyyy/mm/dd>/...`,
`review/<tenant>/...`, `incidents/<tenant>/<incident>/v<n>/<part>.json`, `snapshots/<tenant>/...`,
`postmortems/<tenant>/<incident>.md`, `catalog/<tenant>.json`. Objects are encrypted at rest: with
a configured key id, each write asks for SSE-KMS under that key (with an S3 bucket key, which spares
a KMS call per object); without one, the write names no algorithm so the bucket's default applies
(SSE-KMS under the stack's customer key in infra_cdk). Naming SSE-S3 here instead would silently
downgrade objects in a KMS-encrypted bucket.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sre_copilot.adapters import aws_clients
from sre_copilot.domain.types import format_time
from sre_copilot.errors import InvalidPayload, NotFound
from sre_copilot.settings import Settings, get_settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MAX_KEY_BYTES = 1024
PREFIXES = ("raw/", "review/", "incidents/", "snapshots/", "postmortems/", "catalog/", "baselines/")


def json_default(value: Any) -> Any:
    """JSON for the few non-JSON values documents carry (times, enums, sets)."""
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def split_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key)."""
    if not uri.startswith("s3://"):
        raise InvalidPayload(f"'{uri}' is not an s3:// URI; pass s3://<bucket>/<key>")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket or not key:
        raise InvalidPayload(f"'{uri}' has no bucket or no key; pass s3://<bucket>/<key>")
    return bucket, key


class S3Blobs:
    def __init__(self, settings: Settings | None = None, *, client: S3Client | None = None,
                 bucket: str | None = None, kms_key_id: str | None = None) -> None:
        self.settings = settings or get_settings()
        self._client = client
        self.bucket = bucket or self.settings.bucket_name
        self.kms_key_id = kms_key_id or None

    @property
    def client(self) -> S3Client:
        # Created at first use: a function that never reads or writes a blob pays no client.
        if self._client is None:
            self._client = aws_clients.s3(self.settings)
        return self._client

    # -- writing ----------------------------------------------------------------------------
    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def put_json(self, key: str, document: Any) -> str:
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=json_default)
        return self.put_bytes(key, body.encode("utf-8"), "application/json")

    def put_bytes(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> str:
        _check_key(key)
        encryption: dict[str, Any] = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id, "BucketKeyEnabled": True}
            if self.kms_key_id else {}
        )
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, **encryption)
        except ClientError as exc:
            aws_clients.raise_domain_error(exc, action=f"writing {key}", resource=f"bucket {self.bucket}",
                                           setting="SRE_COPILOT_BUCKET_NAME")
        return self.uri(key)

    def delete(self, uri: str) -> None:
        """Remove an object (S3 answers success for a key that is already gone)."""
        bucket, key = self._locate(uri)
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            aws_clients.raise_domain_error(exc, action=f"deleting {key}", resource=f"bucket {bucket}",
                                           setting="SRE_COPILOT_BUCKET_NAME")

    # -- reading ----------------------------------------------------------------------------
    def get_bytes(self, uri: str) -> bytes:
        bucket, key = self._locate(uri)
        try:
            return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if aws_clients.error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                raise NotFound(f"no object at s3://{bucket}/{key}; check the reference or write it first") from exc
            aws_clients.raise_domain_error(exc, action=f"reading {key}", resource=f"bucket {bucket}",
                                           setting="SRE_COPILOT_BUCKET_NAME")

    def get_json(self, uri: str) -> Any:
        body = self.get_bytes(uri)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise InvalidPayload(f"{uri} does not hold JSON ({exc}); it was not written by put_json") from exc

    def _locate(self, uri: str) -> tuple[str, str]:
        """Accept a full s3:// URI (any bucket, e.g. a catalog elsewhere) or a key in our bucket."""
        if uri.startswith("s3://") or "://" in uri:
            return split_uri(uri)
        _check_key(uri)
        return self.bucket, uri


def _check_key(key: str) -> None:
    if not key or key.startswith("/") or ".." in key.split("/"):
        raise InvalidPayload(f"'{key}' is not a usable object key; use a relative path such as raw/<tenant>/...")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidPayload(f"object key is {len(key.encode('utf-8'))} bytes; S3 allows {MAX_KEY_BYTES}")
