"""docs/openapi.json is the document generated from the read API's routes and pydantic models."""

from __future__ import annotations

import json
from pathlib import Path

from sre_copilot.api.openapi import document
from sre_copilot.api.routes import ROUTES

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_shipped_document_is_the_generated_one() -> None:
    assert DOC.read_text(encoding="utf-8") == document(), \
        "regenerate with: python -m sre_copilot.api.openapi docs/openapi.json"


def test_every_route_is_documented_with_its_model_and_the_jwt_scheme() -> None:
    spec = json.loads(document())
    for method, path in ROUTES:
        operation = spec["paths"][path][method.lower()]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].startswith("#/components/schemas/"), path
    assert spec["components"]["securitySchemes"]["jwt"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert spec["security"] == [{"jwt": []}]
    assert {"IncidentList", "IncidentDetail", "HypothesisList", "Timeline", "Postmortem", "History",
            "ActionResult"} <= set(spec["components"]["schemas"])
