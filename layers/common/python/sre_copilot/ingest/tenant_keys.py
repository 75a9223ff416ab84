"""Per-tenant webhook keys: a second credential on top of each source's own signature.

A source's signature (PagerDuty HMAC, Grafana HMAC, Alertmanager bearer, ...) proves the delivery
came from that tool, but one tool instance can serve several teams. The tenant key proves which
tenant the sender was set up for: the sender adds the header `X-Sre-Copilot-Tenant-Key: <key>`
(every supported tool can add a custom header to its webhook), and the deployment's webhook secret
lists the SHA-256 of each tenant's keys:

    {"tenant_keys": {"acme": ["sha256:<hex>", "sha256:<hex of the next key, during rotation>"]}}

Only digests are stored, so the secret never holds a usable key. With no `tenant_keys` the check is
off (one team per deployment, as before); with any, a delivery without a valid key for the
deployment's tenant is refused with 401 before any work (fail closed).

Seam for multi-tenant ingestion: `tenant_for_key` says which tenant a key belongs to; ingestion
today serves `Settings.tenant_id` and `check` requires the key to be that tenant's.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from sre_copilot.errors import Unauthorized

HEADER = "x-sre-copilot-tenant-key"


def digest(key: str) -> str:
    """What the secret stores for a key: `sre-copilot tenant-key` prints it (here as a function)."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _presented(headers: Mapping[str, str]) -> str:
    return next((v for k, v in headers.items() if k.lower() == HEADER), "").strip()


def tenant_for_key(headers: Mapping[str, str], tenant_keys: Mapping[str, list[str]]) -> str | None:
    """The tenant whose key the delivery carries, or None."""
    presented = _presented(headers)
    if not presented:
        return None
    wanted = digest(presented)
    for tenant, digests in tenant_keys.items():
        if any(hmac.compare_digest(wanted, str(d)) for d in digests or []):
            return tenant
    return None


def check(headers: Mapping[str, str], tenant_keys: Mapping[str, list[str]], tenant_id: str) -> None:
    if not tenant_keys:
        return
    if not _presented(headers):
        raise Unauthorized(f"missing {HEADER} header; this deployment requires a per-tenant webhook key")
    if tenant_for_key(headers, tenant_keys) != tenant_id:
        raise Unauthorized(f"the {HEADER} header is not a valid key for tenant {tenant_id}")
