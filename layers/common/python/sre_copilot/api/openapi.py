"""Writes the read API's OpenAPI document, generated from the routes and their pydantic models.

Run: python -m sre_copilot.api.openapi [docs/openapi.json]
"""

from __future__ import annotations

import sys
from pathlib import Path


def document() -> str:
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    from sre_copilot.api.routes import app

    return app.get_openapi_json_schema(
        title="SRE Copilot read API", version="1",
        description="Incidents, hypotheses, timelines, postmortems and history of the caller's tenant. Send an "
                    "OIDC token (Cognito by default) as 'Authorization: Bearer <JWT>'; its tenant claim scopes "
                    "every answer and its role claim (viewer, responder, approver, admin) what may be done.",
        security_schemes={"jwt": HTTPBearer(bearerFormat="JWT")}, security=[{"jwt": []}]) + "\n"


if __name__ == "__main__":
    text = document()
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
