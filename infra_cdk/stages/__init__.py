"""Stages: `npx cdk synth -c stage=dev` (or `prod`) layers `infra_cdk/stages/<stage>.json` over
cdk.json's context. A key given with `-c` on the command line still wins over the stage file."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

STAGES_DIR = Path(__file__).resolve().parent
STAGE_KEY = "stage"


def available() -> list[str]:
    return sorted(p.stem for p in STAGES_DIR.glob("*.json"))


def stage_context(stage: str) -> dict[str, Any]:
    path = STAGES_DIR / f"{stage}.json"
    if not path.exists():
        raise ValueError(f"no stage '{stage}'; the stages are {', '.join(available())} (infra_cdk/stages/*.json)")
    return dict(json.loads(path.read_text(encoding="utf-8")))


def overrides(stage: str, context: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The stage's values for keys whose current value is still cdk.json's (`defaults`): a value the
    command line changed is kept."""
    return {key: value for key, value in stage_context(stage).items()
            if key not in context or context[key] == defaults.get(key)}
