"""Wakes of parked executions held until a batch is fully applied.

A correlate batch can wake an execution (a person resolved it in PagerDuty, new evidence) before
the rest of the batch is stored: the resolve hint goes first, the batch's signals after it. Sent
at once, the woken execution reads the incident while the batch is still being applied, and what
it sees (say, whether the alerts have cleared) depends on which Lambda is faster; in AWS that is
a check made on half a batch, and in a replay it makes the history differ from run to run. Inside
`held_wakes()` the engine's `send_success` calls are kept, in order, and sent when the block ends:
also when it fails, since each held wake's token has already been taken from the store and no one
else will deliver it. A context variable keeps the hold to the code that opened it (concurrent
handlers of the embedded runtime run in their own threads).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Send = Callable[[], None]

_held: ContextVar[list[Send] | None] = ContextVar("held_wakes", default=None)


def hold_or_send(send: Send) -> None:
    """Send now, or keep it for the end of the enclosing `held_wakes()` block."""
    held = _held.get()
    if held is None:
        send()
    else:
        held.append(send)


@contextmanager
def held_wakes() -> Iterator[None]:
    if _held.get() is not None:  # nested: the outermost block sends
        yield
        return
    held: list[Send] = []
    marker = _held.set(held)
    try:
        yield
    finally:
        _held.reset(marker)
        for send in held:
            send()
