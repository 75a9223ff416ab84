"""Catalog resolution with a per-catalog memo.

Alert storms repeat the same few label sets thousands of times; resolving each hint set once per
catalog keeps normalisation cheap. The memo is keyed by catalog identity (a new catalog, e.g. after
the container's TTL refresh, starts a fresh memo) and bounded so odd payloads cannot grow it.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

from sre_copilot.domain.catalog import Catalog, Resolution

_MEMO_LIMIT = 4096
HintKey = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]

_memos: dict[int, tuple[weakref.ref[Catalog], dict[HintKey, Resolution]]] = {}


def _memo_for(catalog: Catalog) -> dict[HintKey, Resolution]:
    key = id(catalog)
    entry = _memos.get(key)
    if entry is not None and entry[0]() is catalog:
        return entry[1]
    memo: dict[HintKey, Resolution] = {}

    def forget(_ref: weakref.ref[Catalog]) -> None:
        _memos.pop(key, None)

    _memos[key] = (weakref.ref(catalog, forget), memo)
    return memo


def resolve(catalog: Catalog, service_hints: Sequence[str], instance_hints: Sequence[str],
            host_hints: Sequence[str]) -> Resolution:
    key: HintKey = (tuple(service_hints), tuple(instance_hints), tuple(host_hints))
    memo = _memo_for(catalog)
    found = memo.get(key)
    if found is None:
        # Parsers may repeat a hint (a label that is both `pod` and `instance`); resolve each once.
        found = catalog.resolve(service_hints=dict.fromkeys(key[0]), instance_hints=dict.fromkeys(key[1]),
                                host_hints=dict.fromkeys(key[2]))
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[key] = found
    return found
