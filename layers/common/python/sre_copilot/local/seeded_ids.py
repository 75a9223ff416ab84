"""Ids the embedded backend would otherwise draw at random, derived instead from what they name.

moto gives each callback task (`.waitForTaskToken`: AwaitDecision, the paging waits) a random uuid4
token, which reaches the execution history in the task's parameters, so two replays of the same
scenario differ there. Within one local deployment the token is instead derived from the execution,
the state and how many tokens that execution has had: the same replay gets the same tokens, and no
two waits share one. (Deployed Step Functions makes its own, unguessable tokens; this is local only.)
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def derived_task_tokens() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.eval.states import ContextObject, TaskData

    issued: Counter[str] = Counter()  # per deployment: a new replay starts its count again
    lock = threading.Lock()
    original = ContextObject.update_task_token

    def update_task_token(self: Any) -> str:
        data = self.context_object_data
        execution = str((data.get("Execution") or {}).get("Id", ""))
        state = str((data.get("State") or {}).get("Name", ""))
        with lock:
            issued[execution] += 1
            n = issued[execution]
        token = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sre-copilot-task-token:{execution}#{state}#{n}"))
        data["Task"] = TaskData(Token=token)
        return token

    ContextObject.update_task_token = update_task_token  # type: ignore[method-assign]
    try:
        yield
    finally:
        ContextObject.update_task_token = original  # type: ignore[method-assign]
