"""Per-tenant webhook keys: a second credential on top of each source's own signature, and the
credential that says which tenant a delivery belongs to.

A source's signature (PagerDuty HMAC, Grafana HMAC, Alertmanager bearer, ...) proves the delivery
came from that tool, but one tool instance can serve several teams. The tenant key proves which
tenant the sender was set up for: the sender adds the header `X-Sre-Copilot-Tenant-Key: <key>`
(every supported tool can add a custom header to its webhook), and the deployment's webhook secret
lists the SHA-256 of each tenant's keys:

    {"tenant_keys": {"acme": ["sha256:<hex>", "sha256:<hex of the next key, during rotation>"],
                     "globex": ["sha256:<hex>"]}}

Only digests are stored, so the secret never holds a usable key. With no `tenant_keys` the check is
off and every delivery belongs to the deployment's tenant (`Settings.tenant_id`), as before. With
any, the delivery belongs to the tenant its key resolves to (`resolve`), and everything downstream
(raw archive, signals, dedup, correlation, the incident workflow, notifications, audit) is that
tenant's (services/tenancy.py). A delivery with no key or an unknown one is refused with 401 before
any work (fail closed). The key alone decides: a tenant named inside the payload is never trusted.
Ingest serves only the tenants the stack was deployed for (`Settings.served_tenant_list`, cdk.json
`tenants`), because IAM grants the functions those tenants' table partitions and no others.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

from sre_copilot.errors import ConfigurationError, Unauthorized

HEADER = "x-sre-copilot-tenant-key"
_TENANT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def digest(key: str) -> str:
    """What the secret stores for a key: `sre-copilot tenant-key` prints it (here as a function)."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _presented(headers: Mapping[str, str]) -> str:
    return next((v for k, v in headers.items() if k.lower() == HEADER), "").strip()


def carries_key(headers: Mapping[str, str]) -> bool:
    return bool(_presented(headers))


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


def resolve(headers: Mapping[str, str], tenant_keys: Mapping[str, list[str]], deployment_tenant: str) -> str:
    """The tenant the delivery belongs to: the deployment's when no tenant keys are configured,
    else the tenant whose key the delivery carries. Raises Unauthorized (401) otherwise."""
    if not tenant_keys:
        return deployment_tenant
    if not _presented(headers):
        raise Unauthorized(f"missing {HEADER} header; this deployment requires a per-tenant webhook key")
    tenant = tenant_for_key(headers, tenant_keys)
    if tenant is None:
        raise Unauthorized(f"the {HEADER} header is not a valid key of any tenant of this deployment")
    if not _TENANT_ID.fullmatch(tenant):
        # Every store key and S3 prefix starts with the tenant id: a bad name is the secret's fault.
        raise ConfigurationError(f"tenant_keys in the webhook secret names tenant {tenant[:80]!r}; a tenant id is "
                                 "1 to 64 letters, digits, '-' or '_'")
    return tenant

