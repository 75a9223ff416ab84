"""Amazon SNS message signature verification (SignatureVersion 1 = SHA1withRSA, 2 = SHA256withRSA).

The string to sign is "Name\\nValue\\n" for each signed key, in byte order:
Notification: Message, MessageId, Subject (if present), Timestamp, TopicArn, Type;
SubscriptionConfirmation / UnsubscribeConfirmation: Message, MessageId, SubscribeURL, Timestamp,
Token, TopicArn, Type.

The signing certificate is fetched only from https://sns.<region>.amazonaws.com/<name>.pem; any
other scheme, host, port, credentials, query or fragment is refused before a request is made, so a
forged message cannot point us at a certificate of its choosing. Fetched public keys are cached in
memory per URL (AWS rotates the certificate by publishing a new URL).
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sre_copilot.errors import MalformedSignature, Unauthorized

_CERT_HOST = re.compile(r"^sns\.[a-z]{2}(?:-[a-z]+)+-\d\.amazonaws\.com$")
_CERT_PATH = re.compile(r"^/[A-Za-z0-9._/-]+\.pem$")
_NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_ALIASES = {"SigningCertURL": "SigningCertUrl", "SubscribeURL": "SubscribeUrl", "UnsubscribeURL": "UnsubscribeUrl"}
_MAX_CERT_BYTES = 64 * 1024

CertFetcher = Callable[[str], bytes]


def check_cert_url(url: str) -> None:
    """Raise Unauthorized unless `url` is an SNS signing certificate URL."""
    if not isinstance(url, str) or len(url) > 1024 or any(c in url for c in "\\@ \t\r\n") or not url.isascii():
        raise Unauthorized("SNS SigningCertURL is not an https://sns.<region>.amazonaws.com/ certificate URL")
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    host = parts.hostname or ""
    if (parts.scheme != "https" or parts.username is not None or parts.password is not None
            or port not in (None, 443) or parts.query or parts.fragment or not _CERT_HOST.match(host)
            or parts.netloc.lower() not in (host, f"{host}:443") or not _CERT_PATH.match(parts.path)):
        raise Unauthorized(f"SNS SigningCertURL {url[:120]!r} is not an https://sns.<region>.amazonaws.com/ "
                           "certificate URL")


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    kind = message.get("Type")
    keys: tuple[str, ...]
    if kind == "Notification":
        keys = _NOTIFICATION_KEYS
    elif kind in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
        keys = _CONFIRMATION_KEYS
    else:
        raise MalformedSignature(f"SNS message Type {str(kind)[:40]!r} is not one SNS signs")
    lines: list[str] = []
    for key in keys:
        value = _field(message, key)
        if value is None:
            if key == "Subject":
                continue
            raise MalformedSignature(f"SNS message lacks '{key}', which its signature covers")
        if not isinstance(value, str):
            raise MalformedSignature(f"SNS message field '{key}' is not a string")
        lines.append(f"{key}\n{value}\n")
    try:
        return "".join(lines).encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedSignature("SNS message holds text that is not valid UTF-8") from None


def _field(message: Mapping[str, Any], key: str) -> Any:
    value = message.get(key)
    if value is None and key in _ALIASES:
        value = message.get(_ALIASES[key])
    return value


def _fetch_https(url: str) -> bytes:
    # The URL has passed check_cert_url: https to an SNS host only.
    with urllib.request.urlopen(url, timeout=5) as response:
        data: bytes = response.read(_MAX_CERT_BYTES + 1)
    return data


class SnsVerifier:
    """Verify SNS message signatures; `fetch_cert` is injectable so tests use a local certificate."""

    def __init__(self, fetch_cert: CertFetcher | None = None, *, cache_size: int = 32) -> None:
        self._fetch = fetch_cert or _fetch_https
        self._cache: OrderedDict[str, rsa.RSAPublicKey] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def verify(self, message: Mapping[str, Any]) -> None:
        """Raise Unauthorized (bad or missing signature) or MalformedSignature (unreadable fields)."""
        signature_b64 = message.get("Signature")
        version = message.get("SignatureVersion")
        cert_url = _field(message, "SigningCertURL")
        if not signature_b64 or not cert_url:
            raise Unauthorized("SNS message is not signed (no Signature or SigningCertURL)")
        if version not in ("1", "2"):
            raise MalformedSignature(f"SNS SignatureVersion {str(version)[:10]!r} is not 1 or 2")
        if not isinstance(signature_b64, str):
            raise MalformedSignature("SNS Signature is not a string")
        try:
            signature = base64.b64decode(signature_b64, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedSignature("SNS Signature is not base64") from None
        payload = string_to_sign(message)
        check_cert_url(cert_url)
        key = self._public_key(cert_url)
        # SignatureVersion 1 is SHA1withRSA by SNS's definition; topics can opt into version 2.
        algorithm: hashes.HashAlgorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        try:
            key.verify(signature, payload, padding.PKCS1v15(), algorithm)
        except InvalidSignature:
            raise Unauthorized("SNS message signature does not verify") from None

    def _public_key(self, url: str) -> rsa.RSAPublicKey:
        with self._lock:
            cached = self._cache.get(url)
            if cached is not None:
                self._cache.move_to_end(url)
                return cached
        try:
            pem = self._fetch(url)
        except Exception as exc:  # network errors, HTTP errors, timeouts: the message cannot be verified
            raise Unauthorized(f"cannot fetch the SNS signing certificate ({type(exc).__name__})") from None
        if len(pem) > _MAX_CERT_BYTES:
            raise Unauthorized("SNS signing certificate is too large")
        try:
            key = x509.load_pem_x509_certificate(pem).public_key()
        except ValueError:
            raise Unauthorized("SNS signing certificate is not a PEM certificate") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise Unauthorized("SNS signing certificate does not hold an RSA key")
        with self._lock:
            self._cache[url] = key
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return key
