"""`sre-copilot tenant-key <tenant>`: a new per-tenant webhook key and what the webhook secret stores.

The key goes to the tenant's senders (the `X-Sre-Copilot-Tenant-Key` header); only its digest goes
to the webhook secret's `tenant_keys` (ingest/tenant_keys.py). Nothing is written anywhere: the
secret is the operator's to update, and the key is shown once.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
from typing import Any

from sre_copilot.ingest import tenant_keys

_TENANT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("tenant-key", help="make a per-tenant webhook key and print the digest the webhook "
                                          "secret's tenant_keys stores (nothing is written)")
    p.add_argument("tenant", help="the tenant the key routes deliveries to (cdk.json tenant_id or one of tenants)")
    p.add_argument("--key", help="digest this existing key instead of making a new one (default: a new "
                                 "random 256-bit key)")


def cmd_tenant_key(args: argparse.Namespace) -> int:
    if not _TENANT_ID.fullmatch(args.tenant):
        raise ValueError(f"tenant {args.tenant!r} is not a tenant id: 1 to 64 letters, digits, '-' or '_'")
    key = args.key or secrets.token_urlsafe(32)
    entry = json.dumps({"tenant_keys": {args.tenant: [tenant_keys.digest(key)]}})
    print(f"senders add the header:  X-Sre-Copilot-Tenant-Key: {key}")
    print(f"webhook secret, merged:  {entry}")
    print("to rotate, list the new digest beside the old one until every sender has the new key")
    return 0
