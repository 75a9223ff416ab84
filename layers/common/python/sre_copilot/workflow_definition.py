"""What the workflows need from their deployment, read from the ASL itself.

Each task names its function as `${<State>FunctionArn}`; the function's directory under
`functions/` is the state name in snake case. A state that runs another state machine names it as
`${<Name>StateMachineArn}`: the incident workflow (`incident.asl.json`) runs each analysis pass as
an Express child (`analysis.asl.json`, placeholder `${AnalysisStateMachineArn}`). CDK and the local
runtime both substitute from here, so adding a step to the ASL is the one change that wires it
everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)FunctionArn\}")
STATE_MACHINE_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)StateMachineArn\}")

STATEMACHINES = Path("statemachines")
INCIDENT_ASL = STATEMACHINES / "incident.asl.json"
ANALYSIS_ASL = STATEMACHINES / "analysis.asl.json"
"""The analysis pass the incident workflow runs as an Express child (state `Analyse`)."""
INCIDENT_WORKFLOW_ASLS = (INCIDENT_ASL, ANALYSIS_ASL)
"""The incident workflow: the parent and its child; their Task states together are its steps."""


def task_functions(definition: str) -> dict[str, str]:
    """ASL state placeholder stem -> function directory, e.g. AssembleContext -> assemble_context."""
    return {stem: re.sub(r"(?<!^)(?=[A-Z])", "_", stem).lower() for stem in PLACEHOLDER.findall(definition)}


def workflow_functions(repo_root: Path) -> dict[str, str]:
    """`task_functions` of the incident workflow's parent and child together."""
    functions: dict[str, str] = {}
    for asl in INCIDENT_WORKFLOW_ASLS:
        functions.update(task_functions((repo_root / asl).read_text(encoding="utf-8")))
    return functions


def child_state_machines(definition: str) -> set[str]:
    """The stems of `${<Name>StateMachineArn}` placeholders, e.g. {"Analysis"}."""
    return set(STATE_MACHINE_PLACEHOLDER.findall(definition))


def substitute(definition: str, arns: Mapping[str, str], state_machines: Mapping[str, str] | None = None) -> str:
    """Replace every `${<State>FunctionArn}` with the ARN of its function (keyed by directory), and
    every `${<Name>StateMachineArn}` with `state_machines[<Name>]`."""
    functions = task_functions(definition)
    machines = state_machines or {}
    missing = child_state_machines(definition) - set(machines)
    if missing:
        raise KeyError(f"no state machine ARN for {sorted(missing)}; create the child state machine first")
    definition = STATE_MACHINE_PLACEHOLDER.sub(lambda m: machines[m.group(1)], definition)
    return PLACEHOLDER.sub(lambda m: arns[functions[m.group(1)]], definition)
