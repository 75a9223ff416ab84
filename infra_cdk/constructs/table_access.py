"""Least privilege on the main table: each function gets the DynamoDB actions it uses, on the
partition-key families it uses (IAM condition `dynamodb:LeadingKeys`), and the indexes it queries.

Every partition key starts `TENANT#<tenant>` (`adapters/dynamodb_store.py`, docs/data-model.md), and
the kind of record follows: `#SIGNAL#<id>`, `#INCIDENT#<id>` (the incident and its item collection:
notifications, action plans, the wait token, paging claims), ... `TABLE_ACCESS` is derived from the
code each function runs and checked against what the functions really call on the embedded backend
(tests/security/test_table_access_recorded.py records every DynamoDB call per function and asserts each is
granted here); tests/infra/test_table_access.py asserts the synthesized roles say exactly this.

What the key design does not allow, stated plainly: plans, notifications and the wait token share
the incident's partition, so a function that writes the incident (for example Notify, which stores
the card's `ts` and its notifications) could, as far as IAM goes, also write a plan there. IAM has no
condition on sort keys. Functions that never write incidents (ingest, the read-only analysis steps)
cannot touch them at all.

Index queries are granted on the index's ARN without a `LeadingKeys` condition (on an index that
key would name the index's own partition key, which is not what the families here describe); they
are read-only, and only the functions that query an index get it. No function gets `Scan`,
`BatchWriteItem`, `TransactWriteItems`, PartiQL or `dynamodb:*`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

Family = Literal["tenant", "signals", "fingerprints", "incidents", "executions", "changes", "correlation",
                 "risk_budget"]
Action = Literal["GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "DeleteItem"]
Index = Literal["gsi1", "gsi2"]

PARTITIONS: dict[Family, str] = {
    "tenant": "",                    # silences, re-analysis flags, validation counts, catalog pointer, rate counters
    "signals": "#SIGNAL#*",
    "fingerprints": "#FINGERPRINT#*",  # dedup windows
    "incidents": "#INCIDENT#*",      # the incident and its item collection (plans, notifications, WAIT, paging)
    "executions": "#EXECUTION#*",    # execution name -> incident
    "changes": "#SERVICE#*",         # deploys and config changes per service
    "correlation": "#CORRELATION",   # the correlation engine's state
    "risk_budget": "#RISKBUDGET#*",  # live changes per service and period
}
IDEMPOTENCY_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
"""What Powertools Idempotency's DynamoDB persistence layer calls on its own table."""
READS: tuple[Action, ...] = ("GetItem", "BatchGetItem", "Query")
WRITES: tuple[Action, ...] = ("PutItem", "UpdateItem", "DeleteItem")


@dataclass(frozen=True)
class TableAccess:
    items: Mapping[Action, frozenset[Family]] = field(default_factory=dict)
    indexes: frozenset[Index] = frozenset()

    def writes(self) -> frozenset[Family]:
        return frozenset(f for action in WRITES for f in self.items.get(action, frozenset()))


def _access(indexes: tuple[Index, ...] = (), **items: tuple[Family, ...]) -> TableAccess:
    return TableAccess(items={action: frozenset(families) for action, families in items.items()},  # type: ignore[misc]
                       indexes=frozenset(indexes))


# One entry per function, from the store calls its code path makes (services/*, adapters/*).
TABLE_ACCESS: dict[str, TableAccess] = {
    # Internet-facing: signals, their dedup windows and change events; reads silences (tenant).
    "ingest": _access(GetItem=("fingerprints",), Query=("tenant",),
                      PutItem=("signals", "fingerprints", "changes"), UpdateItem=("signals", "fingerprints")),
    "correlate": _access(("gsi1",), GetItem=("correlation", "incidents", "signals"), Query=("tenant", "incidents"),
                         PutItem=("correlation", "incidents", "signals", "executions", "tenant"),
                         UpdateItem=("signals",), DeleteItem=("incidents", "tenant")),
    "assemble_context": _access(("gsi1",), GetItem=("incidents",), PutItem=("incidents",), DeleteItem=("tenant",)),
    "aggregate_evidence": _access(("gsi1",), GetItem=("correlation", "incidents")),  # alert history
    "generate_hypotheses": _access(("gsi1",), GetItem=("incidents",)),
    "score_confidence": _access(GetItem=("incidents",), Query=("tenant",), PutItem=("incidents",)),  # verdict counts
    "apply_policy": _access(GetItem=("incidents",), PutItem=("incidents",)),
    "recommend": _access(("gsi1",), GetItem=("incidents", "risk_budget"), Query=("incidents", "changes"),
                         PutItem=("incidents",)),
    # The card reads the titles of the alerts its evidence names (BatchGetItem on signals).
    "notify": _access(("gsi1",), GetItem=("incidents",), BatchGetItem=("signals",), Query=("incidents",),
                      PutItem=("incidents",), UpdateItem=("tenant",)),
    "await_decision": _access(GetItem=("incidents", "tenant"), Query=("incidents",), PutItem=("incidents",),
                              DeleteItem=("incidents",)),
    "act": _access(("gsi1",), GetItem=("incidents", "risk_budget"), Query=("incidents", "changes"),
                   PutItem=("incidents",)),
    "verify": _access(GetItem=("incidents",), Query=("incidents",), PutItem=("incidents",),
                      UpdateItem=("risk_budget",)),
    "check_recovery": _access(("gsi1",), GetItem=("incidents",), Query=("incidents",), PutItem=("incidents",)),
    "rollback": _access(GetItem=("incidents",), Query=("incidents",), PutItem=("incidents",),
                        UpdateItem=("tenant", "risk_budget")),
    "document": _access(("gsi1",), GetItem=("incidents",), Query=("incidents", "tenant"),
                        PutItem=("incidents",), UpdateItem=("tenant",), DeleteItem=("tenant",)),
    "record_failure": _access(DeleteItem=("tenant",)),  # clears the re-analysis flag
    "audit_export": _access(),
    "audit_writer": _access(),  # the audit table only (constructs/audit.py)
    # Slack buttons and /sre (open incidents, the card's signals), approvals (the conditional plan
    # write), hypothesis verdicts (tenant validation counters), keypresses, waking the execution.
    "callbacks": _access(("gsi1",), GetItem=("incidents", "tenant"), Query=("incidents", "tenant"),
                         PutItem=("incidents", "tenant"), UpdateItem=("incidents", "tenant"),
                         DeleteItem=("incidents", "tenant")),
    "approval_sweeper": _access(("gsi1", "gsi2"), GetItem=("correlation", "incidents", "signals", "tenant"),
                                Query=("incidents", "tenant"),
                                PutItem=("correlation", "incidents", "signals", "tenant", "executions"),
                                UpdateItem=("signals", "tenant", "incidents"), DeleteItem=("incidents", "tenant")),
    "anomaly_detector": _access(GetItem=("fingerprints",), Query=("tenant",),
                                PutItem=("signals", "fingerprints"), UpdateItem=("signals", "fingerprints")),
    "pagerduty_sync": _access(("gsi1",), GetItem=("incidents",), BatchGetItem=("signals",), Query=("incidents",),
                              PutItem=("incidents",), UpdateItem=("tenant",), DeleteItem=("incidents",)),
    # Parks the paging token, and takes it back at once when the incident was answered meanwhile.
    "escalation_page": _access(GetItem=("incidents",), Query=("incidents",), PutItem=("incidents",),
                               UpdateItem=("tenant",), DeleteItem=("incidents",)),
    "escalation_next": _access(GetItem=("incidents",), Query=("incidents",), PutItem=("incidents",),
                               UpdateItem=("tenant",)),
    # The read API serves the tenant in the caller's token (api/access.py), so its keys name any tenant.
    # Reads incidents, plans, notifications (changes for a draft postmortem, through gsi1); acknowledging moves
    # the lifecycle (PutItem), approving is the conditional plan write (UpdateItem) and takes the
    # parked execution's wait token (DeleteItem).
    "api": _access(("gsi1",), GetItem=("incidents",), Query=("incidents",), PutItem=("incidents",),
                   UpdateItem=("incidents",), DeleteItem=("incidents",)),
}
ANY_TENANT_FUNCTIONS = frozenset({"api"})
AUDIT_APPENDERS = frozenset(TABLE_ACCESS) - {"ingest", "anomaly_detector", "aggregate_evidence",
                                             "generate_hypotheses", "audit_export", "audit_writer"}
"""Functions that append audit records (through the audit writer, whose conditional PutItem is the
only write on the audit table). Ingestion and the two pure analysis steps record nothing there;
audit_export only reads the trail; the writer is the append itself."""
AUDIT_READERS = frozenset({"document", "api"})
"""Functions that read the audit trail: Document and the read API (timelines, postmortem drafts)."""


def leading_keys(tenant_id: str, families: frozenset[Family] | set[Family], *, any_tenant: bool = False,
                 served: tuple[str, ...] = ()) -> list[str]:
    """The partition-key patterns of `families` for the deployment's tenant and the other tenants it
    `served` (cdk.json tenants), or of any tenant."""
    tenants = ["*"] if any_tenant else sorted({tenant_id, *served})
    return sorted(f"TENANT#{tenant}{PARTITIONS[f]}" for tenant in tenants for f in families)


class TableGrants(Construct):
    """Grants each function's `TableAccess` on the main table, one statement per family set."""

    def __init__(self, scope: Construct, construct_id: str, *, table: dynamodb.ITable, key: kms.IKey,
                 tenant_id: str, served: tuple[str, ...] = ()) -> None:
        super().__init__(scope, construct_id)
        self.table = table
        self.key = key
        self.tenant_id = tenant_id
        self.served = served

    def grant(self, name: str, role: iam.IRole) -> None:
        access = TABLE_ACCESS[name]
        by_families: dict[frozenset[Family], list[str]] = {}
        for action, families in access.items.items():
            if families:
                by_families.setdefault(families, []).append(f"dynamodb:{action}")
        for families, actions in sorted(by_families.items(), key=lambda kv: sorted(kv[0])):
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=sorted(actions), resources=[self.table.table_arn],
                conditions={
                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": leading_keys(
                        self.tenant_id, families, any_tenant=name in ANY_TENANT_FUNCTIONS, served=self.served)},
                    # ForAllValues alone holds for a request without keys; require them.
                    "Null": {"dynamodb:LeadingKeys": "false"},
                }))
        if access.indexes:
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["dynamodb:Query"], resources=[f"{self.table.table_arn}/index/{i}" for i in sorted(access.indexes)]))
        if access.writes():
            # The table's items are encrypted with the stack's key (readers already decrypt with it).
            self.key.grant_encrypt_decrypt(role)
