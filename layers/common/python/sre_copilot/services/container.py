"""Composition root: the ports every service uses, wired from `Settings` once per Lambda sandbox.

`Dependencies` is a frozen dataclass whose fields are the port Protocols (`ports/`): the store, the
blobs, the queues, the bus, the workflow engines, the secrets, the clock, the knowledge index, and
providers of the people-facing clients. Services receive it and call nothing but those Protocols,
so mypy checks every call a service makes on an adapter. `Container(settings)` wires the AWS
adapters (boto3 on AWS; moto or the memory backend locally, through `adapters/aws_clients`).

A provider (`Callable[[], Port]`) stands where the adapter must be rebuilt when a secret rotates
(Slack, Twilio, PagerDuty, Kubernetes), where configuration is re-read on a TTL (catalog, silences,
run-time controls), or where building it costs a cold start most functions never need (the LLM,
CloudWatch, the vector index's runbooks).

Routing policy (channel, phone, approval timeout) is not here: it is `domain/routing.py`.
"""

from __future__ import annotations

import base64
import json
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sre_copilot.errors import ConfigurationError
from sre_copilot.ports.clock import Clock, current_clock
from sre_copilot.ports.executors import ActionExecutor, AlarmStates, MetricsReader
from sre_copilot.ports.knowledge import Embedder, HypothesisAssistant, Precedents, VectorIndex
from sre_copilot.ports.messaging import EventBus, SignalQueue, WorkflowEngine
from sre_copilot.ports.notifiers import ChatNotifier, IncidentManagementSync, PhonePager
from sre_copilot.ports.secrets import SecretSource
from sre_copilot.ports.stores import BlobStore, RawArchive, RiskBudget, Store
from sre_copilot.services.tenancy import PerTenant
from sre_copilot.settings import Settings, get_settings

if TYPE_CHECKING:  # the domain models load with the step that uses them (cold start)
    from sre_copilot.actions.policy import ActionPolicy
    from sre_copilot.correlation.config import CorrelationConfig
    from sre_copilot.domain.action import ActionPlan
    from sre_copilot.domain.catalog import Catalog
    from sre_copilot.domain.incident import Incident
    from sre_copilot.ingest.auth import AuthPolicy, SnsVerifier, WebhookSecrets
    from sre_copilot.ingest.classify import PriorityRules
    from sre_copilot.ingest.silences import Silence
    from sre_copilot.reasoning.calibrated import ConfidenceCalibration
    from sre_copilot.reasoning.confidence import ConfidenceWeights
    from sre_copilot.reasoning.policy import PolicyThresholds
    from sre_copilot.reasoning.recommend import RunbookIndex
    from sre_copilot.runtime_settings import RuntimeControls
    from sre_copilot.services.ingest_service import IngestService
    from sre_copilot.services.warm_engine import WarmEngines

CATALOG_TTL_S = 60.0
SILENCES_TTL_S = 30.0
DEFAULT_ONCALL = "+15550100"
"""The number an incident pages when neither its service nor the twilio secret names one."""

Credentials = tuple[object, ...]


class Once[T]:
    """A provider that builds its value on first use and then returns that same value."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: tuple[T] | None = None

    def __call__(self) -> T:
        if self._value is None:
            self._value = (self._build(),)
        return self._value[0]


class PerCredentials[T]:
    """A provider that rebuilds its client when the secret's credentials change (rotation takes
    effect within the secrets' max age, without a cold start)."""

    def __init__(self, credentials: Callable[[], Credentials], build: Callable[[Credentials], T]) -> None:
        self._credentials = credentials
        self._build = build
        self._cached: tuple[Credentials, T] | None = None

    def __call__(self) -> T:
        credentials = self._credentials()
        if self._cached is None or self._cached[0] != credentials:
            self._cached = (credentials, self._build(credentials))
        return self._cached[1]


class Ttl[T]:
    """A provider that re-reads its value at most every `ttl_s` seconds (monotonic time)."""

    def __init__(self, ttl_s: float, read: Callable[[], T]) -> None:
        self.ttl_s = ttl_s
        self._read = read
        self._cached: tuple[float, T] | None = None

    def __call__(self) -> T:
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] >= self.ttl_s:
            self._cached = (now, self._read())
        return self._cached[1]

    def invalidate(self) -> None:
        self._cached = None


class ProcessClock:
    """The process's clock as `ports.clock` has it now: the local runtime installs its simulated
    clock after the dependencies are built, so this reads it at each call."""

    def now(self) -> datetime:
        return current_clock().now()


@dataclass(frozen=True, eq=False, kw_only=True)
class Dependencies:
    """Everything a service may call, as ports. Frozen: the wiring never changes after cold start."""

    settings: Settings
    store: Store
    blobs: BlobStore
    queue: SignalQueue
    bus: EventBus
    workflow: WorkflowEngine
    """The incident workflow (statemachines/incident.asl.json)."""
    escalation_workflow: WorkflowEngine
    """The paging workflow (statemachines/escalation.asl.json)."""
    analysis_workflow: WorkflowEngine
    """The analysis pass (statemachines/analysis.asl.json), started directly for a re-analysis."""
    secret: SecretSource
    raw_archive: Callable[[], RawArchive]
    """Raw deliveries: a Firehose stream in AWS (batched to S3), else one S3 object each."""
    clock: Clock = field(default_factory=ProcessClock)
    embedder: Embedder
    vector_index: VectorIndex
    slack: Callable[[], ChatNotifier]
    pager: Callable[[], PhonePager]
    pagerduty: Callable[[], IncidentManagementSync]
    executors: Callable[[], Iterable[ActionExecutor]]
    """Kubernetes first, then AWS: the first that supports a plan runs it."""
    assistant: Callable[[], HypothesisAssistant | None]
    """The LLM that proposes hypotheses; None when no LLM is configured (everything still works)."""
    metrics_reader: Callable[[], MetricsReader]
    alarms: Callable[[], AlarmStates]
    risk_budget: Callable[[], RiskBudget]
    runbooks: Callable[[], RunbookIndex]
    precedents: Callable[[], Precedents]
    catalog: Callable[[], Catalog]
    """The service catalog of the current tenant (services/tenancy.py), re-read at most every 60 s."""
    silences: Callable[[], list[Silence]]
    """The current tenant's active silences, re-read at most every 30 s: a new silence takes effect
    within that."""
    controls: Callable[[], RuntimeControls]
    """The run-time controls (kill switch, disabled services, freezes, approvers), <= 60 s old.
    Raises ConfigurationError when they cannot be read: callers then refuse to act (fail closed)."""

    # -- derived from the ports above -------------------------------------------------------------
    def executor_for(self, plan: ActionPlan) -> ActionExecutor:
        for executor in self.executors():
            if executor.supports(plan):
                return executor
        raise ConfigurationError(f"no executor supports {plan.action} on {plan.target}")

    def alarm_states(self, names: list[str]) -> dict[str, str]:
        """CloudWatch alarm states by name (verification by recovery); alarms it does not know are absent."""
        return self.alarms().states(names)

    def index_precedent(self, incident: Incident) -> None:
        self.precedents().add(incident)

    def default_oncall_phone(self) -> str:
        return str(self.secret("twilio").get("default_oncall") or DEFAULT_ONCALL)

    # -- configuration (domain models built from settings and secrets) ---------------------------
    def priority_rules(self) -> PriorityRules:
        from sre_copilot.ingest.classify import PriorityRules

        return PriorityRules()

    def correlation_config(self) -> CorrelationConfig:
        from sre_copilot.correlation.config import CorrelationConfig

        return CorrelationConfig()

    def confidence_weights(self) -> ConfidenceWeights:
        from sre_copilot.reasoning.confidence import ConfidenceWeights

        return self.confidence_calibration().weights or ConfidenceWeights()

    def confidence_calibration(self) -> ConfidenceCalibration:
        """The deployed calibration record (settings); the identity when none was applied."""
        from sre_copilot.reasoning.calibrated import parse_calibration

        return parse_calibration(self.settings.confidence_calibration)

    def policy_thresholds(self) -> PolicyThresholds:
        from sre_copilot.reasoning.policy import PolicyThresholds

        return PolicyThresholds()

    def action_policy(self) -> ActionPolicy:
        from sre_copilot.actions.policy import ActionPolicy
        from sre_copilot.domain.routing import with_approval_timeout

        return with_approval_timeout(ActionPolicy(), self.settings.approval_timeout_s)

    def webhook_secrets(self) -> WebhookSecrets:
        """Each source's verification secret from the webhook secret, under the field's own name
        (e.g. `alertmanager_bearer`, `datadog_basic` as [user, pw]); PagerDuty's signing secrets as
        `pagerduty_webhook_secrets`. The internet-facing functions read only this secret, never an API
        token; PagerDuty's own secret is read as a fallback only where a function may read it."""
        from sre_copilot.ingest.auth import WebhookSecrets

        hooks = self.secret("webhook")
        values: dict[str, object] = {}
        for f in fields(WebhookSecrets):
            if f.name == "pagerduty" or f.name not in hooks:
                continue
            value = hooks[f.name]
            values[f.name] = tuple(value) if isinstance(value, list) else value
        pagerduty = _strings(hooks.get("pagerduty_webhook_secrets"))
        if not pagerduty and self.settings.pagerduty_secret_arn:
            pd = self.secret("pagerduty")
            pagerduty = _strings(pd.get("webhook_secrets")) or _strings([pd.get("webhook_secret")])
        # The secret's fields are checked by WebhookSecrets' own types where they are used.
        return WebhookSecrets(pagerduty=pagerduty, **values)  # type: ignore[arg-type]

    def auth_policy(self) -> AuthPolicy:
        from sre_copilot.ingest.auth import AuthPolicy

        return AuthPolicy(insecure_sources=self.settings.insecure_source_set(),
                          changes_scheme=self.settings.changes_auth,
                          sns_topic_arns=self.settings.sns_topic_set(),
                          replay_window_s=float(self.settings.replay_window_s))

    def slack_signing_secret(self) -> str:
        """Slack's request-signing secret: the webhook secret's `slack_signing_secret`, else (older
        deployments) the Slack secret's `signing_secret`. Empty means Slack callbacks are refused."""
        value = self.secret("webhook").get("slack_signing_secret")
        if not value and self.settings.slack_secret_arn:
            value = self.secret("slack").get("signing_secret")
        return str(value or "")

    @cached_property
    def _sns_verifier(self) -> SnsVerifier:
        from sre_copilot.ingest.auth import SnsVerifier

        return SnsVerifier()

    def sns_verifier(self) -> SnsVerifier:
        # Always verified; only cloudwatch-sns in insecure_sources (development) skips it.
        return self._sns_verifier


def _strings(value: object) -> list[str]:
    return [str(v) for v in value if v] if isinstance(value, list) else []


class Container(Dependencies):
    """The dependencies wired from `Settings`: `Container()` in a Lambda (through `get_container`),
    `Container(settings)` in tests and the local runtime. Keyword arguments replace one adapter
    (a test's store under test)."""

    def __init__(self, settings: Settings | None = None, *, store: Store | None = None,
                 blobs: BlobStore | None = None) -> None:
        settings = settings or get_settings()
        from sre_copilot.adapters.dynamodb_store import DynamoStore
        from sre_copilot.adapters.eventbridge_bus import EventBridgeBus
        from sre_copilot.adapters.s3_blobs import S3Blobs
        from sre_copilot.adapters.sqs_queue import SqsSignalQueue
        from sre_copilot.adapters.stepfunctions_engine import StepFunctionsEngine

        secret = _Secrets(settings)
        blobs = blobs or (store.blobs if isinstance(store, DynamoStore) else S3Blobs(settings=settings))
        store = store or DynamoStore(settings=settings, blobs=blobs if isinstance(blobs, S3Blobs) else None)
        workflow = StepFunctionsEngine(settings=settings)
        # Per tenant: the tenant of the record being handled (services/tenancy.py).
        tenant = settings.tenant_id
        catalog = PerTenant(tenant, lambda t: Ttl(CATALOG_TTL_S, lambda: _read_catalog(settings, blobs, t)))
        silences = PerTenant(tenant, lambda t: Ttl(SILENCES_TTL_S, lambda: list(store.list_silences(t))))
        embedder = _embedder(settings)
        vector_index = _vector_index(settings)
        super().__init__(
            settings=settings, store=store, blobs=blobs,
            # P1's one-minute delay is the queue's DelaySeconds attribute (infra_cdk), not per
            # message, so the local runtime can apply it in simulated time.
            queue=SqsSignalQueue(settings=settings, delays={}),
            bus=EventBridgeBus(settings=settings),
            workflow=workflow,
            # The same process-wide Step Functions client (adapters/aws_clients), another state machine.
            escalation_workflow=StepFunctionsEngine(settings=settings,
                                                    state_machine_arn=settings.escalation_state_machine_arn),
            analysis_workflow=StepFunctionsEngine(settings=settings,
                                                  state_machine_arn=settings.analysis_state_machine_arn),
            secret=secret, embedder=embedder, vector_index=vector_index,
            raw_archive=Once(lambda: _raw_archive(settings, blobs)),
            slack=_slack(settings, secret), pager=_pager(settings, secret),
            pagerduty=_pagerduty(settings, secret),
            executors=_executors(settings, secret),
            assistant=lambda: _assistant(settings, secret),
            metrics_reader=Once(lambda: _cloudwatch_metrics(settings)),
            alarms=lambda: _cloudwatch_alarms(settings),
            risk_budget=Once(lambda: _risk_budget(store)),
            runbooks=PerTenant(tenant, lambda t: Once(lambda: _runbooks(vector_index, embedder, t))),
            precedents=PerTenant(tenant, lambda t: lambda: _precedents(vector_index, embedder, t)),
            catalog=catalog,
            # A copy each time: a caller that filters the list must not change the cached one.
            silences=lambda: list(silences()),
            controls=lambda: _controls(settings),
        )
        object.__setattr__(self, "_catalog_cache", catalog)

    @cached_property
    def warm_engines(self) -> WarmEngines:
        """The correlation engine this process saved last, per tenant (services/warm_engine.py)."""
        from sre_copilot.services.warm_engine import WarmEngines

        return WarmEngines()

    @cached_property
    def ingest(self) -> IngestService:
        # cached_property writes the instance's __dict__ directly, so it works on a frozen dataclass.
        from sre_copilot.services.ingest_service import IngestService

        return IngestService(self)

    @property
    def _catalog(self) -> None:
        return None

    @_catalog.setter
    def _catalog(self, value: None) -> None:
        """`container._catalog = None` (the local runtime after importing a catalog): re-read it."""
        self._catalog_cache.invalidate()

    _catalog_cache: PerTenant[Catalog]


# -- wiring: one function per adapter, imported only when first used (cold start) -----------------
class _Secrets:
    """Provider credentials from Secrets Manager (slack, twilio, pagerduty, llm, webhook,
    kubernetes), through Powertools Parameters with `secrets_max_age_s`: a secret filled in, rotated
    or revoked after deploy takes effect within that time, without a cold start."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, name: str) -> dict[str, object]:
        arn = getattr(self.settings, f"{name}_secret_arn", "")
        if not arn:
            return {}
        from sre_copilot.adapters.secrets import get_secret_json

        return dict(get_secret_json(arn, settings=self.settings, max_age_s=self.settings.secrets_max_age_s))


def _read_catalog(settings: Settings, blobs: BlobStore, tenant_id: str) -> Catalog:
    from sre_copilot.domain.catalog import Catalog

    # catalog_uri names the deployment tenant's catalog (or every tenant's, with a {tenant} in it).
    configured = settings.catalog_uri if tenant_id == settings.tenant_id or "{tenant}" in settings.catalog_uri else ""
    uri = (configured.replace("{tenant}", tenant_id)
           or f"s3://{settings.bucket_name}/catalog/{tenant_id}.json")
    try:
        document = (blobs.get_json(uri) if uri.startswith("s3://")
                    else json.loads(Path(uri).read_text(encoding="utf-8")))
    except Exception as exc:
        raise ConfigurationError(
            f"cannot read the service catalog at {uri} ({exc}); import one with `sre-copilot catalog import`"
        ) from exc
    return Catalog.model_validate(document)


def _controls(settings: Settings) -> RuntimeControls:
    from sre_copilot.runtime_settings import current_controls

    return current_controls(settings)


def _embedder(settings: Settings) -> Embedder:
    if settings.opensearch_endpoint:
        # In AWS: Bedrock embeddings for the OpenSearch Serverless collection.
        from sre_copilot.adapters.opensearch_index import BedrockEmbedder

        return BedrockEmbedder(region=settings.region)
    from sre_copilot.reasoning.vectors import HashingEmbedder

    return HashingEmbedder()


def _vector_index(settings: Settings) -> VectorIndex:
    if settings.opensearch_endpoint:
        from sre_copilot.adapters.opensearch_index import OpenSearchVectorIndex

        return OpenSearchVectorIndex(endpoint=settings.opensearch_endpoint, region=settings.region)
    from sre_copilot.reasoning.vectors import LocalVectorIndex

    return LocalVectorIndex(path=settings.vector_index_path or None)


def _runbooks(index: VectorIndex, embedder: Embedder, tenant_id: str) -> RunbookIndex:
    from sre_copilot.reasoning.recommend import RunbookIndex

    return RunbookIndex(index=index, embedder=embedder, tenant_id=tenant_id)


def _raw_archive(settings: Settings, blobs: BlobStore) -> RawArchive:
    from sre_copilot.adapters.raw_archive import BlobRawArchive, FirehoseRawArchive

    if settings.raw_archive_stream:
        return FirehoseRawArchive(stream=settings.raw_archive_stream, region=settings.region)
    return BlobRawArchive(blobs)


def _precedents(index: VectorIndex, embedder: Embedder, tenant_id: str) -> Precedents:
    from sre_copilot.reasoning.evidence import VectorPrecedents

    return VectorPrecedents(index=index, embedder=embedder, tenant_id=tenant_id)


def _assistant(settings: Settings, secret: SecretSource) -> HypothesisAssistant | None:
    if settings.llm_provider == "none":
        return None
    from sre_copilot.adapters.anthropic_assistant import AnthropicAssistant

    return AnthropicAssistant.from_settings(settings, secret("llm"))


def _cloudwatch_metrics(settings: Settings) -> MetricsReader:
    from sre_copilot.adapters import aws_clients
    from sre_copilot.adapters.cloudwatch_metrics import CloudWatchMetrics

    return CloudWatchMetrics(aws_clients.client("cloudwatch", settings.region))


def _cloudwatch_alarms(settings: Settings) -> AlarmStates:
    from sre_copilot.adapters import aws_clients
    from sre_copilot.adapters.cloudwatch_alarms import CloudWatchAlarms

    return CloudWatchAlarms(aws_clients.client("cloudwatch", settings.region))


def _risk_budget(store: Store) -> RiskBudget:
    from sre_copilot.adapters.dynamodb_risk_budget import RiskBudgetLedger

    return RiskBudgetLedger(store.client, store.table_name)


def _text(secret: dict[str, object], key: str) -> str:
    return str(secret.get(key) or "")


def _slack(settings: Settings, secret: SecretSource) -> PerCredentials[ChatNotifier]:
    def build(credentials: Credentials) -> ChatNotifier:
        from sre_copilot.adapters.slack_notifier import SlackNotifier

        return SlackNotifier(token=str(credentials[0]), base_url=settings.slack_api_url or None)

    return PerCredentials(lambda: (_text(secret("slack"), "bot_token"),), build)


def _pager(settings: Settings, secret: SecretSource) -> PerCredentials[PhonePager]:
    def credentials() -> Credentials:
        twilio = secret("twilio")
        return (_text(twilio, "account_sid"), _text(twilio, "auth_token"), _text(twilio, "from_number"))

    def build(creds: Credentials) -> PhonePager:
        from sre_copilot.adapters.twilio_pager import TwilioPager

        return TwilioPager(account_sid=str(creds[0]), auth_token=str(creds[1]), from_number=str(creds[2]),
                           base_url=settings.twilio_api_url or None)

    return PerCredentials(credentials, build)


def _pagerduty(settings: Settings, secret: SecretSource) -> PerCredentials[IncidentManagementSync]:
    def credentials() -> Credentials:
        pd = secret("pagerduty")
        return (_text(pd, "api_token"), _text(pd, "from_email"))

    def build(creds: Credentials) -> IncidentManagementSync:
        from sre_copilot.adapters.pagerduty_client import PagerDutyClient

        return PagerDutyClient(api_token=str(creds[0]), from_email=str(creds[1]),
                               base_url=settings.pagerduty_api_url)

    return PerCredentials(credentials, build)


def _executors(settings: Settings, secret: SecretSource) -> Callable[[], list[ActionExecutor]]:
    # EKS: a presigned STS token (`aws eks get-token`) for the cluster named in settings or the
    # secret; any other cluster: the bearer token in the kubernetes secret. Rebuilt when the
    # secret's values change (rotation takes effect within the secrets' max age).
    def credentials() -> Credentials:
        k8s = secret("kubernetes")
        return (k8s.get("host") or settings.kubernetes_api_url, k8s.get("token"),
                k8s.get("eks_cluster") or settings.eks_cluster_name, k8s.get("ca_data"))

    def build(creds: Credentials) -> ActionExecutor:
        from sre_copilot.adapters.k8s_executor import KubernetesExecutor

        host, token, cluster, ca_data = creds
        token_source = None
        if cluster:
            from sre_copilot.adapters.eks_auth import EksTokenSource

            token_source = EksTokenSource(str(cluster), settings.region)
        ca_path = None
        if ca_data:
            with tempfile.NamedTemporaryFile("wb", suffix=".crt", delete=False) as ca:
                ca.write(base64.b64decode(str(ca_data)))
            ca_path = ca.name
        return KubernetesExecutor(host=str(host or ""), token=str(token) if token else None,
                                  token_source=token_source, ca_cert_path=ca_path)

    kubernetes = PerCredentials(credentials, build)

    def aws() -> ActionExecutor:
        from sre_copilot.adapters import aws_clients
        from sre_copilot.adapters.aws_executor import AwsExecutor

        return AwsExecutor(lambda service: aws_clients.client(service, settings.region))

    aws_executor = Once(aws)
    return lambda: [kubernetes(), aws_executor()]


# -- one per Lambda sandbox -----------------------------------------------------------------------
_container: Container | None = None


def get_container() -> Container:
    """This sandbox's dependencies, built at the first invocation (cold start) and then reused."""
    global _container
    if _container is None:
        _container = Container()
    return _container


def set_container(container: Container | None) -> None:
    """Install (the local runtime, per deployment) or drop (None) this process's dependencies."""
    global _container
    _container = container
