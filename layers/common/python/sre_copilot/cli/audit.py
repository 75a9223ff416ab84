"""`sre-copilot audit <incident-id>`: the incident's audit trail, oldest first.

Reads the trail a replay saved (`<state dir>/audit/<incident>.json`), or with `--aws` the deployed
audit table (SRE_COPILOT_* settings and your AWS credentials).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sre_copilot.errors import ConfigurationError, NotFound

WIDTH = 100


def save_trails(state_dir: Path, trails: dict[str, list[dict[str, Any]]]) -> None:
    folder = state_dir / "audit"
    folder.mkdir(parents=True, exist_ok=True)
    for incident_id, records in trails.items():
        (folder / f"{incident_id}.json").write_text(json.dumps(records, indent=1, default=str))


def load_trail(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.aws:
        from sre_copilot.adapters.dynamodb_store import DynamoStore
        from sre_copilot.settings import get_settings

        settings = get_settings()
        records = DynamoStore(settings=settings).for_subject(settings.tenant_id, args.incident_id)
        if not records:
            raise NotFound(f"no audit records for {args.incident_id} in {settings.audit_table_name or settings.table_name}")
        return [r.model_dump(mode="json") for r in records]
    path = args.state_dir / "audit" / f"{args.incident_id}.json"
    if not path.exists():
        known = sorted(p.stem for p in (args.state_dir / "audit").glob("*.json"))
        hint = f"; replayed incidents: {', '.join(known[-10:])}" if known else "; run `sre-copilot replay` first"
        raise NotFound(f"no audit trail for {args.incident_id} in {args.state_dir}{hint}")
    return list(json.loads(path.read_text()))


def _summary(details: dict[str, Any]) -> str:
    for key in ("reason", "why", "detail", "what", "criteria", "outcome", "status"):
        value = details.get(key)
        if value:
            return str(value)
    if "gate_results" in details:
        failed = {k: v for k, v in details["gate_results"].items() if str(v).startswith("fail")}
        return "; ".join(f"{k}: {v}" for k, v in failed.items()) or "all gates passed"
    return json.dumps(details, separators=(",", ":"), default=str)


def render(incident_id: str, records: list[dict[str, Any]]) -> str:
    lines = [f"Audit trail of {incident_id}: {len(records)} record(s)", "",
             f"{'At':<24} {'Actor':<22} {'Action':<28} Detail"]
    for r in records:
        text = f"{str(r['at'])[:23]:<24} {str(r['actor'])[:21]:<22} {str(r['action'])[:27]:<28} " \
               f"{_summary(r.get('details') or {})}"
        lines.append(text if len(text) <= WIDTH else text[:WIDTH - 1] + "…")
    return "\n".join(lines)


def print_trail(args: argparse.Namespace) -> int:
    print(render(args.incident_id, load_trail(args)))
    if getattr(args, "verify", False):
        return verify(args)
    return 0


def verify(args: argparse.Namespace) -> int:
    """Compare the deployed trail with its Object Lock export; exit 1 when it was tampered with."""
    if not args.aws:
        raise ConfigurationError("--verify compares the deployed audit table with its locked export: add --aws")
    from sre_copilot.adapters import aws_clients
    from sre_copilot.adapters.audit_verify import verify_trail
    from sre_copilot.settings import get_settings

    settings = get_settings()
    if not settings.audit_bucket_name:
        raise ConfigurationError("set SRE_COPILOT_AUDIT_BUCKET_NAME to the stack's AuditExportBucketName output")
    result = verify_trail(dynamodb=aws_clients.client("dynamodb", settings.region),
                          s3=aws_clients.client("s3", settings.region),
                          table=settings.audit_table_name or settings.table_name, bucket=settings.audit_bucket_name,
                          tenant_id=settings.tenant_id, subject=args.incident_id)
    print("")
    print(result.summary())
    return 0 if result.intact else 1
