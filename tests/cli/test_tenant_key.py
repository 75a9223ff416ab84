"""`sre-copilot tenant-key`: the key it makes resolves to its tenant through the digest it prints."""

from __future__ import annotations

import json

import pytest

from sre_copilot.cli.main import main
from sre_copilot.ingest import tenant_keys


def test_a_new_key_and_its_digest_route_deliveries_to_the_tenant(capsys: pytest.CaptureFixture[str]) -> None:
    # When an operator makes a key for acme
    assert main(["tenant-key", "acme"]) == 0
    out = capsys.readouterr().out.splitlines()
    key = out[0].split("X-Sre-Copilot-Tenant-Key: ", 1)[1]
    secret = json.loads(out[1].split("merged:", 1)[1])
    # Then the printed secret holds only the digest, and a delivery carrying the key is acme's
    assert key not in out[1] and len(key) >= 40
    assert tenant_keys.resolve({"X-Sre-Copilot-Tenant-Key": key}, secret["tenant_keys"], "default") == "acme"
    # And two runs never make the same key
    assert main(["tenant-key", "acme"]) == 0
    assert key not in capsys.readouterr().out


def test_a_tenant_id_that_cannot_key_the_store_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenant-key", "acme#globex"]) == 2
    assert "not a tenant id" in capsys.readouterr().err
