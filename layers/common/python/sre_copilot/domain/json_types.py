"""JSON as it crosses our edges: workflow state, secrets, stored documents, step outputs.

`JSONValue` is what `json.loads` can return; `JSONObject` is a JSON object. Code that reads a
document it did not build narrows with the helpers below (or validates with a model) instead of
trusting its shape: a secret filled in by hand or an older document then gives an empty value or
a clear error, never an `AttributeError` deep inside a step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

type JSONScalar = str | int | float | bool | None
# Sequence and Mapping (read-only, so covariant): a list[str] or a dict[str, int] is a JSONValue.
type JSONValue = JSONScalar | Sequence[JSONValue] | Mapping[str, JSONValue]
type JSONObject = dict[str, JSONValue]
"""A JSON object we build (step outputs, audit details, event details)."""
type StepEvent = Mapping[str, object]
"""What a Lambda is invoked with, before it is parsed (workflow state, EventBridge detail, ...)."""


def as_object(value: object) -> dict[str, object]:
    """`value` if it is a JSON object, else {} (absent or of another type)."""
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else {}


def as_list(value: object) -> list[object]:
    """`value` if it is a JSON array, else [] (absent or of another type)."""
    return list(value) if isinstance(value, list | tuple) else []


def member(value: object, *path: str) -> object:
    """The value at `path` in nested JSON objects, or None where one is missing."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def text_at(value: object, *path: str) -> str:
    """The string at `path`, or "" where it is missing (a number is given as its text)."""
    found = member(value, *path)
    return "" if found is None else str(found)


def strings(value: object) -> list[str]:
    """A JSON array (or one string) as a list of non-empty strings."""
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in as_list(value) if v not in (None, "")]


def string_lists(value: object) -> dict[str, list[str]]:
    """A JSON object whose values are arrays of strings (e.g. Slack user ids per service)."""
    return {key: strings(v) for key, v in as_object(value).items()}
