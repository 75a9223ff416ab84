"""The store Protocols and `DynamoStore` are one method list: a service typed against the ports
can call everything the store does, and nothing it doesn't (mypy checks the types, through
`Container.store: Store`; this checks the list and the parameters)."""

from __future__ import annotations

import inspect

from sre_copilot.adapters.dynamodb_store import DynamoStore
from sre_copilot.adapters.s3_blobs import S3Blobs
from sre_copilot.ports.stores import BlobStore, Store


def _methods(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")}


def _parameters(signature: inspect.Signature) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def test_every_public_store_method_is_in_a_port_with_the_same_parameters() -> None:
    # Given the store's public methods and the Protocols' methods
    store, port = _methods(DynamoStore), _methods(Store)
    # Then they are the same list
    assert sorted(store) == sorted(port), (
        f"only on DynamoStore: {sorted(set(store) - set(port))} (declare them in ports/stores.py); "
        f"only in the ports: {sorted(set(port) - set(store))}")
    # And each takes the same parameters, in the same order, with the same defaults
    for name in store:
        assert _parameters(store[name]) == _parameters(port[name]), name


def test_the_blob_port_is_what_the_s3_adapter_offers() -> None:
    blobs, port = _methods(S3Blobs), _methods(BlobStore)
    assert set(port) <= set(blobs)
    for name in port:
        assert _parameters(blobs[name]) == _parameters(port[name]), name
