"""Cached boto3 clients, one per (service, region, endpoint) and process.

A Lambda sandbox builds each client once at cold start and reuses it across invocations; building a
client costs tens of milliseconds (endpoint and model loading). Every client gets botocore's
`standard` retry mode, so throttling and transient 5xx are retried with backoff before any error
reaches our code. An endpoint can be given explicitly; botocore also honours `AWS_ENDPOINT_URL` and
`AWS_ENDPOINT_URL_<SERVICE>` on its own, which is how a LocalStack-style setup is pointed elsewhere
without our code reading the environment.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, NoReturn

from botocore import UNSIGNED
from botocore.exceptions import ClientError

from sre_copilot.errors import ConfigurationError, SreCopilotError
from sre_copilot.settings import Settings, get_settings

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

    from sre_copilot.adapters.memory import MemoryAws

MAX_ATTEMPTS = 5
CLIENT_OPTIONS: dict[str, Any] = {
    "retries": {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    "connect_timeout": 5,
    "read_timeout": 30,
    "user_agent_extra": "sre-copilot",
}

# Codes botocore's standard mode already retried; seeing one here means the retries ran out.
THROTTLING_CODES = frozenset({
    "ThrottlingException", "Throttling", "ThrottledException", "RequestLimitExceeded",
    "ProvisionedThroughputExceededException", "TooManyRequestsException", "SlowDown",
    "RequestThrottled", "RequestThrottledException", "LimitExceededException",
    "InternalServerError", "InternalFailure", "ServiceUnavailable",
})

_lock = threading.Lock()
_clients: dict[tuple[str, str, str | None, str, str], Any] = {}
_sessions: dict[str, boto3.session.Session] = {}


def client_config(settings: Settings | None = None, service: str = "") -> Config:
    """CLIENT_OPTIONS, with the fixed User-Agent of `Settings.aws_user_agent` where one is set, and
    unsigned for a service listed in `Settings.aws_unsigned_services` (the embedded backend only)."""
    # botocore's Config loads urllib3 and botocore's endpoint code: with the first client, not at import.
    from botocore.config import Config

    settings = settings or get_settings()
    config = Config(**CLIENT_OPTIONS)
    if settings.aws_user_agent:
        config = config.merge(Config(user_agent=settings.aws_user_agent))
    if service and service in _unsigned(settings):
        config = config.merge(Config(signature_version=UNSIGNED))
    return config


def _unsigned(settings: Settings) -> frozenset[str]:
    return frozenset(s.strip() for s in settings.aws_unsigned_services.split(",") if s.strip())


def client(service: str, region: str, endpoint_url: str | None = None) -> Any:
    """The process-wide client for `service` in `region` (optionally at `endpoint_url`). With
    `Settings.store_backend` = memory, DynamoDB, S3, SQS and Firehose are this process's own."""
    settings = get_settings()
    if settings.store_backend == "memory" and service in MEMORY_SERVICES:
        return memory_backend().client(service)
    key = (service, region, endpoint_url or None, settings.aws_user_agent, settings.aws_unsigned_services)
    cached = _clients.get(key)
    if cached is not None:
        return cached
    # boto3 sessions are not thread-safe; clients are, so only creation is serialised. One session
    # per region serves every client: a session loads the endpoint rules and service models once.
    with _lock:
        cached = _clients.get(key)
        if cached is None:
            session = _sessions.get(region)
            if session is None:
                import boto3  # on first use: boto3 (and s3transfer) is the heaviest import of a cold start

                session = _sessions[region] = boto3.session.Session(region_name=region)
            cached = session.client(service, region_name=region, endpoint_url=endpoint_url or None,  # type: ignore[call-overload]
                                    config=client_config(settings, service))
            _clients[key] = cached
        return cached


def clear_clients() -> None:
    """Forget every cached client (tests and the local runtime start fresh moto backends), and
    the in-memory AWS with them."""
    global _memory
    with _lock:
        _clients.clear()
        _sessions.clear()
        _memory = None


MEMORY_SERVICES = frozenset({"dynamodb", "s3", "sqs", "firehose"})
_memory: MemoryAws | None = None


def memory_backend() -> MemoryAws:
    """This process's in-memory DynamoDB, S3 and SQS (created on first use, dropped by
    `clear_clients`): what `Settings.store_backend` = memory points the adapters at."""
    global _memory
    with _lock:
        if _memory is None:
            from sre_copilot.adapters.memory import MemoryAws

            _memory = MemoryAws()
        return _memory


def _region(settings: Settings | None) -> str:
    return (settings or get_settings()).region


def dynamodb(settings: Settings | None = None, endpoint_url: str | None = None) -> DynamoDBClient:
    return client("dynamodb", _region(settings), endpoint_url)  # type: ignore[no-any-return]


def s3(settings: Settings | None = None, endpoint_url: str | None = None) -> S3Client:
    return client("s3", _region(settings), endpoint_url)  # type: ignore[no-any-return]


def sqs(settings: Settings | None = None, endpoint_url: str | None = None) -> SQSClient:
    return client("sqs", _region(settings), endpoint_url)  # type: ignore[no-any-return]


def events(settings: Settings | None = None, endpoint_url: str | None = None) -> EventBridgeClient:
    return client("events", _region(settings), endpoint_url)  # type: ignore[no-any-return]


def stepfunctions(settings: Settings | None = None, endpoint_url: str | None = None) -> SFNClient:
    return client("stepfunctions", _region(settings), endpoint_url)  # type: ignore[no-any-return]


def secretsmanager(settings: Settings | None = None, endpoint_url: str | None = None) -> SecretsManagerClient:
    return client("secretsmanager", _region(settings), endpoint_url)  # type: ignore[no-any-return]


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_throttling(exc: ClientError) -> bool:
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return error_code(exc) in THROTTLING_CODES or status >= 500


MISSING_RESOURCE_CODES = frozenset({
    "ResourceNotFoundException", "ResourceNotFound", "NoSuchBucket", "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue", "StateMachineDoesNotExist", "NotFoundException",
})
DENIED_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "InvalidClientTokenId",
    "ExpiredToken", "ExpiredTokenException", "KMS.AccessDeniedException", "KMSAccessDeniedException",
})


class AwsServiceUnavailable(SreCopilotError):
    """AWS kept throttling or failing after botocore's retries; the caller (SQS, Step Functions) retries later."""

    status = 503
    code = "aws_unavailable"


def raise_domain_error(exc: ClientError, *, action: str, resource: str, setting: str) -> NoReturn:
    """Re-raise an AWS error the operator can act on as a domain error; anything else unchanged.

    `setting` names the configuration that points at `resource` (e.g. SRE_COPILOT_TABLE_NAME).
    """
    code = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", "")).strip()
    if code in MISSING_RESOURCE_CODES:
        raise ConfigurationError(
            f"{resource} does not exist ({code}) while {action}; deploy the stack or fix {setting}"
        ) from exc
    if code in DENIED_CODES:
        raise ConfigurationError(
            f"not allowed to {action} on {resource} ({code}: {message}); grant the function's role that "
            f"permission or fix {setting}"
        ) from exc
    if is_throttling(exc):
        raise AwsServiceUnavailable(
            f"AWS kept failing ({code}) while {action} on {resource} after {MAX_ATTEMPTS} attempts; "
            "retry later or raise the resource's capacity"
        ) from exc
    raise exc
