"""Composition root: builds adapters from `Settings` once per process (per Lambda sandbox).

The local runtime builds a fresh container per deployment; Lambda builds one at cold start.
"""

from __future__ import annotations

import json
import time
from functools import cached_property
from pathlib import Path
from typing import Any

from sre_copilot.domain.action import ActionPlan
from sre_copilot.domain.catalog import Catalog
from sre_copilot.domain.incident import Incident
from sre_copilot.errors import ConfigurationError
from sre_copilot.settings import Settings, get_settings

CATALOG_TTL_S = 60.0
SILENCES_TTL_S = 30.0


class Container:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._catalog: tuple[float, Catalog] | None = None
        self._secrets: dict[str, dict[str, Any]] = {}
        self._silences: tuple[float, list[Any]] | None = None

    # -- AWS ------------------------------------------------------------------------------------
    @cached_property
    def store(self) -> Any:
        from sre_copilot.adapters.dynamodb_store import DynamoStore

        return DynamoStore(settings=self.settings)

    @cached_property
    def blobs(self) -> Any:
        from sre_copilot.adapters.s3_blobs import S3Blobs

        return S3Blobs(settings=self.settings)

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
        """Provider credentials from Secrets Manager (slack, twilio, pagerduty, llm, webhooks)."""
        if name not in self._secrets:
            arn = getattr(self.settings, f"{name}_secret_arn", "")
            if not arn:
                self._secrets[name] = {}
            else:
                from sre_copilot.adapters.secrets import get_secret_json

                self._secrets[name] = get_secret_json(arn)
        return self._secrets[name]

    @cached_property
    def ingest(self) -> Any:
        from sre_copilot.services.ingest_service import IngestService

        return IngestService(self)

    # -- catalog and configuration ---------------------------------------------------------------
    def catalog(self) -> Catalog:
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
        """Each source's shared secret: PagerDuty's from its own secret, the rest from the webhook
        secret under the field's own name (e.g. `alertmanager_bearer`, `datadog_basic` as [user, pw])."""
        from dataclasses import fields

        from sre_copilot.ingest.auth import WebhookSecrets

        pd = self.secret("pagerduty")
        hooks = self.secret("webhook")
        values: dict[str, Any] = {}
        for f in fields(WebhookSecrets):
            if f.name == "pagerduty" or f.name not in hooks:
                continue
            value = hooks[f.name]
            values[f.name] = tuple(value) if isinstance(value, list) else value
        pagerduty = pd.get("webhook_secrets") or ([pd["webhook_secret"]] if pd.get("webhook_secret") else [])
        return WebhookSecrets(pagerduty=list(pagerduty), **values)

    @cached_property
    def _sns_verifier(self) -> Any:
        from sre_copilot.ingest.auth import SnsVerifier

        return SnsVerifier()

    def sns_verifier(self) -> Any:
        return self._sns_verifier if self.secret("webhook").get("verify_sns", True) else None

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

        return RunbookIndex(index=self.vector_index, embedder=self.embedder)

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

    # -- people and actions --------------------------------------------------------------------
    def slack(self) -> Any:
        return self._slack

    @cached_property
    def _slack(self) -> Any:
        from sre_copilot.adapters.slack_notifier import SlackNotifier

        return SlackNotifier(token=self.secret("slack").get("bot_token", ""), base_url=self.settings.slack_api_url or None)

    def pager(self) -> Any:
        return self._pager

    @cached_property
    def _pager(self) -> Any:
        from sre_copilot.adapters.twilio_pager import TwilioPager

        twilio = self.secret("twilio")
        return TwilioPager(account_sid=twilio.get("account_sid", ""), auth_token=twilio.get("auth_token", ""),
                           from_number=twilio.get("from_number", ""), base_url=self.settings.twilio_api_url or None)

    def pagerduty(self) -> Any:
        return self._pagerduty

    @cached_property
    def _pagerduty(self) -> Any:
        from sre_copilot.adapters.pagerduty_client import PagerDutyClient

        pd = self.secret("pagerduty")
        return PagerDutyClient(api_token=pd.get("api_token", ""), from_email=pd.get("from_email", ""),
                               base_url=self.settings.pagerduty_api_url)

    @cached_property
    def _kubernetes(self) -> Any:
        from sre_copilot.adapters.k8s_executor import KubernetesExecutor

        return KubernetesExecutor(host=self.secret("kubernetes").get("host") or self.settings.kubernetes_api_url,
                                  token=self.secret("kubernetes").get("token"))

    def executor_for(self, plan: ActionPlan) -> Any:
        executor = self._kubernetes
        if not executor.supports(plan):
            raise ConfigurationError(f"no executor supports {plan.action} on {plan.target}")
        return executor

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
