"""Domain exceptions. Each carries a message an operator can act on; the edge maps them to responses."""

from __future__ import annotations


class SreCopilotError(Exception):
    """Base class. `status` is the HTTP status the edge should answer with."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidPayload(SreCopilotError):
    """The body is not a payload this source sends (wrong shape, wrong types, too large)."""

    status = 400
    code = "invalid_payload"


class PayloadTooLarge(InvalidPayload):
    status = 413
    code = "payload_too_large"


class Unauthorized(SreCopilotError):
    """The request's signature or credentials do not verify."""

    status = 401
    code = "unauthorized"


class SourceNotConfigured(Unauthorized):
    """Fail closed: the source has no credentials configured, so nothing from it is accepted."""

    code = "source_not_configured"


class NotAuthorizedToApprove(SreCopilotError):
    """A verified person who is not an approver for this plan (or not a second, distinct one)."""

    status = 403
    code = "not_an_approver"


class MalformedSignature(SreCopilotError):
    """The signature header is present but not in the source's documented format."""

    status = 400
    code = "malformed_signature"


class UnknownSource(SreCopilotError):
    status = 404
    code = "unknown_source"


class InvalidTransition(SreCopilotError):
    """An incident lifecycle move that the state machine does not allow."""

    status = 409
    code = "invalid_transition"


class NotFound(SreCopilotError):
    status = 404
    code = "not_found"


class ConfigurationError(SreCopilotError):
    """Settings or cdk.json context that cannot work; the message names the key to fix."""

    status = 500
    code = "configuration_error"


class ConcurrentUpdate(SreCopilotError):
    """A conditional write lost to another writer; reload, re-apply and save again."""

    status = 409
    code = "concurrent_update"


class SafetyGateBlocked(SreCopilotError):
    status = 409
    code = "safety_gate_blocked"
