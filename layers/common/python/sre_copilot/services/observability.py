"""Powertools Logger/Tracer/Metrics shared by every function (one instance each per process).

Cold start: the X-Ray SDK is imported only when tracing is on (on Lambda, where the function's
tracing mode is Active). Off Lambda (tests, the local replay, the CLI) Powertools disables the tracer
but still imports `aws_xray_sdk.core`, which pulls in botocore's client and docs machinery; a no-op
provider avoids that. On Lambda the tracer patches botocore only (every function calls AWS);
`trace_requests()` patches `requests` from the adapters that use it, instead of `patch_all()`
importing every library the X-Ray SDK knows.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import AsyncGenerator, Generator, Sequence

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

TRACED_AT_START: tuple[str, ...] = ("botocore",)


class _NoSegment(BaseSegment):
    def close(self, end_time: int | None = None) -> None:
        return None

    def add_subsegment(self, subsegment: object) -> None:
        return None

    def remove_subsegment(self, subsegment: object) -> None:
        return None

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        return None

    def put_metadata(self, key: str, value: object, namespace: str = "default") -> None:
        return None

    def add_exception(self, exception: BaseException, stack: object, remote: bool = False) -> None:
        return None


class NoTracingProvider(BaseProvider):
    """What a disabled tracer calls: records nothing and imports nothing."""

    @contextlib.contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: object) -> Generator[BaseSegment, None, None]:
        yield _NoSegment()

    @contextlib.asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: object) -> AsyncGenerator[BaseSegment, None]:
        yield _NoSegment()

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        return None

    def put_metadata(self, key: str, value: object, namespace: str = "default") -> None:
        return None

    def patch(self, modules: Sequence[str]) -> None:
        return None

    def patch_all(self) -> None:
        return None


def _tracer() -> Tracer:
    if Tracer._is_tracer_disabled():
        return Tracer(service="sre-copilot", disabled=True, auto_patch=False, provider=NoTracingProvider())
    return Tracer(service="sre-copilot", patch_modules=TRACED_AT_START)


logger = Logger(service="sre-copilot")
tracer = _tracer()
metrics = Metrics(namespace="SreCopilot", service="sre-copilot")
_patched: set[str] = set(TRACED_AT_START)


def trace_requests() -> None:
    """Trace outgoing `requests` calls (PagerDuty, OpenSearch); called by those adapters when built."""
    if "requests" not in _patched:
        _patched.add("requests")
        tracer.patch(["requests"])
