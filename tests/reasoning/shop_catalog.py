"""The small shop both localisation tests use: front calls cart and shop, replicas on two hosts."""

from __future__ import annotations

from sre_copilot.domain.catalog import Catalog


def shop_catalog(*, shop_host: str, hosts: tuple[str, ...]) -> Catalog:
    """front-0/1 and cart-0 on n1, cart-1 on n2, shop-0 on `shop_host`."""
    return Catalog.model_validate({
        "services": [
            {"name": "front", "depends_on": ["cart", "shop"],
             "instances": [{"name": "front-0", "host": "n1"}, {"name": "front-1", "host": "n1"}]},
            {"name": "cart", "instances": [{"name": "cart-0", "host": "n1"}, {"name": "cart-1", "host": "n2"}]},
            {"name": "shop", "instances": [{"name": "shop-0", "host": shop_host}]},
        ],
        "hosts": [{"name": h} for h in hosts],
    })
