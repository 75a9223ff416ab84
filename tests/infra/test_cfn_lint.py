"""cfn-lint on the synthesized template: no errors and no warnings beyond the one ignored below."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from infra_synth import Synthesized

pytestmark = pytest.mark.infra

CFN_LINT = Path(sys.executable).parent / "cfn-lint"
IGNORED = {
    # CDK writes `DependsOn: <role>` next to `Fn::GetAtt <role>.Arn` on functions and the state
    # machine (so the role's policies exist first); the redundant edge is harmless.
    "W3005": "DependsOn duplicates a GetAtt dependency (CDK-generated)",
}


def test_cfn_lint_finds_nothing_in_the_template(synthesized: Synthesized) -> None:
    result = subprocess.run(
        [str(CFN_LINT), "--format", "parseable", "--ignore-checks", *IGNORED, "--", str(synthesized.template_path)],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
