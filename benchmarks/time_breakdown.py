"""Where a local replay's wall time goes: per function handler, and per AWS request.

Used by `bench_replay.py --breakdown`. It times the outermost call in each thread only, so a
request a handler makes counts in that handler's time and in its own row, never twice in one
table. A Step Functions `startExecution` task runs the Express analysis pass inside the request
that starts it, so on moto the requests of an analysis pass count in `StartExecution`'s row.

Measuring only: the wrappers call straight through and change no answer.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sre_copilot.adapters import memory
from sre_copilot.local import moto_patches


@dataclass
class Timings:
    """Summed wall time and calls of one kind of work, outermost per thread."""

    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: Counter[str] = field(default_factory=Counter)
    _depth: threading.local = field(default_factory=threading.local)

    def timed(self, key: Callable[..., str], call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if getattr(self._depth, "n", 0):
                return call(*args, **kwargs)
            self._depth.n = 1
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                name = key(*args, **kwargs)
                self.seconds[name] += time.perf_counter() - started
                self.calls[name] += 1
                self._depth.n = 0
        return wrapper

    def table(self, title: str, width: int = 36) -> list[str]:
        lines = [f"  {title:<{width}} {'calls':>8} {'total s':>9} {'ms each':>9}"]
        for name, seconds in sorted(self.seconds.items(), key=lambda item: -item[1]):
            lines.append(f"  {name[:width]:<{width}} {self.calls[name]:>8,} {seconds:>9.2f} "
                         f"{1000 * seconds / self.calls[name]:>9.2f}")
        lines.append(f"  {'all':<{width}} {sum(self.calls.values()):>8,} {sum(self.seconds.values()):>9.2f}")
        return lines


@dataclass
class Breakdown:
    handlers: Timings = field(default_factory=Timings)
    requests: Timings = field(default_factory=Timings)

    def report(self, wall_s: float) -> list[str]:
        inside = sum(self.handlers.seconds.values())
        return [
            "where the time went (wall time, outermost call per thread):",
            *self.handlers.table("function handler"),
            f"  outside the handlers (start-up, Step Functions, the runtime): {wall_s - inside:.2f} s",
            "AWS requests (also counted in the handler that made one; on moto, StartExecution holds",
            "the analysis passes that a workflow's startExecution task runs inside it):",
            *self.requests.table("request"),
        ]


_MEMORY_SERVICES = {"dynamodb": memory.MemoryDynamoDB, "s3": memory.MemoryS3, "sqs": memory.MemorySQS,
                    "firehose": memory.MemoryFirehose}


@contextmanager
def measured(backend: str) -> Iterator[Breakdown]:
    """Time every handler invocation and every AWS request while the block runs."""
    found = Breakdown()
    invoke = moto_patches.InProcessLambdas.invoke
    replacements: list[tuple[Any, str, Any]] = [
        (moto_patches.InProcessLambdas, "invoke",
         found.handlers.timed(lambda _self, name, *_a, **_k: str(name), invoke))]
    if backend == "memory":
        # The memory backend's clients are these objects; a Firehose record's write to S3
        # happens inside put_record, so outermost-only counts it once, as the request it is.
        for service, cls in _MEMORY_SERVICES.items():
            for name, method in list(vars(cls).items()):
                if is_request(name, method):
                    key = _request_name(service, name)
                    replacements.append((cls, name, found.requests.timed(lambda *_a, k=key, **_k: k, method)))
    else:
        from botocore.client import BaseClient

        call = vars(BaseClient)["_make_api_call"]
        replacements.append((BaseClient, "_make_api_call", found.requests.timed(
            lambda client, operation, _params: f"{client.meta.service_model.service_name} {operation}", call)))
    # The same set-and-restore the moto layer's patches use: what each owner held comes back.
    with moto_patches._replaced(*replacements):
        yield found


def is_request(name: str, method: Any) -> bool:
    """An AWS API method of a memory client: public, and keyword arguments only, as botocore calls
    them (helpers such as `MemoryS3.keys(bucket)` take positional ones)."""
    if name.startswith("_") or not inspect.isfunction(method):
        return False
    parameters = list(inspect.signature(method).parameters.values())[1:]
    return all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in parameters)


def _request_name(service: str, method: str) -> str:
    return f"{service} {''.join(part.capitalize() for part in method.split('_'))}"
