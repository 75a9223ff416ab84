"""The synthesized template has every resource the product needs, configured as promised."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match
from infra_synth import Synthesized
from infra_synth import arn as _arn
from infra_synth import ref as _ref

from infra_cdk.config import FUNCTION_NAMES
from infra_cdk.constructs.api import WEBHOOK_SOURCES
from infra_cdk.constructs.layer import sdk_layers_for
from infra_cdk.constructs.workflow import ANALYSIS_STEPS, STEP_FUNCTIONS
from sre_copilot.settings import Settings

pytestmark = pytest.mark.infra


def _functions(s: Synthesized) -> dict[str, dict[str, Any]]:
    """function directory name -> Properties."""
    by_name = {}
    for resource in s.resources("AWS::Lambda::Function").values():
        props = resource["Properties"]
        by_name[props["FunctionName"].removeprefix("sre-copilot-prod-").replace("-", "_")] = props
    return by_name


# -- Lambda ------------------------------------------------------------------------------------
def test_given_the_app_then_there_is_one_function_per_handler_directory(synthesized: Synthesized) -> None:
    assert set(_functions(synthesized)) == set(FUNCTION_NAMES)
    synthesized.template.resource_count_is("AWS::Lambda::Function", len(FUNCTION_NAMES))


def test_every_function_runs_python312_on_arm64_with_tracing_layer_and_encrypted_env(synthesized: Synthesized) -> None:
    layer = _ref(synthesized.logical_id(synthesized.built.stack.shared_layer.layer))
    key = _arn(synthesized.logical_id(synthesized.built.stack.encryption.key))
    for name, props in _functions(synthesized).items():
        assert props["Runtime"] == "python3.13", name
        assert props["Architectures"] == ["arm64"], name
        assert props["Handler"] == "handler.handler", name
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        # The layers' files are disjoint (infra_cdk.layer_partition), so their order does not matter.
        shared = synthesized.built.stack.shared_layer
        spec, config = synthesized.built.stack.functions[name].spec, synthesized.built.config
        expected = [layer, *(_ref(synthesized.logical_id(shared.sdk_layers[sdk]))
                             for sdk in sdk_layers_for(spec, config))]
        assert sorted(props["Layers"], key=str) == sorted(expected, key=str), name
        assert props["KmsKeyArn"] == key, name
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == "sre-copilot"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "SreCopilot"
        assert env["LOG_LEVEL"] == "INFO"
        assert env["PYDANTIC_DISABLE_PLUGINS"] == "__all__", "no entry-point scan at cold start"
        assert "LogGroup" in props["LoggingConfig"], f"{name} must log to its explicit log group"


def test_every_sre_copilot_variable_is_a_settings_field(synthesized: Synthesized) -> None:
    for name, props in _functions(synthesized).items():
        for variable in props["Environment"]["Variables"]:
            if variable.startswith("SRE_COPILOT_"):
                field = variable.removeprefix("SRE_COPILOT_").lower()
                assert field in Settings.model_fields, f"{name}: {variable} is read by no Settings field"


def test_core_settings_reach_every_function(synthesized: Synthesized) -> None:
    stack = synthesized.built.stack
    table = _ref(synthesized.logical_id(stack.storage.table))
    bucket = _ref(synthesized.logical_id(stack.storage.bucket))
    for props in _functions(synthesized).values():
        env = props["Environment"]["Variables"]
        assert env["SRE_COPILOT_TABLE_NAME"] == table
        assert env["SRE_COPILOT_BUCKET_NAME"] == bucket
        assert env["SRE_COPILOT_TENANT_ID"] == "default"
        assert "SRE_COPILOT_EVENT_BUS_NAME" in env


def test_queue_urls_and_idempotency_table_go_to_ingest_only(synthesized: Synthesized) -> None:
    functions = _functions(synthesized)
    for name, props in functions.items():
        env = props["Environment"]["Variables"]
        has_queues = {f"SRE_COPILOT_QUEUE_URL_P{i}" for i in range(4)} <= set(env)
        # The anomaly detector hands its findings to ingestion in-process, as an IAM-trusted source.
        ingests = name in ("ingest", "anomaly_detector")
        assert has_queues == ingests, name
        assert ("SRE_COPILOT_IDEMPOTENCY_TABLE_NAME" in env) == ingests, name
    review_senders = {n for n, p in functions.items() if "SRE_COPILOT_REVIEW_QUEUE_URL" in p["Environment"]["Variables"]}
    assert review_senders == {"ingest", "record_failure", "anomaly_detector"}


def test_only_non_step_functions_know_the_state_machine_arn_and_it_is_built_from_its_name(
        synthesized: Synthesized) -> None:
    functions = _functions(synthesized)
    knowing = {n for n, p in functions.items() if "SRE_COPILOT_STATE_MACHINE_ARN" in p["Environment"]["Variables"]}
    # Notify (a step) starts paging and links the card to the execution; the paging functions and
    # the transition handler answer paging tokens. All get ARNs built from names, so no cycle.
    assert knowing == {"correlate", "callbacks", "approval_sweeper", "audit_export", "notify", "pagerduty_sync",
                       "escalation_page", "escalation_next"}
    assert knowing & set(STEP_FUNCTIONS.values()) == {"notify"}
    for name in knowing:
        arn = functions[name]["Environment"]["Variables"]["SRE_COPILOT_STATE_MACHINE_ARN"]
        assert "Fn::Join" in arn, "a Ref to the state machine would create a dependency cycle"
        assert arn["Fn::Join"][1][-1] == ":stateMachine:sre-copilot-prod-incident"


def test_functions_that_start_a_re_analysis_may_start_only_the_analysis_pass(synthesized: Synthesized) -> None:
    functions = _functions(synthesized)
    # Given the functions told the analysis pass's ARN (built from its name: no dependency cycle)
    knowing = {n for n, p in functions.items() if "SRE_COPILOT_ANALYSIS_STATE_MACHINE_ARN" in p["Environment"]["Variables"]}
    # Then they are the ones that hand a parked token to a re-analysis: the sweeper's refresh, a
    # hypothesis verdict's re-score, and a pass that saw more evidence arrive
    assert knowing == {"approval_sweeper", "callbacks", "await_decision"}
    for name in knowing:
        arn = functions[name]["Environment"]["Variables"]["SRE_COPILOT_ANALYSIS_STATE_MACHINE_ARN"]
        assert arn["Fn::Join"][1][-1] == ":stateMachine:sre-copilot-prod-analysis"
        # And each one's role may start executions of that machine
        role = functions[name]["Role"]["Fn::GetAtt"][0]
        statements = [st for policy in synthesized.resources("AWS::IAM::Policy").values()
                      if {"Ref": role} in policy["Properties"]["Roles"]
                      for st in policy["Properties"]["PolicyDocument"]["Statement"]]
        def listed(value: Any) -> list[Any]:
            return value if isinstance(value, list) else [value]

        assert any("states:StartExecution" in listed(st["Action"]) and arn in listed(st["Resource"])
                   for st in statements), name


def test_secret_arns_go_only_to_functions_that_use_them(synthesized: Synthesized) -> None:
    functions = _functions(synthesized)

    def holders(secret: str) -> set[str]:
        return {n for n, p in functions.items() if f"SRE_COPILOT_{secret}_SECRET_ARN" in p["Environment"]["Variables"]}

    # Rollback escalates to a human (Slack and a phone call) when a remediation did not recover.
    assert holders("SLACK") == {"notify", "document", "callbacks", "rollback", "approval_sweeper",
                                "pagerduty_sync", "escalation_page", "escalation_next"}
    assert holders("TWILIO") == {"notify", "callbacks", "rollback", "escalation_page", "escalation_next"}
    # Issue 13: the internet-facing functions get the verification secrets, never the PagerDuty API token.
    assert holders("PAGERDUTY") == {"notify", "pagerduty_sync"}
    assert holders("WEBHOOK") == {"ingest", "callbacks"}
    assert holders("LLM") == set(), "with llm_provider=bedrock no API key secret is handed out"
    assert functions["generate_hypotheses"]["Environment"]["Variables"]["SRE_COPILOT_LLM_PROVIDER"] == "bedrock"


def test_sre_ask_questions_reach_pagerduty_sync_and_callbacks_only_learns_whether_an_llm_is_configured(
        synthesized: Synthesized) -> None:
    functions = _functions(synthesized)
    # callbacks answers /sre ask within Slack's 3 s: it knows an LLM is configured, never its credentials
    assert functions["callbacks"]["Environment"]["Variables"]["SRE_COPILOT_LLM_PROVIDER"] == "bedrock"
    assert "SRE_COPILOT_LLM_SECRET_ARN" not in functions["callbacks"]["Environment"]["Variables"]
    assert functions["pagerduty_sync"]["Environment"]["Variables"]["SRE_COPILOT_LLM_PROVIDER"] == "bedrock"
    # and the question event goes from our bus to pagerduty_sync, which posts the LLM answer
    rules = [r["Properties"] for r in synthesized.resources("AWS::Events::Rule").values()
             if r["Properties"].get("EventPattern", {}).get("detail-type") == ["Slack Question Asked"]]
    [rule] = rules
    [target] = rule["Targets"]
    sync = synthesized.logical_id(synthesized.built.stack.functions["pagerduty_sync"].function)
    assert "EventBusName" in rule and target["Arn"] == _arn(sync)


def test_vector_index_users_get_the_collection_endpoint(synthesized: Synthesized) -> None:
    functions = _functions(synthesized)
    users = {n for n, p in functions.items() if "SRE_COPILOT_OPENSEARCH_ENDPOINT" in p["Environment"]["Variables"]}
    assert users == {"aggregate_evidence", "recommend", "document"}


def test_callback_urls_point_at_the_http_api(synthesized: Synthesized) -> None:
    api = synthesized.logical_id(synthesized.built.stack.api.api)
    for name in ("notify", "callbacks"):
        url = _functions(synthesized)[name]["Environment"]["Variables"]["SRE_COPILOT_PUBLIC_BASE_URL"]
        assert url == {"Fn::GetAtt": [api, "ApiEndpoint"]}


def test_only_the_action_steps_get_the_kubernetes_endpoint(synthesized: Synthesized) -> None:
    functions = _functions(synthesized)
    users = {n for n, p in functions.items() if "SRE_COPILOT_KUBERNETES_API_URL" in p["Environment"]["Variables"]}
    assert users == {"act", "verify", "rollback"}
    assert functions["act"]["Environment"]["Variables"]["SRE_COPILOT_KUBERNETES_API_URL"] == "https://k8s.example.internal"


def test_reserved_concurrency_comes_from_config(synthesized: Synthesized) -> None:
    functions = _functions(synthesized)
    assert functions["approval_sweeper"]["ReservedConcurrentExecutions"] == 1
    assert "ReservedConcurrentExecutions" not in functions["ingest"]


def test_http_facing_functions_answer_within_the_api_timeout(synthesized: Synthesized) -> None:
    functions = _functions(synthesized)
    assert functions["ingest"]["Timeout"] <= 29
    assert functions["callbacks"]["Timeout"] <= 29


def test_async_invoked_functions_send_failures_to_the_async_dlq(synthesized: Synthesized) -> None:
    dlq = _arn(synthesized.logical_id(synthesized.built.stack.queues.async_failures))
    configs = synthesized.resources("AWS::Lambda::EventInvokeConfig")
    targets = {c["Properties"]["FunctionName"]["Ref"] for c in configs.values()}
    stack = synthesized.built.stack
    assert targets == {synthesized.logical_id(stack.functions[n].function)
                       for n in ("ingest", "approval_sweeper", "pagerduty_sync", "audit_export",
                                 "anomaly_detector")}
    for config in configs.values():
        assert config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == dlq
        assert config["Properties"]["MaximumRetryAttempts"] == 2


def test_function_roles_carry_no_managed_policies(synthesized: Synthesized) -> None:
    for logical_id, role in synthesized.resources("AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], logical_id


def test_every_log_group_has_retention_and_the_stack_key(synthesized: Synthesized) -> None:
    key = _arn(synthesized.logical_id(synthesized.built.stack.encryption.key))
    groups = synthesized.resources("AWS::Logs::LogGroup")
    # + API access logs, the incident, analysis and paging state machines, the raw archive's delivery errors
    assert len(groups) == len(FUNCTION_NAMES) + 5
    for logical_id, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == 90, logical_id
        assert group["Properties"]["KmsKeyId"] == key, logical_id


def test_layer_targets_python312_arm64(synthesized: Synthesized) -> None:
    synthesized.template.has_resource_properties("AWS::Lambda::LayerVersion", {
        "CompatibleRuntimes": ["python3.13"], "CompatibleArchitectures": ["arm64"]})


# -- HTTP API ----------------------------------------------------------------------------------
def test_http_api_has_one_route_per_source_plus_changes_and_callbacks(synthesized: Synthesized) -> None:
    # The read API's /v1 routes sit behind the JWT authorizer (tests/infra/test_read_api.py).
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in synthesized.resources("AWS::ApiGatewayV2::Route").values()
              if " /v1/" not in r["Properties"]["RouteKey"]}
    expected = {f"POST /webhooks/{source}" for source in WEBHOOK_SOURCES} | {
        "POST /changes", "POST /callbacks/slack/interactions", "POST /callbacks/slack/commands",
        "POST /callbacks/twilio/voice"}
    assert set(routes) == expected
    assert len(WEBHOOK_SOURCES) == 8

    integrations = synthesized.resources("AWS::ApiGatewayV2::Integration")
    target_function = {
        logical_id: i["Properties"]["IntegrationUri"]["Fn::GetAtt"][0] for logical_id, i in integrations.items()}
    stack = synthesized.built.stack
    ingest = synthesized.logical_id(stack.functions["ingest"].function)
    callbacks = synthesized.logical_id(stack.functions["callbacks"].function)
    for key, props in routes.items():
        integration_id = props["Target"]["Fn::Join"][1][1]["Ref"]
        expected_function = callbacks if key.startswith("POST /callbacks/") else ingest
        assert target_function[integration_id] == expected_function, key


def test_http_api_stage_is_throttled_and_access_logged(synthesized: Synthesized) -> None:
    synthesized.template.has_resource_properties("AWS::ApiGatewayV2::Stage", {
        "StageName": "$default",
        "AutoDeploy": True,
        "DefaultRouteSettings": {"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100},
        "AccessLogSettings": {"DestinationArn": Match.any_value(), "Format": Match.string_like_regexp("requestId")},
    })


# -- queues ------------------------------------------------------------------------------------
def test_four_priority_queues_each_redrive_to_their_own_dlq(synthesized: Synthesized) -> None:
    queues = synthesized.resources("AWS::SQS::Queue")
    assert len(queues) == 4 + 4 + 3  # priority queues, their DLQs, review + async DLQ + workflow DLQ
    stack = synthesized.built.stack
    dlq_targets = set()
    for priority, pq in stack.queues.priority.items():
        props = queues[synthesized.logical_id(pq.queue)]["Properties"]
        redrive = props["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == 3, priority
        assert redrive["deadLetterTargetArn"] == _arn(synthesized.logical_id(pq.dlq)), priority
        assert props["VisibilityTimeout"] == 360
        assert props.get("DelaySeconds", 0) == (60 if priority == "P1" else 0), priority
        dlq_targets.add(synthesized.logical_id(pq.dlq))
    assert len(dlq_targets) == 4


def test_every_queue_is_kms_encrypted_and_denies_plain_http(synthesized: Synthesized) -> None:
    key = _arn(synthesized.logical_id(synthesized.built.stack.encryption.key))
    queues = synthesized.resources("AWS::SQS::Queue")
    for logical_id, queue in queues.items():
        assert queue["Properties"]["KmsMasterKeyId"] == key, logical_id
    secured: set[str] = set()
    for policy in synthesized.resources("AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                secured.update(q["Ref"] for q in policy["Properties"]["Queues"])
    assert secured == set(queues)


def test_correlate_consumes_the_priority_queues_with_seed_routing(synthesized: Synthesized) -> None:
    stack = synthesized.built.stack
    mappings = {m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]: m["Properties"]
                for m in synthesized.resources("AWS::Lambda::EventSourceMapping").values()}
    correlate = synthesized.logical_id(stack.functions["correlate"].function)
    assert len(mappings) == 4
    for priority, pq in stack.queues.priority.items():
        mapping = mappings[synthesized.logical_id(pq.queue)]
        assert mapping["FunctionName"] == _ref(correlate)
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        window = mapping.get("MaximumBatchingWindowInSeconds", 0)
        assert window == {"P0": 0, "P1": 10, "P2": 300, "P3": 300}[priority], priority
        # A windowed queue hands over up to 100 at once; P0, unwindowed, at most 10
        assert mapping.get("BatchSize", 10) == (10 if priority == "P0" else 100), priority
        assert ("ScalingConfig" in mapping) == (priority == "P3"), priority
    p3 = mappings[synthesized.logical_id(stack.queues.priority["P3"].queue)]
    assert p3["ScalingConfig"] == {"MaximumConcurrency": 2}


# -- workflow ----------------------------------------------------------------------------------
def test_state_machine_is_standard_traced_and_logs_everything(synthesized: Synthesized) -> None:
    log_group = synthesized.logical_id(synthesized.built.stack.workflow.log_group)
    synthesized.template.resource_count_is("AWS::StepFunctions::StateMachine", 3)  # incident, analysis, paging
    synthesized.template.has_resource_properties("AWS::StepFunctions::StateMachine", {
        "StateMachineName": "sre-copilot-prod-incident",
        "StateMachineType": "STANDARD",
        "TracingConfiguration": {"Enabled": True},
        "LoggingConfiguration": {"Level": "ERROR", "IncludeExecutionData": True,
                                 "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": _arn(log_group)}}]},
    })


def _invoked_by(synthesized: Synthesized, role_construct: Any) -> list[Any]:
    role = synthesized.logical_id(role_construct)
    invoked: list[Any] = []
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        if _ref(role) not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("lambda:") for a in actions):
                assert actions in (["lambda:InvokeFunction"], "lambda:InvokeFunction")
                invoked.extend(statement["Resource"])
    return invoked


def test_state_machine_roles_invoke_exactly_the_step_functions(synthesized: Synthesized) -> None:
    # Given the incident workflow's role and its analysis pass's role
    stack = synthesized.built.stack
    parent = _invoked_by(synthesized, stack.workflow.role)
    child = _invoked_by(synthesized, stack.workflow.analysis_role)
    # Then together they invoke exactly the workflow's step functions, each only its own ASL's; only
    # AwaitDecision's is both's (a pass parks the parent's token itself, the parent parks after Act)
    expected = [_arn(synthesized.logical_id(stack.functions[name].function)) for name in STEP_FUNCTIONS.values()]
    assert sorted(set(map(str, parent + child))) == sorted(set(map(str, expected)))
    await_decision = str(_arn(synthesized.logical_id(stack.functions["await_decision"].function)))
    assert set(map(str, parent)) & set(map(str, child)) == {await_decision}
    analysis = [_arn(synthesized.logical_id(stack.functions[name].function)) for name in ANALYSIS_STEPS.values()]
    assert sorted(map(str, child)) == sorted(map(str, analysis))


def test_failed_executions_are_routed_to_the_workflow_dlq(synthesized: Synthesized) -> None:
    stack = synthesized.built.stack
    synthesized.template.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
                         "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"],
                                    "stateMachineArn": [_ref(synthesized.logical_id(stack.workflow.state_machine))]}},
        "Targets": [Match.object_like({"Arn": _arn(synthesized.logical_id(stack.queues.workflow_dlq))})],
    })


# -- events ------------------------------------------------------------------------------------
def test_custom_bus_is_archived_and_lifecycle_events_reach_pagerduty_sync(synthesized: Synthesized) -> None:
    stack = synthesized.built.stack
    bus = synthesized.logical_id(stack.events.bus)
    synthesized.template.has_resource_properties("AWS::Events::EventBus", {"Name": "sre-copilot-prod"})
    synthesized.template.has_resource_properties("AWS::Events::Archive", {"SourceArn": _arn(bus)})
    synthesized.template.has_resource_properties("AWS::Events::Rule", {
        "EventBusName": _ref(bus),
        "EventPattern": {"detail-type": ["Incident Lifecycle Transition"]},
        "Targets": [Match.object_like({"Arn": _arn(synthesized.logical_id(stack.functions["pagerduty_sync"].function))})],
    })


def test_default_bus_alarm_and_deployment_events_reach_ingest(synthesized: Synthesized) -> None:
    ingest = _arn(synthesized.logical_id(synthesized.built.stack.functions["ingest"].function))
    synthesized.template.has_resource_properties("AWS::Events::Rule", {
        "EventBusName": Match.absent(),
        "EventPattern": {"source": ["aws.cloudwatch"],
                         "detail-type": Match.array_with(["CloudWatch Alarm State Change",
                                                          "CloudWatch Alarm Contributor State Change"])},
        "Targets": [Match.object_like({"Arn": ingest})],
    })
    synthesized.template.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {"source": ["aws.codedeploy", "aws.ecs"],
                         "detail-type": ["CodeDeploy Deployment State-change Notification",
                                         "ECS Deployment State Change"]},
        "Targets": [Match.object_like({"Arn": ingest})],
    })


def test_sweeper_runs_every_minute(synthesized: Synthesized) -> None:
    sweeper = _arn(synthesized.logical_id(synthesized.built.stack.functions["approval_sweeper"].function))
    synthesized.template.has_resource_properties("AWS::Events::Rule", {
        "ScheduleExpression": "rate(1 minute)", "Targets": [Match.object_like({"Arn": sweeper})]})


def test_sns_alarm_signals_reach_ingest(synthesized: Synthesized) -> None:
    stack = synthesized.built.stack
    synthesized.template.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "lambda",
        "TopicArn": _ref(synthesized.logical_id(stack.events.alarm_topic)),
        "Endpoint": _arn(synthesized.logical_id(stack.functions["ingest"].function)),
    })


# -- data --------------------------------------------------------------------------------------
def test_main_table_is_single_table_design_with_ttl_pitr_and_cmk(synthesized: Synthesized) -> None:
    key = _arn(synthesized.logical_id(synthesized.built.stack.encryption.key))
    synthesized.template.resource_count_is("AWS::DynamoDB::Table", 3)  # main, idempotency, audit
    synthesized.template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [Match.object_like({
            "IndexName": "gsi1",
            "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"}, {"AttributeName": "gsi1sk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"}}), Match.object_like({
            "IndexName": "gsi2",
            "KeySchema": [{"AttributeName": "gsi2pk", "KeyType": "HASH"}, {"AttributeName": "gsi2sk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": [
                "item_type", "tenant_id", "incident_id", "token", "plan_id", "deadline", "parked_at"]}})],
        "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": key},
    })


def test_idempotency_table_matches_powertools_layout(synthesized: Synthesized) -> None:
    synthesized.template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
    })


def test_artifact_bucket_is_encrypted_private_versioned_logged_and_tiered(synthesized: Synthesized) -> None:
    stack = synthesized.built.stack
    key = _arn(synthesized.logical_id(stack.encryption.key))
    synthesized.template.has_resource_properties("AWS::S3::Bucket", {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
            "BucketKeyEnabled": True}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "VersioningConfiguration": {"Status": "Enabled"},
        "LoggingConfiguration": {"DestinationBucketName": _ref(synthesized.logical_id(stack.storage.access_logs)),
                                 "LogFilePrefix": "artifacts/"},
        "LifecycleConfiguration": {"Rules": Match.array_with([Match.object_like({
            "Prefix": "raw/", "Status": "Enabled", "ExpirationInDays": 1095,
            "Transitions": [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30},
                            {"StorageClass": "GLACIER", "TransitionInDays": 365}]})])},
    })


def test_both_buckets_deny_plain_http(synthesized: Synthesized) -> None:
    secured: set[str] = set()
    for policy in synthesized.resources("AWS::S3::BucketPolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        if any(s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool") == {"aws:SecureTransport": "false"}
               for s in statements):
            secured.add(policy["Properties"]["Bucket"]["Ref"])
    assert secured == set(synthesized.resources("AWS::S3::Bucket"))


def test_vector_collection_is_vectorsearch_with_its_three_policies(synthesized: Synthesized) -> None:
    synthesized.template.has_resource_properties("AWS::OpenSearchServerless::Collection",
                                                 {"Name": "sre-copilot-prod", "Type": "VECTORSEARCH"})
    synthesized.template.has_resource_properties("AWS::OpenSearchServerless::SecurityPolicy",
                                                 {"Type": "encryption", "Name": "sre-copilot-prod-enc"})
    synthesized.template.has_resource_properties("AWS::OpenSearchServerless::SecurityPolicy",
                                                 {"Type": "network", "Name": "sre-copilot-prod-net"})
    synthesized.template.has_resource_properties("AWS::OpenSearchServerless::AccessPolicy",
                                                 {"Type": "data", "Name": "sre-copilot-prod-data"})


def test_secrets_exist_for_each_provider_and_use_the_stack_key(synthesized: Synthesized) -> None:
    key = _arn(synthesized.logical_id(synthesized.built.stack.encryption.key))
    secrets = synthesized.resources("AWS::SecretsManager::Secret")
    names = {s["Properties"]["Name"] for s in secrets.values()}
    assert names == {f"sre-copilot-prod/{n}" for n in ("slack", "twilio", "pagerduty", "llm", "webhook")}
    for secret in secrets.values():
        assert secret["Properties"]["KmsKeyId"] == key


def test_the_one_kms_key_rotates(synthesized: Synthesized) -> None:
    synthesized.template.resource_count_is("AWS::KMS::Key", 1)
    synthesized.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


# -- alarms ------------------------------------------------------------------------------------
def test_alarms_cover_every_dlq_every_queue_age_and_workflow_failures(synthesized: Synthesized) -> None:
    stack = synthesized.built.stack
    topic = _ref(synthesized.logical_id(stack.alarms.topic))
    # The Alarms construct's own alarms (Monitoring's, some on EMF metrics, are tested in test_monitoring.py).
    alarms = [synthesized.template_json["Resources"][synthesized.logical_id(a)] for a in stack.alarms.alarms]
    watched: dict[str, set[str]] = {}
    for alarm in alarms:
        props = alarm["Properties"]
        assert props["AlarmActions"] == [topic]
        dimensions = props.get("Dimensions", [])
        target = dimensions[0]["Value"]["Fn::GetAtt"][0] if dimensions and "Fn::GetAtt" in dimensions[0]["Value"] \
            else dimensions[0]["Value"]["Ref"] if dimensions else ""
        watched.setdefault(props["MetricName"], set()).add(target)
    dlqs = {synthesized.logical_id(q) for q in stack.queues.dead_letter_queues.values()}
    assert watched["ApproximateNumberOfMessagesVisible"] == dlqs
    assert len(dlqs) == 6
    assert watched["ApproximateAgeOfOldestMessage"] == {
        synthesized.logical_id(pq.queue) for pq in stack.queues.priority.values()}
    assert {"ExecutionsFailed", "ExecutionsTimedOut"} <= set(watched)
    synthesized.template.has_resource_properties("AWS::SNS::Subscription",
                                                 {"Protocol": "email", "Endpoint": "oncall@example.com"})


def test_outputs_give_operators_what_they_configure(synthesized: Synthesized) -> None:
    outputs = synthesized.template_json["Outputs"]
    assert {"ApiUrl", "StateMachineArn", "BucketName", "OpenSearchEndpoint", "SlackSecretName"} <= set(outputs)


def test_collection_access_policy_names_exactly_the_index_users(synthesized: Synthesized) -> None:
    stack = synthesized.built.stack
    policy = next(iter(synthesized.resources("AWS::OpenSearchServerless::AccessPolicy").values()))
    parts = policy["Properties"]["Policy"]["Fn::Join"][1]
    principals = {p["Fn::GetAtt"][0] for p in parts if isinstance(p, dict)}
    assert principals == {synthesized.logical_id(stack.functions[n].role)
                          for n in ("aggregate_evidence", "recommend", "document")}


def test_anomaly_detector_runs_every_five_minutes(synthesized: Synthesized) -> None:
    detector = _arn(synthesized.logical_id(synthesized.built.stack.functions["anomaly_detector"].function))
    synthesized.template.has_resource_properties("AWS::Events::Rule", {
        "ScheduleExpression": "rate(5 minutes)", "Targets": [Match.object_like({"Arn": detector})]})


def test_workflow_starters_may_describe_only_incident_executions(synthesized: Synthesized) -> None:
    # Resolution asks whether an incident's execution still runs before starting a documentation one.
    described = [(name, s) for name, p in synthesized.resources("AWS::IAM::Policy").items()
                 for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "states:DescribeExecution"]
    starters = {"Correlate", "ApprovalSweeper"}
    assert {next(s for s in starters if name.startswith(f"Functions{s}")) for name, _ in described} == starters
    for _, statement in described:
        assert ":execution:sre-copilot-prod-incident:*" in json.dumps(statement["Resource"])
