"""Per-tenant webhook keys through the real ingest handler on the embedded backend: on top of the
source's own authentication, and off until the webhook secret lists tenant keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from test_ingest_service import CATALOG, T0, _alertmanager

from sre_copilot.adapters.secrets import clear_secret_cache
from sre_copilot.errors import ConfigurationError, Unauthorized
from sre_copilot.ingest import tenant_keys
from sre_copilot.local.runtime import LOCAL_SECRETS, LocalDeployment


@pytest.fixture()
def deployment(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalDeployment]:
    monkeypatch.setenv("SRE_COPILOT_SERVED_TENANTS", "globex")  # cdk.json tenants, as the stack deploys it
    with LocalDeployment(start=T0) as d:
        d.put_catalog(CATALOG)
        yield d


def _set_tenant_keys(d: LocalDeployment, keys: dict[str, list[str]]) -> None:
    d.session.client("secretsmanager").put_secret_value(
        SecretId="sre-copilot/webhook", SecretString=json.dumps({**LOCAL_SECRETS["webhook"], "tenant_keys": keys}))
    # The container reads secrets through Powertools Parameters, cached for `secrets_max_age_s`;
    # forgetting the cached values stands in for that age passing (rotation is tested in tests/security/).
    clear_secret_cache()


def _post(d: LocalDeployment, body: bytes, **headers: str) -> tuple[int, Any]:
    return d.http("POST", "/webhooks/alertmanager", body, {"Content-Type": "application/json", **headers})


def test_without_tenant_keys_the_source_authentication_alone_decides(deployment: LocalDeployment) -> None:
    status, _ = _post(deployment, _alertmanager("fp1", T0))
    assert status == 202


def test_with_tenant_keys_a_delivery_needs_a_tenants_key_and_lands_in_that_tenant(deployment: LocalDeployment) -> None:
    # Given the deployment's tenant ("default") has a key, and another tenant has another
    _set_tenant_keys(deployment, {"default": [tenant_keys.digest("k-default-1")],
                                  "globex": [tenant_keys.digest("k-globex-1")]})
    deployment.container.blobs.put_json("catalog/globex.json", CATALOG)
    # Then no key and a wrong key are refused before any work
    status, body = _post(deployment, _alertmanager("fp1", T0))
    assert status == 401 and "x-sre-copilot-tenant-key" in body["error"]
    status, _ = _post(deployment, _alertmanager("fp2", T0), **{"X-Sre-Copilot-Tenant-Key": "guess"})
    assert status == 401
    assert deployment.container.store.open_incidents("default") == []
    # And the deployment tenant's own key is accepted into that tenant
    status, body = _post(deployment, _alertmanager("fp4", T0), **{"X-Sre-Copilot-Tenant-Key": "k-default-1"})
    assert status == 202 and body["signals"]
    deployment.advance_to(deployment.clock.now() + timedelta(minutes=16))  # correlation stores it
    assert deployment.container.store.get_signal("default", body["signals"][0]["id"]) is not None
    # And another tenant's key is accepted into that other tenant (multi-tenant ingestion), never the
    # deployment's (tests/security/test_multi_tenant_ingestion.py follows it downstream)
    status, body = _post(deployment, _alertmanager("fp3", T0), **{"X-Sre-Copilot-Tenant-Key": "k-globex-1"})
    assert status == 202
    deployment.advance_to(deployment.clock.now() + timedelta(minutes=16))
    assert deployment.container.store.get_signal("globex", body["signals"][0]["id"]) is not None
    assert deployment.container.store.get_signal("default", body["signals"][0]["id"]) is None


def test_the_seam_names_the_tenant_a_key_belongs_to() -> None:
    keys = {"acme": [tenant_keys.digest("a1"), tenant_keys.digest("a2")], "globex": [tenant_keys.digest("g1")]}
    assert tenant_keys.tenant_for_key({"X-SRE-COPILOT-TENANT-KEY": "a2"}, keys) == "acme"
    assert tenant_keys.tenant_for_key({"x-sre-copilot-tenant-key": "g1"}, keys) == "globex"
    assert tenant_keys.tenant_for_key({}, keys) is None
    assert tenant_keys.digest("a1").startswith("sha256:") and "a1" not in tenant_keys.digest("a1")


def test_the_key_resolves_the_tenant_and_fails_closed() -> None:
    keys = {"acme": [tenant_keys.digest("a1")], "globex": [tenant_keys.digest("g1")]}
    # Without tenant keys every delivery is the deployment's tenant's, key or not
    assert tenant_keys.resolve({}, {}, "default") == "default"
    assert tenant_keys.resolve({"X-Sre-Copilot-Tenant-Key": "a1"}, {}, "default") == "default"
    # With them, the key names the tenant; none, an empty one, or one of no tenant is a 401
    assert tenant_keys.resolve({"X-Sre-Copilot-Tenant-Key": "g1"}, keys, "default") == "globex"
    for headers in ({}, {"X-Sre-Copilot-Tenant-Key": " "}, {"X-Sre-Copilot-Tenant-Key": "a1x"}):
        with pytest.raises(Unauthorized):
            tenant_keys.resolve(headers, keys, "default")
    # And a secret naming a tenant that cannot key the store is the operator's error, said plainly
    with pytest.raises(ConfigurationError, match="tenant_keys"):
        tenant_keys.resolve({"X-Sre-Copilot-Tenant-Key": "b1"}, {"bad#tenant": [tenant_keys.digest("b1")]}, "d")
