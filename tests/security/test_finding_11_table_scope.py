"""Finding 11, table half: "every function can write the whole table".

The attack: the internet-facing ingest function (or any step) writes an incident, a plan or the
correlation state it has no business with. Here at the level of the grant table the stack renders
(`infra_cdk.constructs.table_access`); tests/infra/test_table_access.py evaluates the synthesized
roles themselves, and test_table_access_recorded.py here checks the grants cover every real call.
"""

from __future__ import annotations

import sys
from fnmatch import fnmatchcase
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # infra_cdk runs from the repository root
from infra_cdk.constructs.table_access import (
    AUDIT_APPENDERS,
    TABLE_ACCESS,
    WRITES,
    leading_keys,
)


def _may(function: str, action: str, key: str) -> bool:
    access = TABLE_ACCESS[function]
    families = access.items.get(action, frozenset())  # type: ignore[call-overload]
    patterns = leading_keys("default", families, any_tenant=function == "api")
    return any(fnmatchcase(key, p) for p in patterns)


def test_finding_11_ingest_cannot_write_an_incident_a_plan_or_the_correlation_state() -> None:
    for action in WRITES:
        assert not _may("ingest", action, "TENANT#default#INCIDENT#inc-1")  # incidents and their plans
        assert not _may("ingest", action, "TENANT#default#CORRELATION")
        assert not _may("ingest", action, "TENANT#default#RISKBUDGET#checkout")
    assert _may("ingest", "PutItem", "TENANT#default#SIGNAL#sig-1")
    assert "ingest" not in AUDIT_APPENDERS


def test_finding_11_analysis_steps_write_nothing_and_notify_cannot_touch_signals() -> None:
    for function in ("aggregate_evidence", "generate_hypotheses"):
        assert TABLE_ACCESS[function].writes() == frozenset(), function
    for action in WRITES:
        assert not _may("notify", action, "TENANT#default#SIGNAL#sig-1")
        assert not _may("notify", action, "TENANT#default#CORRELATION")
    assert not _may("notify", "DeleteItem", "TENANT#default#INCIDENT#inc-1")


def test_finding_11_no_function_scans_and_none_but_the_read_api_reaches_another_tenant() -> None:
    for function, access in TABLE_ACCESS.items():
        assert "Scan" not in access.items, function
        if function != "api":
            for action in ("GetItem", "Query", *WRITES):
                assert not _may(function, action, "TENANT#other#INCIDENT#inc-1"), (function, action)
