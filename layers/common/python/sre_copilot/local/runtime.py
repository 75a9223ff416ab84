"""The embedded backend: the deployment CDK describes, stood up in moto, driven by a simulated clock.

`LocalDeployment` creates the tables, bucket, queues (with DLQs), bus and rules, secrets, Lambda
functions and the state machine from `statemachines/incident.asl.json`, registers our real
handlers for in-process dispatch, and emulates the Lambda service's event sources: SQS polling with
batch sizes, batching windows, delivery delay, partial batch failures and redrive to the DLQ after
maxReceiveCount; EventBridge rule deliveries; the every-minute sweeper schedule.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

from sre_copilot.deployment_routes import BUS_ROUTES, QueueRoute
from sre_copilot.local.clock import SimClock
from sre_copilot.local.moto_patches import (
    MOTO_CONFIG,
    ExecutionActivity,
    InProcessLambdas,
    backend_execution_history,
    eventbridge_lambda_targets,
    executions_in_turn,
    in_process_lambda,
    moto_speedups,
)
from sre_copilot.local.seeded_ids import derived_task_tokens
from sre_copilot.workflow_definition import (
    ANALYSIS_ASL,
    INCIDENT_ASL,
    substitute,
    task_functions,
    workflow_functions,
)

REPO_ROOT = Path(__file__).resolve().parents[5]
ASL_PATH = REPO_ROOT / INCIDENT_ASL
ANALYSIS_ASL_PATH = REPO_ROOT / ANALYSIS_ASL
FUNCTIONS_DIR = REPO_ROOT / "functions"
REGION = "us-east-1"
ACCOUNT = "123456789012"
LOCAL_API = "https://sre-copilot.local"
RAW_ARCHIVE_STREAM = "sre-copilot-raw-archive"

ASL_FUNCTIONS = workflow_functions(REPO_ROOT)
ESCALATION_ASL_PATH = REPO_ROOT / "statemachines" / "escalation.asl.json"
ESCALATION_FUNCTIONS = task_functions(ESCALATION_ASL_PATH.read_text())
CDK_CONFIG_PATH = REPO_ROOT / "infra_cdk" / "config.py"
OTHER_FUNCTIONS = ("ingest", "correlate", "callbacks", "approval_sweeper", "pagerduty_sync")


def deployment_config(overrides: dict[str, Any] | None = None) -> Any:
    """`cdk.json`'s context, validated by the CDK app's own pydantic model (`infra_cdk/config.py`,
    which needs no CDK import): the embedded deployment takes its queues and event source
    mappings from the same description `cdk deploy` does."""
    name = "sre_copilot_local_deployment_config"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, CDK_CONFIG_PATH)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(f"the CDK app's configuration model is missing: {CDK_CONFIG_PATH}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # pydantic resolves the model's annotations in its module
        spec.loader.exec_module(module)
    context = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    return module.load_config({**context, **(overrides or {})})


BEHAVIOUR_SETTINGS = ("approval_timeout_s", "approval_expiry_s", "auto_resolve_after_s", "resolution_policy")
"""cdk.json keys the stack passes to every function unchanged (`SRE_COPILOT_<KEY>`), and so does the
embedded deployment. Its deliberate differences from a deployed stage are elsewhere: dry run off,
the insecure sources of a dev stage, local endpoints for Slack, Twilio, PagerDuty and Kubernetes."""


def behaviour_settings(config: Any) -> dict[str, str]:
    return {f"SRE_COPILOT_{key.upper()}": str(getattr(config, key)) for key in BEHAVIOUR_SETTINGS}


LOCAL_SECRETS: dict[str, dict[str, Any]] = {
    "pagerduty": {"webhook_secrets": ["local-pagerduty-webhook-secret"], "api_token": "local-pd-token",
                  "from_email": "copilot@example.com"},
    "slack": {"bot_token": "xoxb-local", "signing_secret": "local-slack-signing-secret", "approvers": ["U0LOCAL"]},
    "twilio": {"account_sid": "AC00000000000000000000000000000000", "auth_token": "local-twilio-token",
               "from_number": "+15550000", "default_oncall": "+15550100", "secondary_oncall": "+15550101"},
    "llm": {},
    # Verification secrets apart from API tokens, as in the stack (docs/security.md).
    "webhook": {"pagerduty_webhook_secrets": ["local-pagerduty-webhook-secret"],
                "slack_signing_secret": "local-slack-signing-secret"},
    "kubernetes": {},
}
LOCAL_INSECURE_SOURCES = ("cloudwatch", "cloudwatch-sns", "alertmanager", "grafana", "datadog", "opsgenie",
                          "generic", "changes")
"""The embedded backend is a development deployment: scenarios carry unsigned bodies (a scenario
never holds secrets), so these sources are opened by name, exactly as `insecure_sources` does in a
dev stage. PagerDuty stays signed (replay signs it). Security tests pass `insecure_sources=()`."""
LOCAL_SLACK_TEAM = "T0LOCAL"
LOCAL_APPROVER = "U0LOCAL"
LOCAL_CONTROLS_PATH = "/sre-copilot/local/controls"


def local_controls() -> Any:
    """The local deployment's run-time controls: kill switch off, the simulated on-call an approver."""
    from sre_copilot.runtime_settings import ApproverRule, Approvers, RuntimeControls

    return RuntimeControls(approvers=Approvers(slack_team_id=LOCAL_SLACK_TEAM, rules=[
        ApproverRule(services=["*"], max_risk="critical", slack_users=[LOCAL_APPROVER])]))


@dataclass
class Responders:
    """The simulated people: the on-call who answers the phone and whoever approves actions."""

    ack_pages_after_s: float | None = 90.0
    approve: str = "none"  # none | all | reject (every approval request is answered with Reject)
    approve_after_s: float = 120.0


@dataclass
class _Timer:
    due: datetime
    name: str
    run: Callable[[], None]


@dataclass
class LocalDeployment:
    start: datetime
    responders: Responders = field(default_factory=Responders)
    tenant_id: str = "default"
    quiet: bool = True
    backend: str = "moto"
    """Where the table, bucket and queues live: `moto`, or `memory` (adapters/memory; everything
    else, the state machine included, stays on moto)."""
    insecure_sources: tuple[str, ...] = LOCAL_INSECURE_SOURCES
    secrets: dict[str, dict[str, Any]] | None = None
    """Secret values instead of LOCAL_SECRETS (security tests deploy them as the stack does: {})."""
    controls: Any = None
    """RuntimeControls written to (moto) SSM at deploy; None: `local_controls()`."""
    llm_provider: str = "none"
    """`anthropic` with an `llm` secret whose base_url is a local Messages API server (tests)."""
    llm_secret: dict[str, Any] | None = None
    """The `llm` secret beside LOCAL_SECRETS (api_key, base_url, model, max_retries): `eval --llm`."""
    confidence_calibration: str = ""
    """JSON calibration record the functions score with (cdk.json confidence_calibration); "": identity."""
    context: dict[str, Any] = field(default_factory=dict)
    """cdk.json context values to deploy with instead, as `cdk deploy -c key=value` would."""

    def __post_init__(self) -> None:
        self.config = deployment_config(self.context)
        self.queue_routes: tuple[QueueRoute, ...] = tuple(self.config.queue_routes())
        """The priority queues and how correlate consumes them, as deployed."""
        self.clock = SimClock(self.start)
        self.lambdas = InProcessLambdas()
        self._moved = threading.Condition()
        self.executions = ExecutionActivity(self._moved)
        self._stack = ExitStack()
        self._fast_moto = False  # the moto speed patches apply (set on entry)
        self._async_events: list[tuple[str, dict[str, Any]]] = []
        self._timers: list[_Timer] = []
        self._first_seen: dict[str, datetime] = {}
        self._buffers: dict[str, dict[str, dict[str, Any]]] = {}
        self._notified: set[str] = set()
        self._dirty: set[str] = set()
        self._answered: set[str] = set()
        self._next_sweep = self.start
        self.queue_urls: dict[str, str] = {}
        self.dlq_urls: dict[str, str] = {}
        self.function_arns: dict[str, str] = {}
        self.state_machine_arn = ""
        self.analysis_state_machine_arn = ""
        self.dead_letters: list[dict[str, Any]] = []
        self._listed_analyses: tuple[int, list[tuple[str, str]]] | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> LocalDeployment:
        import warnings

        from moto import mock_aws

        self._saved_env = dict(os.environ)
        import logging

        # moto logs every failed execution at ERROR; failures are reported through our own audit.
        logging.getLogger("moto").setLevel(logging.CRITICAL)
        self._stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        # Handlers print EMF metric lines as Lambda does; keep them out of the CLI's output.
        self.emf = self._stack.enter_context(_EmfCapture())
        os.environ.update(_base_environment(self.quiet))
        # The functions' logger was built at import, before this environment: give it this level.
        from sre_copilot.services.observability import logger as function_logger

        self._stack.callback(function_logger.setLevel, function_logger.log_level)
        function_logger.setLevel(os.environ["POWERTOOLS_LOG_LEVEL"])
        self._stack.enter_context(_fewer_collections())
        self._stack.enter_context(mock_aws(config=MOTO_CONFIG))  # type: ignore[call-overload]
        self._stack.enter_context(in_process_lambda(self.lambdas))
        self._stack.enter_context(executions_in_turn(self.executions))
        self._fast_moto = self._stack.enter_context(moto_speedups())
        self._stack.enter_context(derived_task_tokens())  # replays get the same history, token and all
        self._stack.enter_context(eventbridge_lambda_targets(lambda fn, ev: self._async_events.append((fn, ev))))
        from sre_copilot.local.k8s_api import LocalKubernetesApi
        from sre_copilot.local.sinks import LocalSinks

        self.sinks = self._stack.enter_context(LocalSinks())
        self.k8s = LocalKubernetesApi()
        self._stack.enter_context(self.k8s)
        self._create_resources()
        from sre_copilot.ports.clock import SystemClock, use_clock

        use_clock(self.clock)
        self._stack.callback(use_clock, SystemClock())
        return self

    def __exit__(self, *exc: object) -> None:
        from sre_copilot.services.container import set_container
        from sre_copilot.settings import reset_settings

        try:
            # An execution started by a direct service call may still be moving in its own thread.
            # Left running past the close, it would call the next deployment's moto patches and
            # take a turn from that deployment's baton, which then waits forever. So the mock
            # closes only once every execution has parked or ended.
            try:
                self._wait_workflows(time.monotonic() + 120.0)
            except TimeoutError:
                if exc[0] is None:
                    raise
            self._stack.close()
        finally:
            set_container(None)
            os.environ.clear()
            os.environ.update(self._saved_env)
            reset_settings()

    # -- resources (what infra_cdk deploys, named the same way) ----------------------------------
    def _create_resources(self) -> None:
        import boto3

        self.session = boto3.session.Session(region_name=REGION)
        ddb, s3, sqs, firehose = self._storage_clients()
        self._s3 = s3
        from sre_copilot.adapters.dynamodb_store import table_definition

        ddb.create_table(**table_definition("sre-copilot"))
        from sre_copilot.services.audit_export import audit_table_definition

        ddb.create_table(**audit_table_definition("sre-copilot-audit"))
        ddb.create_table(TableName="sre-copilot-idempotency", BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
        s3.create_bucket(Bucket="sre-copilot-artifacts")
        self._create_raw_archive(firehose)
        self._sqs = sqs
        for spec in self.queue_routes:
            name = f"sre-copilot-{spec.priority.lower()}"
            dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            # DelaySeconds and batching windows are applied in simulated time by the poller below.
            self.queue_urls[spec.priority] = sqs.create_queue(QueueName=name, Attributes={
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                             "maxReceiveCount": str(spec.max_receive_count)}),
                "VisibilityTimeout": "60"})["QueueUrl"]
            self.dlq_urls[spec.priority] = dlq
        self.review_queue_url = sqs.create_queue(QueueName="sre-copilot-review")["QueueUrl"]
        events = self.session.client("events")
        events.create_event_bus(Name="sre-copilot")
        secrets = self.session.client("secretsmanager")
        # Slack's fallback channels when Slack is down: Teams (the local sink) and email (SES in moto).
        local_secrets = {**LOCAL_SECRETS, "slack": {**LOCAL_SECRETS["slack"], "fallback": {
            "teams_webhook_url": self.sinks.teams_webhook_url, "email_to": ["oncall@example.com"]}}}
        self.session.client("ses").verify_email_identity(EmailAddress="copilot@example.com")
        if self.llm_secret is not None:
            local_secrets["llm"] = dict(self.llm_secret)
        secret_values = local_secrets if self.secrets is None else self.secrets
        secret_arns = {name: secrets.create_secret(Name=f"sre-copilot/{name}", SecretString=json.dumps(value))["ARN"]
                       for name, value in secret_values.items()}
        iam = self.session.client("iam")
        role = iam.create_role(RoleName="sre-copilot-local", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        environment = self._function_environment(secret_arns)
        os.environ.update(environment)
        from sre_copilot.settings import get_settings, reset_settings

        reset_settings()
        from sre_copilot.runtime_settings import write_controls

        write_controls(get_settings(), self.controls if self.controls is not None else local_controls(),
                       self.session.client("ssm"))
        lam = self.session.client("lambda")
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("handler.py", "# code runs in-process locally\n")
        for name in (*ASL_FUNCTIONS.values(), *ESCALATION_FUNCTIONS.values(), *OTHER_FUNCTIONS):
            self.function_arns[name] = lam.create_function(
                FunctionName=name, Runtime="python3.13", Role=role, Handler="handler.handler",
                Code={"ZipFile": package.getvalue()}, Architectures=["arm64"], Timeout=60,
                Environment={"Variables": environment})["FunctionArn"]
            self.lambdas.register(name, _load_handler(name).handler)
        for route in BUS_ROUTES:
            events.put_rule(Name=route.name, EventBusName="sre-copilot",
                            EventPattern=json.dumps({"detail-type": [route.detail_type]}))
            events.put_targets(Rule=route.name, EventBusName="sre-copilot",
                               Targets=[{"Id": route.name, "Arn": self.function_arns[route.function]}])
        sfn = self._sfn = self.session.client("stepfunctions")
        # The analysis pass first: the incident workflow's definition names its ARN.
        self.analysis_state_machine_arn = sfn.create_state_machine(
            name="sre-copilot-analysis", definition=substitute(ANALYSIS_ASL_PATH.read_text(), self.function_arns),
            roleArn=role, type="EXPRESS")["stateMachineArn"]
        os.environ["SRE_COPILOT_ANALYSIS_STATE_MACHINE_ARN"] = self.analysis_state_machine_arn
        definition = substitute(ASL_PATH.read_text(), self.function_arns,
                                {"Analysis": self.analysis_state_machine_arn})
        self.state_machine_arn = sfn.create_state_machine(name="sre-copilot-incident", definition=definition,
                                                          roleArn=role, type="STANDARD")["stateMachineArn"]
        os.environ["SRE_COPILOT_STATE_MACHINE_ARN"] = self.state_machine_arn
        self.escalation_state_machine_arn = sfn.create_state_machine(
            name="sre-copilot-escalation", definition=substitute(ESCALATION_ASL_PATH.read_text(), self.function_arns),
            roleArn=role, type="STANDARD")["stateMachineArn"]
        os.environ["SRE_COPILOT_ESCALATION_STATE_MACHINE_ARN"] = self.escalation_state_machine_arn
        reset_settings()
        from sre_copilot.services.container import Container, set_container

        self.container = Container()
        set_container(self.container)
        self._track_workflows()

    def _create_raw_archive(self, firehose: Any) -> None:
        """The Firehose stream ingest archives raw deliveries to, as deployed (each record is
        written at once to the artifact bucket: moto's, or the memory backend's)."""
        firehose.create_delivery_stream(
            DeliveryStreamName=RAW_ARCHIVE_STREAM, DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/sre-copilot-raw-archive",
                "BucketARN": "arn:aws:s3:::sre-copilot-artifacts", "Prefix": "raw/",
                "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 5}})

    def _storage_clients(self) -> tuple[Any, Any, Any, Any]:
        """DynamoDB, S3, SQS and Firehose clients of the chosen backend (a fresh in-memory AWS per
        deployment)."""
        if self.backend == "memory":
            from sre_copilot.adapters import aws_clients

            aws_clients.clear_clients()
            self._stack.callback(aws_clients.clear_clients)
            memory = aws_clients.memory_backend()
            return memory.dynamodb, memory.s3, memory.sqs, memory.firehose
        if self.backend != "moto":
            raise ValueError(f"unknown backend {self.backend!r}; use moto or memory")
        return tuple(self.session.client(s) for s in ("dynamodb", "s3", "sqs", "firehose"))  # type: ignore[return-value]

    def _function_environment(self, secret_arns: dict[str, str]) -> dict[str, str]:
        env = {
            "SRE_COPILOT_STORE_BACKEND": "memory" if self.backend == "memory" else "aws",
            "SRE_COPILOT_TENANT_ID": self.tenant_id,
            "SRE_COPILOT_TABLE_NAME": "sre-copilot",
            "SRE_COPILOT_AUDIT_TABLE_NAME": "sre-copilot-audit",
            "SRE_COPILOT_IDEMPOTENCY_TABLE_NAME": "sre-copilot-idempotency",
            "SRE_COPILOT_BUCKET_NAME": "sre-copilot-artifacts",
            "SRE_COPILOT_RAW_ARCHIVE_STREAM": RAW_ARCHIVE_STREAM,
            "SRE_COPILOT_EVENT_BUS_NAME": "sre-copilot",
            "SRE_COPILOT_REVIEW_QUEUE_URL": self.review_queue_url,
            "SRE_COPILOT_SLACK_API_URL": self.sinks.slack_base_url,
            "SRE_COPILOT_TWILIO_API_URL": self.sinks.twilio_base_url,
            "SRE_COPILOT_PAGERDUTY_API_URL": self.sinks.pagerduty_base_url,
            "SRE_COPILOT_KUBERNETES_API_URL": self.k8s.base_url,
            "SRE_COPILOT_PUBLIC_BASE_URL": LOCAL_API,
            "SRE_COPILOT_EMAIL_FROM": "copilot@example.com",
            "SRE_COPILOT_DRY_RUN": "false",
            "SRE_COPILOT_LLM_PROVIDER": self.llm_provider,
            "SRE_COPILOT_AWS_USER_AGENT": "sre-copilot-embedded",
            "SRE_COPILOT_AWS_UNSIGNED_SERVICES": "dynamodb,sqs,stepfunctions,events,cloudwatch",
            "SRE_COPILOT_INSECURE_SOURCES": ",".join(self.insecure_sources),
            "SRE_COPILOT_CONTROLS_PATH": LOCAL_CONTROLS_PATH,
            "SRE_COPILOT_CONFIDENCE_CALIBRATION": self.confidence_calibration,
            **behaviour_settings(self.config),
        }
        env.update({f"SRE_COPILOT_QUEUE_URL_{p}": url for p, url in self.queue_urls.items()})
        env.update({f"SRE_COPILOT_{name.upper()}_SECRET_ARN": arn for name, arn in secret_arns.items()})
        return env

    # -- inputs ---------------------------------------------------------------------------------
    def http(self, method: str, path: str, body: bytes, headers: dict[str, str] | None = None,
             query: str = "") -> tuple[int, dict[str, Any] | str]:
        """Deliver an HTTP request as API Gateway (HTTP API, payload v2) would to the function."""
        function = "callbacks" if path.startswith("/callbacks/") else "ingest"
        event = {
            "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": query,
            "headers": {k.lower(): v for k, v in (headers or {}).items()},
            "queryStringParameters": dict(p.split("=", 1) for p in query.split("&") if "=" in p) or None,
            "requestContext": {"http": {"method": method, "path": path, "sourceIp": "127.0.0.1",
                                        "protocol": "HTTP/1.1", "userAgent": "sre-copilot-replay"},
                               "requestId": f"req-{self.lambdas.invocations}", "stage": "$default",
                               "timeEpoch": int(self.clock.now().timestamp() * 1000)},
            "body": base64.b64encode(body).decode(), "isBase64Encoded": True,
        }
        with self.executions.turn():
            raw, errored, _ = self.lambdas.invoke(function, event)
        if errored:
            return 500, {"error": json.loads(raw).get("errorMessage", "function error")}
        response = json.loads(raw)
        text = response.get("body") or ""
        if response.get("isBase64Encoded"):
            text = base64.b64decode(text).decode()
        try:
            return int(response["statusCode"]), json.loads(text)
        except ValueError:
            return int(response["statusCode"]), text

    def put_catalog(self, catalog: dict[str, Any]) -> None:
        self.container.blobs.put_json(f"catalog/{self.tenant_id}.json", catalog)
        self.container._catalog = None
        self.k8s.seed(catalog)

    # -- the event loop ---------------------------------------------------------------------------
    def advance_to(self, at: datetime) -> None:
        """Move simulated time to `at`, firing everything that falls due on the way."""
        while True:
            due = [t.due for t in self._timers] + [self._next_sweep]
            nxt = min([d for d in due if d <= at], default=None)
            if nxt is None:
                break
            self.clock.set(max(nxt, self.clock.now()))
            self.settle()
            if self.clock.now() >= self._next_sweep:
                self._sweep()
        self.clock.set(at)
        self.settle()

    def settle(self, timeout_s: float = 600.0) -> None:
        """Run event sources and timers at the current simulated time until nothing moves.

        `timeout_s` is wall time and only catches a hang: on a loaded 2-core machine one simulated
        instant of a busy scenario (two executions, paging and the sweeper) has taken over 120 s."""
        deadline = time.monotonic() + timeout_s
        turn = self.executions.turn  # one thing moves at a time, in order (see ExecutionActivity)
        while time.monotonic() < deadline:
            with turn():
                moved = self._run_timers()
            with turn():
                moved |= self._poll_queues()
            with turn():
                moved |= self._deliver_events()
            self._wait_workflows(deadline)
            with turn():
                moved |= self._answer_people()
            with turn():
                moved |= self._deliver_events()
            if not moved and self._workflows_idle():
                return
        raise TimeoutError("the local deployment did not settle; see LocalDeployment.lambdas.errors")

    def _sweep(self) -> None:
        with self.executions.turn():
            self.lambdas.invoke("approval_sweeper", {"source": "aws.events", "detail-type": "Scheduled Event",
                                                     "time": self.clock.now().isoformat()})
        self._next_sweep = self.clock.now() + timedelta(seconds=60)
        self.settle()

    def _run_timers(self) -> bool:
        now = self.clock.now()
        due = [t for t in self._timers if t.due <= now]
        self._timers = [t for t in self._timers if t.due > now]
        for timer in sorted(due, key=lambda t: t.due):
            timer.run()
        return bool(due)

    def _poll_queues(self) -> bool:
        """Lambda's SQS poller: receive into a buffer (hidden from other consumers), honour the
        queue's delivery delay and the mapping's batching window in simulated time, then invoke."""
        sqs = self._sqs
        moved = False
        now = self.clock.now()
        for spec in self.queue_routes:
            url = self.queue_urls[spec.priority]
            buffer = self._buffers.setdefault(spec.priority, {})
            # Receive only from queues something was sent to (or returned to) since the last poll;
            # what is already buffered waits for its delay or batching window without SQS calls.
            if spec.priority not in self._dirty and not buffer:
                continue
            while spec.priority in self._dirty:
                self._dirty.discard(spec.priority)
                while True:
                    page = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=43200,
                                               AttributeNames=["All"]).get("Messages", [])
                    if not page:
                        break
                    for message in page:
                        m: dict[str, Any] = dict(message)
                        self._first_seen.setdefault(m["MessageId"], now)
                        buffer[m["MessageId"]] = m
                    if len(page) < 10:
                        break  # moto answers with every visible message up to the limit: nothing is left
            eligible = [m for m in buffer.values()
                        if self._first_seen[m["MessageId"]] + timedelta(seconds=spec.delivery_delay_s) <= now]
            later = [self._first_seen[m["MessageId"]] + timedelta(seconds=spec.delivery_delay_s)
                     for m in buffer.values() if m not in eligible]
            if later:
                self._wake_at(min(later))
            if not eligible:
                continue
            oldest = min(self._first_seen[m["MessageId"]] + timedelta(seconds=spec.delivery_delay_s) for m in eligible)
            window_ends = oldest + timedelta(seconds=spec.batching_window_s)
            if len(eligible) < spec.batch_size and window_ends > now:
                self._wake_at(window_ends)
                continue
            eligible.sort(key=lambda m: json.loads(m["Body"]).get("event_time", ""))
            for i in range(0, len(eligible), spec.batch_size):
                batch = eligible[i:i + spec.batch_size]
                for done in batch:
                    buffer.pop(done["MessageId"], None)
                moved |= self._invoke_correlate(url, spec, batch)
        return moved

    def _wake_at(self, due: datetime) -> None:
        if not any(t.due == due and t.name == "poller" for t in self._timers):
            self._timers.append(_Timer(due, "poller", lambda: None))

    def _invoke_correlate(self, url: str, spec: QueueRoute, batch: list[dict[str, Any]]) -> bool:
        sqs = self._sqs
        records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                    "attributes": m.get("Attributes", {}), "messageAttributes": {},
                    "eventSource": "aws:sqs", "awsRegion": REGION,
                    "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:sre-copilot-{spec.priority.lower()}"}
                   for m in batch]
        raw, errored, _ = self.lambdas.invoke("correlate", {"Records": records})
        failed = ({m["MessageId"] for m in batch} if errored
                  else {f["itemIdentifier"] for f in json.loads(raw).get("batchItemFailures", [])})
        for m in batch:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            else:
                # Back to the queue; SQS redrives it to the DLQ once it exceeds maxReceiveCount.
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
                self._first_seen.pop(m["MessageId"], None)
                self._dirty.add(spec.priority)
        if failed:
            self._collect_dead_letters(spec)
        return True

    def _collect_dead_letters(self, spec: QueueRoute) -> None:
        sqs = self._sqs
        for m in sqs.receive_message(QueueUrl=self.dlq_urls[spec.priority], MaxNumberOfMessages=10,
                                     VisibilityTimeout=3600).get("Messages", []):
            self.dead_letters.append({"queue": f"{spec.priority}-dlq", "body": json.loads(m["Body"])})

    def _deliver_events(self) -> bool:
        moved = False
        while self._async_events:
            function, event = self._async_events.pop(0)
            self.lambdas.invoke(function, event)
            moved = True
        return moved

    def _track_workflows(self) -> None:
        """Know which incidents may have new asks for the simulated people (their Notify step or
        paging execution ran) and which queues were sent to, without asking the services. Whether
        executions are moving is counted in moto itself (`executions_in_turn`)."""
        def on_return(function: str, event: Any) -> None:
            try:
                incident_id = event.get("incident_id") if isinstance(event, dict) else None
                if incident_id and function in ("notify", "escalation_page", "escalation_next"):
                    self._notified.add(incident_id)
            finally:
                with self._moved:
                    self._moved.notify_all()

        queue = self.container.queue
        enqueue, enqueue_all = queue.enqueue, queue.enqueue_all

        def enqueue_signal(priority: Any, message: dict[str, Any], dedup_id: str) -> None:
            enqueue(priority, message, dedup_id)
            self._dirty.add(str(getattr(priority, "value", priority)))

        def enqueue_signals(messages: Any) -> None:
            enqueue_all(messages)
            self._dirty.update(str(getattr(priority, "value", priority)) for priority, _m, _d in messages)

        queue.enqueue = enqueue_signal  # type: ignore[method-assign]
        queue.enqueue_all = enqueue_signals  # type: ignore[method-assign]
        self.lambdas.on_return = on_return

    def _workflows_idle(self) -> bool:
        return self.lambdas.in_flight == 0 and self.executions.busy == 0

    def _wait_workflows(self, deadline: float) -> None:
        # Woken by every handler return (see on_return) rather than polling on a timer.
        with self._moved:
            while not self._workflows_idle():
                if time.monotonic() >= deadline:
                    raise TimeoutError("a workflow execution did not reach a waiting state in time")
                self._moved.wait(timeout=0.05)

    # -- simulated people -------------------------------------------------------------------------
    def _answer_people(self) -> bool:
        # Only the incidents whose Notify step ran since the last look can have new asks.
        notified, self._notified = self._notified, set()
        store = self.container.store
        moved = False
        for incident_id in sorted(notified):
            for n in store.notifications_for(self.tenant_id, incident_id):
                if n.id in self._answered or n.status != "sent":
                    continue
                if n.channel.value == "phone" and n.kind.value == "page" and self.responders.ack_pages_after_s is not None:
                    self._answered.add(n.id)
                    self._schedule(self.responders.ack_pages_after_s, f"keypress {incident_id}",
                                   _bind(self._press_key, incident_id, n.provider_id or "", n.target))
                    moved = True
                if n.kind.value == "approval_request" and self.responders.approve in ("all", "reject"):
                    self._answered.add(n.id)
                    for plan in store.actions_for(self.tenant_id, incident_id):
                        if plan.approval.value == "pending":
                            self._schedule(self.responders.approve_after_s, f"{self.responders.approve} {plan.id}",
                                           _bind(self._click_approve, incident_id, plan.id,
                                                 self.responders.approve == "all"))
                    moved = True
        return moved

    def _schedule(self, after_s: float, name: str, run: Callable[[], None]) -> None:
        self._timers.append(_Timer(self.clock.now() + timedelta(seconds=after_s), name, run))

    def _press_key(self, incident_id: str, call_sid: str, to: str) -> None:
        from twilio.request_validator import RequestValidator

        path, query = "/callbacks/twilio/voice", f"incident={incident_id}"
        params = {"CallSid": call_sid, "Digits": "1", "To": to, "From": LOCAL_SECRETS["twilio"]["from_number"]}
        url = f"{LOCAL_API}{path}?{query}"
        signature = RequestValidator(LOCAL_SECRETS["twilio"]["auth_token"]).compute_signature(url, params)
        self.http("POST", path, urlencode(params).encode(), {"X-Twilio-Signature": signature,
                                                              "Content-Type": "application/x-www-form-urlencoded"},
                  query=query)

    def _click_approve(self, incident_id: str, plan_id: str, approved: bool = True) -> None:
        from slack_sdk.signature import SignatureVerifier

        payload = {"type": "block_actions", "user": {"id": LOCAL_APPROVER, "username": "oncall"},
                   "team": {"id": LOCAL_SLACK_TEAM},
                   "actions": [{"action_id": "approve" if approved else "reject",
                                "value": f"{incident_id}|{plan_id}"}]}
        body = urlencode({"payload": json.dumps(payload)}).encode()
        timestamp = str(int(self.clock.now().timestamp()))
        signature = SignatureVerifier(LOCAL_SECRETS["slack"]["signing_secret"]).generate_signature(
            timestamp=timestamp, body=body.decode()) or ""
        self.http("POST", "/callbacks/slack/interactions", body, {
            "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded"})

    # -- reading back ------------------------------------------------------------------------------
    def raw_archive_records(self) -> list[dict[str, Any]]:
        """Every record the raw-archive stream wrote under `raw/` (one JSON line per delivery)."""
        s3 = self._s3
        records = []
        for item in s3.list_objects_v2(Bucket="sre-copilot-artifacts", Prefix="raw/").get("Contents", []):
            data = s3.get_object(Bucket="sre-copilot-artifacts", Key=item["Key"])["Body"].read()
            records += [json.loads(line) for line in data.splitlines() if line.strip()]
        return records

    def execution_status(self, execution_arn: str) -> str:
        """The execution's status as Step Functions reports it (RUNNING while it waits for approval
        or resolution): a replay result's `execution_status`."""
        return str(self._sfn.describe_execution(executionArn=execution_arn)["status"])

    def execution_history(self, execution_arn: str) -> list[dict[str, Any]]:
        read = backend_execution_history(execution_arn, ACCOUNT, REGION) if self._fast_moto else None
        events: list[dict[str, Any]] = read if read is not None else self._history_by_api(execution_arn)
        events = self._with_reanalyses(execution_arn, self._with_children(events))
        for event in events:
            event["simulatedTimestamp"] = self.clock.simulated(event["timestamp"])
        return events

    REANALYSIS = "Reanalyse"
    """The `parentState` of a re-analysis pass's states: its own execution, beside the parked workflow."""

    def _with_reanalyses(self, execution_arn: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The events, with the states of the re-analysis passes started for this incident
        (`services/reanalysis.py`: Express executions named `<incident>-r<time>`) placed where
        they ran, by time, each marked with `parentState` Reanalyse."""
        from sre_copilot.services.reanalysis import pass_name_prefix

        incident_executions = self.state_machine_arn.replace(":stateMachine:", ":execution:") + ":"
        if not execution_arn.startswith(incident_executions):
            return events
        prefix = pass_name_prefix(execution_arn.removeprefix(incident_executions))
        passes = [arn for name, arn in self._analysis_executions() if name.startswith(prefix)]
        if not passes:
            return events
        added = [{**event, "parentState": self.REANALYSIS} for arn in passes for event in self.execution_history(arn)
                 if not str(event.get("type", "")).startswith("Execution")]
        # Stable: an event of the workflow and one of a pass at the same instant keep that order.
        return sorted([*events, *added], key=lambda event: event["timestamp"])

    def _analysis_executions(self) -> list[tuple[str, str]]:
        """The analysis machine's executions (name, ARN), listed once for as long as nothing moves:
        a replay's results read every incident's history, and listing per incident was 12 % of a
        storm replay."""
        if self._listed_analyses is None or self._listed_analyses[0] != self.executions.issued:
            listed = [(str(e["name"]), str(e["executionArn"]))
                      for page in self._sfn.get_paginator("list_executions").paginate(
                          stateMachineArn=self.analysis_state_machine_arn) for e in page["executions"]]
            self._listed_analyses = (self.executions.issued, listed)
        return self._listed_analyses[1]

    def _with_children(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The events, with each child execution's states (the Express analysis pass a
        `startExecution.waitForTaskToken` task ran) placed after the task that ran it, each marked with its
        parent state under `parentState`: the story of an incident reads as one execution, as the
        console shows it when you follow the task's link to the child."""
        out: list[dict[str, Any]] = []
        state = ""
        for event in events:
            out.append(event)
            entered = event.get("stateEnteredEventDetails")
            if entered:
                state = str(entered.get("name"))
            submitted = event.get("taskSubmittedEventDetails") or {}
            if submitted.get("resourceType") != "states" or not str(submitted.get("resource")).startswith(
                    "startExecution"):
                continue
            child = json.loads(submitted.get("output") or "{}").get("ExecutionArn")
            if not child:
                continue
            for child_event in self.execution_history(child):
                if not str(child_event.get("type", "")).startswith("Execution"):
                    out.append({**child_event, "parentState": child_event.get("parentState") or state})
        return out

    def _history_by_api(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn}
        while True:
            page = self._sfn.get_execution_history(**kwargs)
            events.extend(dict(e) for e in page.get("events", []))
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        return events


class _EmfCapture:
    """Route CloudWatch embedded-metric-format lines printed by handlers (from any thread) into
    `self.lines`, as CloudWatch Logs would receive them; everything else still reaches stdout."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._swallow_newline = False

    def __enter__(self) -> _EmfCapture:
        self._stdout = sys.stdout
        sys.stdout = self  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stdout = self._stdout

    def write(self, text: str) -> int:
        if text.startswith('{"_aws"'):
            self.lines.append(text)
            self._swallow_newline = True
            return len(text)
        if text == "\n" and self._swallow_newline:  # print() writes the line ending separately
            self._swallow_newline = False
            return 1
        self._swallow_newline = False
        return self._stdout.write(text)

    def flush(self) -> None:
        self._stdout.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stdout, name)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Every table, queue and execution history of the embedded deployment lives in this heap as
    Python objects, and the cyclic collector's default thresholds re-scan it thousands of times in
    a long replay (about 8 % of its time at 1,000 alerts). Young collections are made rarer, and
    what survives one is not re-scanned by a middle-generation pass every 50 of them (at 2,000
    alerts those passes took 0.6 s, for about 50 MB less peak memory). The default thresholds come
    back on exit."""
    import gc

    before = gc.get_threshold()
    gc.set_threshold(50_000, 1_000, 1_000)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _bind(fn: Callable[..., None], *args: Any) -> Callable[[], None]:
    return lambda: fn(*args)


def _load_handler(name: str) -> ModuleType:
    """Import functions/<name>/handler.py as Lambda would (each function is its own module)."""
    path = FUNCTIONS_DIR / name / "handler.py"
    spec = importlib.util.spec_from_file_location(f"sre_copilot_function_{name}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"function handler missing: {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _base_environment(quiet: bool) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local",
        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
        # Flexible checksums guard bytes on the wire; in-process there is no wire, and computing and
        # checking a CRC32 for every S3 object is a fifth of a local PutObject.
        "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required", "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
        "POWERTOOLS_SERVICE_NAME": "sre-copilot", "POWERTOOLS_METRICS_NAMESPACE": "SreCopilot",
        "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "false",
        "POWERTOOLS_LOG_LEVEL": "ERROR" if quiet else "INFO", "LOG_LEVEL": "ERROR" if quiet else "INFO",
        "POWERTOOLS_IDEMPOTENCY_DISABLED": "false",
    }
