"""Who is calling and what they may do: a principal from the JWT claims API Gateway has already
validated (signature, issuer, audience, expiry), and the four roles.

Roles map onto the approval rights of the workflow: a viewer reads; a responder also acknowledges;
an approver also approves or rejects remediation plans; an admin may do everything. A caller with no
tenant claim, or none of the roles, is refused: fail closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from sre_copilot.errors import SreCopilotError, Unauthorized

# Claim names: Cognito's defaults; any OIDC issuer can put the same information in other claims,
# chosen with SRE_COPILOT_API_TENANT_CLAIM / SRE_COPILOT_API_ROLES_CLAIM.
DEFAULT_TENANT_CLAIM = "custom:tenant_id"
DEFAULT_ROLES_CLAIM = "cognito:groups"


class Forbidden(SreCopilotError):
    status = 403
    code = "forbidden"


class Role(IntEnum):
    """Ordered: each role has every right of the roles below it."""

    VIEWER = 1
    RESPONDER = 2
    APPROVER = 3
    ADMIN = 4


# What each operation needs.
READ, ACKNOWLEDGE, APPROVE = Role.VIEWER, Role.RESPONDER, Role.APPROVER


@dataclass(frozen=True)
class Principal:
    subject: str
    tenant_id: str
    role: Role

    @property
    def actor(self) -> str:
        return f"api:{self.subject}"

    def require(self, needed: Role, what: str) -> None:
        if self.role < needed:
            raise Forbidden(f"{what} needs the {needed.name.lower()} role; {self.subject} is a "
                            f"{self.role.name.lower()}")


def _roles(value: Any) -> list[str]:
    # Cognito sends groups as a list; API Gateway flattens JWT array claims to "[a b]" text.
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    text = str(value or "").strip().strip("[]")
    return [part for part in text.replace(",", " ").split() if part]


def principal_from_claims(claims: Mapping[str, Any], *, tenant_claim: str = DEFAULT_TENANT_CLAIM,
                          roles_claim: str = DEFAULT_ROLES_CLAIM) -> Principal:
    subject = str(claims.get("sub") or "")
    tenant = str(claims.get(tenant_claim) or "").strip()
    if not subject or not tenant:
        raise Unauthorized(f"the token has no subject or no '{tenant_claim}' claim; ask an admin to assign a tenant")
    granted = [Role[name.upper()] for name in _roles(claims.get(roles_claim))
               if name.upper() in Role.__members__]
    if not granted:
        raise Forbidden(f"{subject} has none of the roles viewer, responder, approver, admin "
                        f"(claim '{roles_claim}')")
    return Principal(subject=subject, tenant_id=tenant, role=max(granted))
