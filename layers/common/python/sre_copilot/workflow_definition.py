"""What the incident state machine needs from its deployment, read from the ASL itself.

Each task names its function as `${<State>FunctionArn}`; the function's directory under
`functions/` is the state name in snake case. CDK and the local runtime both substitute from here,
so adding a step to the ASL is the one change that wires it everywhere.
"""

from __future__ import annotations

import re

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)FunctionArn\}")


def task_functions(definition: str) -> dict[str, str]:
    """ASL state placeholder stem -> function directory, e.g. AssembleContext -> assemble_context."""
    return {stem: re.sub(r"(?<!^)(?=[A-Z])", "_", stem).lower() for stem in PLACEHOLDER.findall(definition)}


def substitute(definition: str, arns: dict[str, str]) -> str:
    """Replace every `${<State>FunctionArn}` with the ARN of its function (keyed by directory)."""
    functions = task_functions(definition)
    return PLACEHOLDER.sub(lambda m: arns[functions[m.group(1)]], definition)
