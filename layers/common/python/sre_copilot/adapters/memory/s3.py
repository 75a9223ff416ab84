"""S3 in memory: the object calls `S3Blobs` makes (put, get, delete), with S3's error codes.

`S3Blobs` runs unchanged on top of it, so key checks, URIs and the NotFound mapping are the
deployed adapter's own. Objects keep their bytes and content type; encryption arguments are
accepted and recorded, as S3 would apply them at rest.
"""

from __future__ import annotations

import hashlib
import io
import threading
from dataclasses import dataclass
from typing import Any

from sre_copilot.adapters.memory.wire import client_error


@dataclass(frozen=True)
class StoredObject:
    body: bytes
    content_type: str
    encryption: str | None
    etag: str


class MemoryS3:
    def __init__(self) -> None:
        self._buckets: dict[str, dict[str, StoredObject]] = {}
        self._lock = threading.Lock()

    def create_bucket(self, *, Bucket: str, **_: Any) -> dict[str, Any]:
        with self._lock:
            if Bucket in self._buckets:
                raise client_error("BucketAlreadyOwnedByYou", f"bucket {Bucket} exists", "CreateBucket", 409)
            self._buckets[Bucket] = {}
        return {"Location": f"/{Bucket}"}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes | str,
                   ContentType: str = "binary/octet-stream", ServerSideEncryption: str | None = None,
                   **_: Any) -> dict[str, Any]:
        body = Body.encode("utf-8") if isinstance(Body, str) else bytes(Body)
        etag = f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
        with self._lock:
            self._bucket(Bucket, "PutObject")[Key] = StoredObject(body, ContentType, ServerSideEncryption, etag)
        return {"ETag": etag}

    def get_object(self, *, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        with self._lock:
            stored = self._bucket(Bucket, "GetObject").get(Key)
        if stored is None:
            raise client_error("NoSuchKey", "The specified key does not exist.", "GetObject", 404)
        return {"Body": io.BytesIO(stored.body), "ContentType": stored.content_type,
                "ContentLength": len(stored.body), "ETag": stored.etag}

    def delete_object(self, *, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        with self._lock:
            self._bucket(Bucket, "DeleteObject").pop(Key, None)  # S3 answers 204 for a missing key too
        return {}

    def list_objects_v2(self, *, Bucket: str, Prefix: str = "", **_: Any) -> dict[str, Any]:
        """The keys under `Prefix` in key order, as one page (no 1,000-key paging)."""
        with self._lock:
            objects = sorted((key, stored) for key, stored in self._bucket(Bucket, "ListObjectsV2").items()
                             if key.startswith(Prefix))
        return {"Name": Bucket, "Prefix": Prefix, "KeyCount": len(objects), "IsTruncated": False,
                "Contents": [{"Key": key, "Size": len(stored.body), "ETag": stored.etag} for key, stored in objects]}

    def keys(self, bucket: str) -> list[str]:
        with self._lock:
            return sorted(self._bucket(bucket, "ListObjectsV2"))

    def _bucket(self, name: str, operation: str) -> dict[str, StoredObject]:
        bucket = self._buckets.get(name)
        if bucket is None:
            raise client_error("NoSuchBucket", "The specified bucket does not exist", operation, 404)
        return bucket
