"""Composition root: builds adapters from `Settings` once per process (per Lambda sandbox).

The local runtime builds a fresh container per deployment; Lambda builds one at cold start.
"""

from __future__ import annotations

import json
import time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sre_copilot.errors import ConfigurationError
from sre_copilot.settings import Settings, get_settings

if TYPE_CHECKING:  # the domain models load with the step that uses them (cold start)
    from sre_copilot.domain.action import ActionPlan
    from sre_copilot.domain.catalog import Catalog
    from sre_copilot.domain.incident import Incident
    from sre_copilot.ports.stores import Store

CATALOG_TTL_S = 60.0
SILENCES_TTL_S = 30.0


class Container:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._catalog: tuple[float, Catalog] | None = None
        self._clients: dict[str, tuple[tuple[Any, ...], Any]] = {}
        self._silences: tuple[float, list[Any]] | None = None

    # -- AWS ------------------------------------------------------------------------------------
    @cached_property
    def store(self) -> Store:
        from sre_copilot.adapters.dynamodb_store import DynamoStore

        return DynamoStore(settings=self.settings)

    @cached_property
    def blobs(self) -> Any:
        from sre_copilot.adapters.s3_blobs import S3Blobs

        return S3Blobs(settings=self.settings)

    @cached_property
    def raw_archive(self) -> Any:
        from sre_copilot.adapters.raw_archive import BlobRawArchive, FirehoseRawArchive

        if self.settings.raw_archive_stream:
            return FirehoseRawArchive(stream=self.settings.raw_archive_stream, region=self.settings.region)
        return BlobRawArchive(self.blobs)

    @cached_property
    def queue(self) -> Any:
        from sre_copilot.adapters.sqs_queue import SqsSignalQueue

        # P1's one-minute delay is the queue's DelaySeconds attribute (infra_cdk), not per message, so
        # the local runtime can apply it in simulated time.
        return SqsSignalQueue(settings=self.settings, delays={})

    @cached_property
    def bus(self) -> Any:
        from sre_copilot.adapters.eventbridge_bus import EventBridgeBus

        return EventBridgeBus(settings=self.settings)

    @cached_property
    def workflow(self) -> Any:
        from sre_copilot.adapters.stepfunctions_engine import StepFunctionsEngine

        return StepFunctionsEngine(settings=self.settings)

    def secret(self, name: str) -> dict[str, Any]:
        """Provider credentials from Secrets Manager (slack, twilio, pagerduty, llm, webhooks),
        through Powertools Parameters with `secrets_max_age_s`: a secret filled in, rotated or revoked
        after deploy takes effect within that time, without a cold start."""
        arn = getattr(self.settings, f"{name}_secret_arn", "")
        if not arn:
            return {}
        from sre_copilot.adapters.secrets import get_secret_json

        return get_secret_json(arn, settings=self.settings, max_age_s=self.settings.secrets_max_age_s)

    def _client_for(self, name: str, credentials: tuple[Any, ...], build: Any) -> Any:
        """One client per set of credentials: a rotated secret builds a new client."""
        cached = self._clients.get(name)
        if cached is None or cached[0] != credentials:
            cached = (credentials, build())
            self._clients[name] = cached
        return cached[1]

    @cached_property
    def ingest(self) -> Any:
        from sre_copilot.services.ingest_service import IngestService

        return IngestService(self)

    # -- catalog and configuration ---------------------------------------------------------------
    def catalog(self) -> Catalog:
        from sre_copilot.domain.catalog import Catalog

        now = time.monotonic()
        if self._catalog and now - self._catalog[0] < CATALOG_TTL_S:
            return self._catalog[1]
        uri = self.settings.catalog_uri or f"s3://{self.settings.bucket_name}/catalog/{self.settings.tenant_id}.json"
        try:
            document = (self.blobs.get_json(uri) if uri.startswith("s3://")
                        else json.loads(Path(uri).read_text(encoding="utf-8")))
        except Exception as exc:
            raise ConfigurationError(
                f"cannot read the service catalog at {uri} ({exc}); import one with `sre-copilot catalog import`"
            ) from exc
        catalog = Catalog.model_validate(document)
        self._catalog = (now, catalog)
        return catalog

    def silences(self) -> list[Any]:
        """Active silences, re-read at most every 30 s: a new silence takes effect within that."""
        now = time.monotonic()
        if self._silences is None or now - self._silences[0] > SILENCES_TTL_S:
            self._silences = (now, self.store.list_silences(self.settings.tenant_id))
        return list(self._silences[1])

    def priority_rules(self) -> Any:
        from sre_copilot.ingest.classify import PriorityRules

        return PriorityRules()

    def correlation_config(self) -> Any:
        from sre_copilot.correlation.config import CorrelationConfig

        return CorrelationConfig()

    def confidence_weights(self) -> Any:
        from sre_copilot.reasoning.confidence import ConfidenceWeights

        return ConfidenceWeights()

    def policy_thresholds(self) -> Any:
        from sre_copilot.reasoning.policy import PolicyThresholds

        return PolicyThresholds()

    def action_policy(self) -> Any:
        from sre_copilot.actions.gates import ActionPolicy

        # The deployment's notify-and-wait timeout (cdk.json approval_timeout_s) applies to every rule.
        policy = ActionPolicy()
        timeout = self.settings.approval_timeout_s
        return policy.model_copy(update={
            "rules": [r.model_copy(update={"approval_timeout_s": timeout}) for r in policy.rules],
            "default": policy.default.model_copy(update={"approval_timeout_s": timeout})})

    def webhook_secrets(self) -> Any:
        """Each source's verification secret from the webhook secret, under the field's own name
        (e.g. `alertmanager_bearer`, `datadog_basic` as [user, pw]); PagerDuty's signing secrets as
        `pagerduty_webhook_secrets`. The internet-facing functions read only this secret, never an API
        token; PagerDuty's own secret is read as a fallback only where a function may read it."""
        from dataclasses import fields

        from sre_copilot.ingest.auth import WebhookSecrets

        hooks = self.secret("webhook")
        values: dict[str, Any] = {}
        for f in fields(WebhookSecrets):
            if f.name == "pagerduty" or f.name not in hooks:
                continue
            value = hooks[f.name]
            values[f.name] = tuple(value) if isinstance(value, list) else value
        pagerduty = list(hooks.get("pagerduty_webhook_secrets") or [])
        if not pagerduty and self.settings.pagerduty_secret_arn:
            pd = self.secret("pagerduty")
            pagerduty = pd.get("webhook_secrets") or ([pd["webhook_secret"]] if pd.get("webhook_secret") else [])
        return WebhookSecrets(pagerduty=[str(p) for p in pagerduty if p], **values)

    def auth_policy(self) -> Any:
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
    def _sns_verifier(self) -> Any:
        from sre_copilot.ingest.auth import SnsVerifier

        return SnsVerifier()

    def sns_verifier(self) -> Any:
        # Always verified; only cloudwatch-sns in insecure_sources (development) skips it.
        return self._sns_verifier

    def controls(self) -> Any:
        """The run-time controls (kill switch, disabled services, freezes, approvers), <= 60 s old."""
        from sre_copilot.runtime_settings import current_controls

        return current_controls(self.settings)

    # -- knowledge --------------------------------------------------------------------------------
    @cached_property
    def embedder(self) -> Any:
        if self.settings.opensearch_endpoint:
            # In AWS: Bedrock embeddings for the OpenSearch Serverless collection.
            from sre_copilot.adapters.opensearch_index import BedrockEmbedder

            return BedrockEmbedder(region=self.settings.region)
        from sre_copilot.reasoning.vectors import HashingEmbedder

        return HashingEmbedder()

    @cached_property
    def vector_index(self) -> Any:
        if self.settings.opensearch_endpoint:
            from sre_copilot.adapters.opensearch_index import OpenSearchVectorIndex

            return OpenSearchVectorIndex(endpoint=self.settings.opensearch_endpoint, region=self.settings.region)
        from sre_copilot.reasoning.vectors import LocalVectorIndex

        return LocalVectorIndex(path=self.settings.vector_index_path or None)

    def runbooks(self) -> Any:
        return self._runbooks

    @cached_property
    def _runbooks(self) -> Any:
        from sre_copilot.reasoning.recommend import RunbookIndex

        return RunbookIndex(index=self.vector_index, embedder=self.embedder, tenant_id=self.settings.tenant_id)

    def precedents(self) -> Any:
        from sre_copilot.reasoning.evidence import VectorPrecedents

        return VectorPrecedents(index=self.vector_index, embedder=self.embedder, tenant_id=self.settings.tenant_id)

    def index_precedent(self, incident: Incident) -> None:
        self.precedents().add(incident)

    def assistant(self) -> Any:
        if self.settings.llm_provider == "none":
            return None
        from sre_copilot.adapters.anthropic_assistant import AnthropicAssistant

        return AnthropicAssistant.from_settings(self.settings, self.secret("llm"))

    def metrics_reader(self) -> Any:
        return self._metrics_reader

    @cached_property
    def _metrics_reader(self) -> Any:
        from sre_copilot.adapters import aws_clients
        from sre_copilot.adapters.cloudwatch_metrics import CloudWatchMetrics

        return CloudWatchMetrics(aws_clients.client("cloudwatch", self.settings.region))

    @cached_property
    def _risk_budget(self) -> Any:
        from sre_copilot.adapters.dynamodb_risk_budget import RiskBudgetLedger

        return RiskBudgetLedger(self.store.client, self.store.table_name)

    def risk_budget(self) -> Any:
        return self._risk_budget

    def alarm_states(self, names: list[str]) -> dict[str, str]:
        """CloudWatch alarm states by name (verification by recovery); alarms it does not know are absent."""
        from sre_copilot.adapters import aws_clients
        from sre_copilot.adapters.cloudwatch_alarms import CloudWatchAlarms

        return CloudWatchAlarms(aws_clients.client("cloudwatch", self.settings.region)).states(names)

    # -- people and actions --------------------------------------------------------------------
    def slack(self) -> Any:
        from sre_copilot.adapters.slack_notifier import SlackNotifier

        token = self.secret("slack").get("bot_token", "")
        return self._client_for("slack", (token,), lambda: SlackNotifier(
            token=token, base_url=self.settings.slack_api_url or None))

    def pager(self) -> Any:
        from sre_copilot.adapters.twilio_pager import TwilioPager

        twilio = self.secret("twilio")
        creds = (twilio.get("account_sid", ""), twilio.get("auth_token", ""), twilio.get("from_number", ""))
        return self._client_for("twilio", creds, lambda: TwilioPager(
            account_sid=creds[0], auth_token=creds[1], from_number=creds[2],
            base_url=self.settings.twilio_api_url or None))

    def pagerduty(self) -> Any:
        from sre_copilot.adapters.pagerduty_client import PagerDutyClient

        pd = self.secret("pagerduty")
        creds = (pd.get("api_token", ""), pd.get("from_email", ""))
        return self._client_for("pagerduty", creds, lambda: PagerDutyClient(
            api_token=creds[0], from_email=creds[1], base_url=self.settings.pagerduty_api_url))

    @property
    def _kubernetes(self) -> Any:
        from sre_copilot.adapters.k8s_executor import KubernetesExecutor

        # EKS: a presigned STS token (`aws eks get-token`) for the cluster named in settings or the
        # secret; any other cluster: the bearer token in the kubernetes secret. Rebuilt when the
        # secret's values change (rotation takes effect within the secrets' max age).
        secret = self.secret("kubernetes")
        host = secret.get("host") or self.settings.kubernetes_api_url
        cluster = secret.get("eks_cluster") or self.settings.eks_cluster_name
        creds = (host, secret.get("token"), cluster, secret.get("ca_data"))

        def build() -> Any:
            token_source = None
            if cluster:
                from sre_copilot.adapters.eks_auth import EksTokenSource

                token_source = EksTokenSource(str(cluster), self.settings.region)
            ca_path = None
            if secret.get("ca_data"):
                import base64
                import tempfile

                with tempfile.NamedTemporaryFile("wb", suffix=".crt", delete=False) as ca:
                    ca.write(base64.b64decode(secret["ca_data"]))
                ca_path = ca.name
            return KubernetesExecutor(host=host, token=secret.get("token"), token_source=token_source,
                                      ca_cert_path=ca_path)

        return self._client_for("kubernetes", creds, build)

    @cached_property
    def _aws_executor(self) -> Any:
        from sre_copilot.adapters import aws_clients
        from sre_copilot.adapters.aws_executor import AwsExecutor

        return AwsExecutor(lambda service: aws_clients.client(service, self.settings.region))

    def executor_for(self, plan: ActionPlan) -> Any:
        for executor in (self._kubernetes, self._aws_executor):
            if executor.supports(plan):
                return executor
        raise ConfigurationError(f"no executor supports {plan.action} on {plan.target}")

    def slack_channel_for(self, incident: Incident) -> str:
        service = self.catalog().service(incident.service) if incident.service else None
        configured = service.oncall.get("slack") if service else None
        return configured or f"#inc-{incident.service or 'triage'}"

    def oncall_phone_for(self, incident: Incident) -> str:
        service = self.catalog().service(incident.service) if incident.service else None
        if service and service.oncall.get("phone"):
            return service.oncall["phone"]
        return str(self.secret("twilio").get("default_oncall", "+15550100"))


_container: Container | None = None


def get_container() -> Container:
    global _container
    if _container is None:
        _container = Container()
    return _container


def set_container(container: Container | None) -> None:
    global _container
    _container = container
