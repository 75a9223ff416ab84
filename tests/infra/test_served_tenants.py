"""A deployment that serves other tenants (cdk.json `tenants`, multi-tenant ingestion): each served
tenant gets the same table partitions as the deployment's own, and no tenant beyond them does.
Asserted on a synthesized template with IAM's own evaluation (test_table_access.Role)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template
from infra_synth import TEST_OVERRIDES, Synthesized
from test_table_access import Role

from infra_cdk.app import cdk_json_context, create_app

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    # Given the stack deployed for tenant "default" serving acme and globex too
    context = cdk_json_context() | TEST_OVERRIDES | {"tenants": ["acme", "globex"],
                                                     "slack_channel_tenants": {"C0ACME": "acme"},
                                                     "aws_source_tenants": {"210987654321": "globex"}}
    built = create_app(context, outdir=str(tmp_path_factory.mktemp("cdk.out.tenants")))
    assembly = built.app.synth()
    artifact = assembly.get_stack_artifact(built.stack.artifact_id)
    return Synthesized(built, assembly, Template.from_json(artifact.template), artifact.template,
                       Path(artifact.template_full_path))


def test_each_served_tenant_gets_the_partitions_of_the_deployments_own(served: Synthesized) -> None:
    ingest, correlate, sweeper = (Role(served, f) for f in ("ingest", "correlate", "approval_sweeper"))
    for tenant in ("default", "acme", "globex"):
        # Then ingest stores each served tenant's signals, correlation opens its incidents and keeps
        # its state, and the sweeper reads its agenda and partition
        assert ingest.allows("dynamodb:PutItem", f"TENANT#{tenant}#SIGNAL#sig-1"), tenant
        assert correlate.allows("dynamodb:PutItem", f"TENANT#{tenant}#INCIDENT#inc-1"), tenant
        assert correlate.allows("dynamodb:PutItem", f"TENANT#{tenant}#CORRELATION"), tenant
        assert sweeper.allows("dynamodb:Query", f"TENANT#{tenant}"), tenant
        # And the trail of each is readable where the trail is read (Document)
        assert Role(served, "document").allows("dynamodb:Query", f"TENANT#{tenant}#AUDIT#inc-1", table="audit")
    # And a tenant it does not serve stays closed, even to the functions that serve many
    for role in (ingest, correlate, sweeper):
        assert not role.allows("dynamodb:PutItem", "TENANT#initech#SIGNAL#sig-1")
        assert not role.allows("dynamodb:GetItem", "TENANT#initech#INCIDENT#inc-1")
    # And ingest still never writes an incident, of any tenant
    assert not ingest.allows("dynamodb:PutItem", "TENANT#acme#INCIDENT#inc-1")


def test_the_functions_are_told_which_tenants_they_serve(served: Synthesized) -> None:
    functions: list[dict[str, Any]] = list(served.resources("AWS::Lambda::Function").values())
    ours = [f for f in functions
            if "SRE_COPILOT_TENANT_ID" in f["Properties"].get("Environment", {}).get("Variables", {})]
    assert ours and all(f["Properties"]["Environment"]["Variables"]["SRE_COPILOT_SERVED_TENANTS"] == "acme,globex"
                        for f in ours)
    # And the Slack callbacks (the `/sre` command) know which channel answers for which tenant
    callbacks = served.resources("AWS::Lambda::Function")[served.logical_id(served.built.stack.functions["callbacks"].function)]
    assert callbacks["Properties"]["Environment"]["Variables"]["SRE_COPILOT_SLACK_CHANNEL_TENANTS"] == "C0ACME=acme"
    # And ingest knows which AWS account's alarms (which carry no tenant key) are whose
    ingest = served.resources("AWS::Lambda::Function")[served.logical_id(served.built.stack.functions["ingest"].function)]
    assert ingest["Properties"]["Environment"]["Variables"]["SRE_COPILOT_AWS_SOURCE_TENANTS"] == "210987654321=globex"
