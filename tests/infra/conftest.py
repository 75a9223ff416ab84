"""One synthesis of the real app per test session: cdk.json's context plus `TEST_OVERRIDES`,
with asset bundling skipped (no pip, no Docker, no network)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# `infra_cdk` is run from the repository root (`python -m infra_cdk.app`) and is not an installed
# package, so the tests put the root on the path the same way.
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from aws_cdk.assertions import Template  # noqa: E402
from infra_synth import TEST_OVERRIDES, Synthesized  # noqa: E402

from infra_cdk.app import cdk_json_context, create_app  # noqa: E402


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    built = create_app(cdk_json_context(REPO) | TEST_OVERRIDES, outdir=str(outdir))
    assembly = built.app.synth()
    artifact = assembly.get_stack_artifact(built.stack.artifact_id)
    template = Template.from_json(artifact.template)
    yield Synthesized(built, assembly, template, artifact.template, Path(artifact.template_full_path))
