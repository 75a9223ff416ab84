"""CDK entry point (`cdk.json`: `.venv/bin/python -m infra_cdk.app`, run from the repository root).

cdk-nag's AwsSolutions pack is registered as a CDK policy-validation plugin, so every synth checks
the app and fails on any finding that `infra_cdk.nag_suppressions` does not acknowledge.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra_cdk import nag_suppressions, stages
from infra_cdk.config import ConfigError, DeploymentConfig, load_config
from infra_cdk.stack import SreCopilotStack

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLING_STACKS = "aws:cdk:bundling-stacks"


def cdk_json_context(repo_root: Path = REPO_ROOT) -> dict[str, Any]:
    """The `context` block of cdk.json (feature flags and our configuration), for tests and tools."""
    return dict(json.loads((repo_root / "cdk.json").read_text(encoding="utf-8"))["context"])


def register_nag(app: App) -> None:
    # The CloudFormation metadata copy keeps each acknowledgement's reason in the template for audits.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True))


@dataclass(frozen=True)
class Built:
    app: App
    stack: SreCopilotStack
    config: DeploymentConfig
    acknowledged: list[nag_suppressions.Applied]


def build(app: App, repo_root: Path = REPO_ROOT) -> Built:
    stage = app.node.try_get_context(stages.STAGE_KEY)
    if stage:
        try:
            chosen = stages.overrides(str(stage), app.node.get_all_context(), cdk_json_context(repo_root))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        for key, value in chosen.items():
            app.node.set_context(key, value)
    config = load_config(app.node.get_all_context())
    if not config.should_bundle_layer():
        # Same switch the CDK CLI uses for `cdk ls`: assets keep their source, nothing is pip-installed.
        app.node.set_context(BUNDLING_STACKS, [])
    stack = SreCopilotStack(app, config.stack_name, config=config, repo_root=repo_root)
    register_nag(app)
    acknowledged = nag_suppressions.acknowledge(stack)
    return Built(app, stack, config, acknowledged)


def create_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> Built:
    """A fresh App whose base context is `context` (tests pass cdk.json's context plus overrides);
    context the CDK CLI passes through CDK_CONTEXT_JSON still takes precedence."""
    return build(App(context=dict(context) if context is not None else None, outdir=outdir))


def main() -> None:
    try:
        built = create_app()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    built.app.synth()


if __name__ == "__main__":
    main()
