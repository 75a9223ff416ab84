"""The incident workflow's Lambda functions: one factory, one entry per ASL Task state."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from sre_copilot.services.step_lambda import STEPS, StepName
from sre_copilot.workflow_definition import workflow_functions

REPO = Path(__file__).resolve().parents[2]


def test_every_task_state_has_a_step_and_every_step_a_task_state() -> None:
    # Given the Task states the incident workflow and its analysis pass invoke (CDK and the local
    # runtime read the same list)
    tasks = set(workflow_functions(REPO).values())
    # Then the factory knows exactly those steps, under the functions' names
    assert set(STEPS) == tasks
    assert set(get_args(StepName)) == tasks


def test_each_step_function_is_the_factory_over_its_own_step() -> None:
    # Given each Task state's function directory
    for name in sorted(set(workflow_functions(REPO).values())):
        source = (REPO / "functions" / name / "handler.py").read_text()
        # Then its handler is the shared factory over the step of the same name (not a neighbour's)
        assert f'handler = workflow_step("{name}")' in source, name


def test_a_step_reads_the_configuration_of_its_executions_tenant() -> None:
    # Given a deployment (tenant "default") serving acme and globex, each with its own catalog
    from datetime import UTC, datetime

    from sre_copilot.local.moto_patches import LambdaContext
    from sre_copilot.local.runtime import LocalDeployment
    from sre_copilot.services.container import Container
    from sre_copilot.services.step_lambda import lambda_handler

    def services(container: Container, event: object) -> dict[str, object]:
        return {"services": sorted(container.catalog().service_names)}

    handler = lambda_handler(services)
    with LocalDeployment(start=datetime(2026, 6, 1, tzinfo=UTC)) as d:
        d.put_catalog({"services": [{"name": "default-svc", "depends_on": []}]})
        for tenant in ("acme", "globex"):
            d.container.blobs.put_json(f"catalog/{tenant}.json",
                                       {"services": [{"name": f"{tenant}-svc", "depends_on": []}]})
        # When a step runs for an execution of each tenant (its state names the tenant)
        seen = {tenant: handler({"incident_id": "inc-1", "tenant_id": tenant},
                                LambdaContext(function_name="recommend", aws_request_id=tenant))
                for tenant in ("acme", "globex", "default")}
    # Then each reads its own tenant's catalog
    assert seen == {"acme": {"services": ["acme-svc"]}, "globex": {"services": ["globex-svc"]},
                    "default": {"services": ["default-svc"]}}
