"""Catalog import (`sre-copilot catalog import`): Backstage catalog-info.yaml and native catalog files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sre_copilot.domain.catalog import from_backstage, load_catalog_files
from sre_copilot.errors import InvalidPayload

BACKSTAGE = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout
  title: Checkout API
  annotations:
    backstage.io/kubernetes-id: checkoutservice
    backstage.io/kubernetes-namespace: shop
    pagerduty.com/service-id: PCHK001
    sre-copilot/tier: "1"
    sre-copilot/aliases: CheckoutAPI, checkout-svc
  links:
    - url: https://runbooks.example.com/checkout
      title: Checkout runbook
    - url: https://grafana.example.com/d/checkout
      title: Dashboard
spec:
  type: service
  lifecycle: production
  owner: group:default/commerce
  dependsOn: ["component:default/payments", "resource:payments-db"]
  consumesApis: ["cart-api"]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: cart, tags: [tier-2]}
spec: {type: service, owner: web, providesApis: ["api:default/cart-api"]}
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata: {name: payments-db}
spec: {type: database, owner: data}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: cart-api}
spec: {type: openapi, owner: web}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: commerce}
spec: {type: team}
"""


def test_backstage_entities_become_services(tmp_path: Path) -> None:
    # Given a multi-document catalog-info.yaml
    path = tmp_path / "catalog-info.yaml"
    path.write_text(BACKSTAGE)
    # When it is imported
    catalog = load_catalog_files([path])
    # Then components and resources are services, with dependencies, team, tier, runtime and on-call
    assert catalog.service_names == ["checkout", "cart", "payments-db"]
    checkout = catalog.service("checkout")
    assert checkout is not None
    assert checkout.depends_on == ["cart", "payments", "payments-db"]
    assert (checkout.team, checkout.tier) == ("commerce", 1)
    assert checkout.runtime == {"kind": "kubernetes", "workload": "deployment/checkoutservice", "namespace": "shop"}
    assert checkout.oncall == {"pagerduty": "PCHK001"}
    assert checkout.runbooks == ["https://runbooks.example.com/checkout"]
    # and the names alert tools use resolve to it
    assert [catalog.find_service(n) for n in ("Checkout API", "checkoutservice", "checkout-svc")] == ["checkout"] * 3
    assert catalog.service("cart").tier == 2  # type: ignore[union-attr]
    assert catalog.service("payments-db").tier == 3  # type: ignore[union-attr]


def test_native_catalog_and_scenario_files_merge(tmp_path: Path) -> None:
    native = tmp_path / "catalog.json"
    native.write_text(json.dumps({"services": [{"name": "search", "tier": 2}], "hosts": [{"name": "ip-10-0-1-1"}]}))
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"format": "sre-copilot/scenario@1",
                                    "catalog": {"services": [{"name": "search", "tier": 1}, {"name": "ads"}]}}))
    catalog = load_catalog_files([native, scenario])
    assert sorted(catalog.service_names) == ["ads", "search"]
    assert catalog.service("search").tier == 1  # type: ignore[union-attr]  # later files win
    assert catalog.find_host("ip-10-0-1-1") == "ip-10-0-1-1"


def test_files_that_are_not_catalogs_are_refused(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("services: [unclosed")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": "world"}))
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({"services": [{"tier": 1}]}))
    with pytest.raises(InvalidPayload, match="not valid YAML"):
        load_catalog_files([bad_yaml])
    with pytest.raises(InvalidPayload, match="neither a catalog"):
        load_catalog_files([other])
    with pytest.raises(InvalidPayload, match=r"not a valid catalog at 'services\.0\.name'"):
        load_catalog_files([invalid])


def test_from_backstage_skips_entities_without_names() -> None:
    catalog = from_backstage([{"kind": "Component", "metadata": {}}, "not an entity",
                              {"kind": "Component", "metadata": {"name": "solo"}, "spec": None}])
    assert catalog.service_names == ["solo"]
