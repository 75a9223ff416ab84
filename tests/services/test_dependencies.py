"""The composition root (services/container.py): a frozen dependencies object whose fields are
ports, and the providers behind the fields that must be rebuilt or re-read."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable

import pytest

from sre_copilot.services.container import Dependencies, Once, PerCredentials, Ttl


def test_every_dependency_is_a_port_or_a_provider_of_one_never_any() -> None:
    # Given the dependencies' declared fields, resolved as mypy sees them (with the names the
    # module imports for type checking only)
    from sre_copilot.domain.catalog import Catalog
    from sre_copilot.ingest.silences import Silence
    from sre_copilot.reasoning.recommend import RunbookIndex
    from sre_copilot.runtime_settings import RuntimeControls

    # Names the container imports for type checking only (its cold start loads them on first use)
    names = {"Silence": Silence, "RunbookIndex": RunbookIndex, "RuntimeControls": RuntimeControls, "Catalog": Catalog}
    hints = typing.get_type_hints(Dependencies, localns=names)
    fields = [f.name for f in dataclasses.fields(Dependencies)]
    # Then none of them is Any, and each is a Protocol, a provider (a callable) or the settings
    for name in fields:
        hint = hints[name]
        assert hint is not typing.Any, name
        origin = typing.get_origin(hint)
        is_protocol = isinstance(hint, type) and getattr(hint, "_is_protocol", False)
        assert is_protocol or origin is Callable or name == "settings", f"{name}: {hint}"


def test_the_dependencies_cannot_be_rewired_after_they_are_built() -> None:
    assert Dependencies.__dataclass_params__.frozen  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        object.__new__(Dependencies).store = None  # type: ignore[misc, assignment]


def test_a_rotated_secret_builds_a_new_client_and_an_unchanged_one_does_not() -> None:
    # Given a provider whose client is built from a secret's credentials
    secret = {"bot_token": "xoxb-1"}
    built: list[str] = []

    def build(credentials: tuple[object, ...]) -> str:
        built.append(str(credentials[0]))
        return f"client for {credentials[0]}"

    provider = PerCredentials(lambda: (secret["bot_token"],), build)
    # When it is asked twice with the same secret, then after the secret rotates
    first, again = provider(), provider()
    secret["bot_token"] = "xoxb-2"
    rotated = provider()
    # Then the client is built once per set of credentials, and the rotated one is used at once
    assert first is again and rotated == "client for xoxb-2"
    assert built == ["xoxb-1", "xoxb-2"]


def test_configuration_is_reread_after_its_ttl_or_when_invalidated(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a catalog provider with a 60 s TTL over a source that changes
    now = [1000.0]
    monkeypatch.setattr("sre_copilot.services.container.time.monotonic", lambda: now[0])
    version = [1]
    catalog = Ttl(60.0, lambda: f"catalog v{version[0]}")
    assert catalog() == "catalog v1"
    version[0] = 2
    # When less than the TTL has passed, the cached value stands
    now[0] += 59
    assert catalog() == "catalog v1"
    # Then after the TTL, or at once when invalidated (a catalog import), the new value is read
    now[0] += 1
    assert catalog() == "catalog v2"
    version[0] = 3
    catalog.invalidate()
    assert catalog() == "catalog v3"


def test_a_costly_adapter_is_built_on_first_use_only() -> None:
    calls: list[int] = []
    provider = Once(lambda: calls.append(1) or len(calls))
    assert calls == []
    assert provider() == provider() == 1
    assert calls == [1]
