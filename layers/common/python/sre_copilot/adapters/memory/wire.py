"""DynamoDB's wire form (`{"S": ...}`, `{"N": ...}`, ...) and the errors the in-memory AWS raises
the way botocore raises AWS's own."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

WireValue = dict[str, Any]
"""One attribute value in wire form: a single-entry dict such as {"S": "x"} or {"N": "1"}."""
WireItem = dict[str, WireValue]

MAX_ITEM_BYTES = 400 * 1024


def client_error(code: str, message: str, operation: str, status: int = 400,
                 extra: Mapping[str, Any] | None = None) -> ClientError:
    """The exception botocore raises for an AWS error answer (`extra`: more of the answer, such
    as the `Item` a failed condition found)."""
    response: dict[str, Any] = {"Error": {"Code": code, "Message": message},
                                "ResponseMetadata": {"HTTPStatusCode": status}, **(extra or {})}
    return ClientError(response, operation)  # type: ignore[arg-type]


def validation_error(message: str, operation: str = "DynamoDB") -> ClientError:
    return client_error("ValidationException", message, operation)


def compare_key(value: WireValue) -> tuple[str, Any] | None:
    """(type, comparable) of a scalar: numbers as Decimal, strings and binary as they are. Strings
    compare by code point, which orders them as DynamoDB's UTF-8 byte order does."""
    kind, inner = next(iter(value.items()))
    if kind == "N":
        return "N", Decimal(inner)
    if kind in ("S", "B"):
        return kind, inner
    return None


def hashable(value: WireValue) -> tuple[str, Any]:
    """A key attribute's value as a dict key (numbers normalised, so 1 and 1.0 are one key)."""
    kind, inner = next(iter(value.items()))
    return (kind, Decimal(inner).normalize()) if kind == "N" else (kind, inner)


def item_size(item: WireItem) -> int:
    """An item's size as DynamoDB counts it, closely enough to refuse what it would refuse: the
    UTF-8 bytes of names and strings, binary lengths, about one byte per two digits of a number."""
    return sum(len(name.encode("utf-8")) + _value_size(value) for name, value in item.items())


def _value_size(value: WireValue) -> int:
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "B":
        return len(inner)
    if kind == "N":
        return (len(inner) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in inner)
    if kind == "NS":
        return sum((len(n) + 1) // 2 + 1 for n in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + _value_size(v) for k, v in inner.items())
    return 0


def copy_value(value: WireValue) -> WireValue:
    """A copy deep enough that changing a map or list inside never changes the stored item."""
    kind, inner = next(iter(value.items()))
    if kind == "M":
        return {"M": {k: copy_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [copy_value(v) for v in inner]}
    if kind in ("SS", "NS", "BS"):
        return {kind: list(inner)}
    return {kind: inner}


def copy_item(item: WireItem) -> WireItem:
    return {name: copy_value(value) for name, value in item.items()}
